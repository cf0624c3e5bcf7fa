"""Regenerate `pricing/catalog.json` from the community price map.

    python -m pricing.build_catalog ../shared/reference/model-prices-litellm.json --checked 2026-11-27

Keeps the chat models of the providers in `pricing.community.KNOWN`, converts per-token prices to per-1M
exactly, stamps each entry with its provider's pricing page and the date given, and writes our format.
Re-running on the same input gives the same bytes (a test holds it to that).
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

from pricing.catalog import SHIPPED, CatalogModel, encode_file
from pricing.community import convert

# The date the shipped figures were read from the map (also the default stamp when rebuilding them).
CHECKED = "2026-11-27"


def build(source: Path, checked: str) -> list[CatalogModel]:
    data = json.loads(source.read_text(), parse_float=Decimal)
    return convert(data, checked=checked, only_known=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="community price map (JSON, USD per token)")
    parser.add_argument("--checked", default=CHECKED, help="date the figures were checked (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, default=SHIPPED)
    args = parser.parse_args(argv)
    datetime.date.fromisoformat(args.checked)
    models = build(args.source, args.checked)
    args.out.write_bytes(encode_file(models, generated_from=args.source.name))
    counts = Counter(m.provider for m in models)
    print(f"{len(models)} models from {len(counts)} providers -> {args.out}")
    for provider, count in sorted(counts.items()):
        print(f"  {provider:<12} {count:>4}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
