"""How long `tiergate report` takes on a large request log.

    python benchmarks/savings_report.py [--rows 100000] [--database-url URL]

Fills a fresh log (SQLite in a temp dir unless a URL is given) with synthetic rows shaped like the gateway's
(three tiers, four models, some cache hits and estimated costs), then times reading the rows, building the
report and rendering each format. Prints a table and writes benchmarks/results/savings_report.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
MODELS = [  # (model, tier, input, output per 1M)
    ("deepseek-v3", "simple", Decimal("0.27"), Decimal("1.10")),
    ("gpt-4o-mini", "simple", Decimal("0.15"), Decimal("0.60")),
    ("deepseek-r1", "reasoning", Decimal("0.55"), Decimal("2.19")),
    ("gpt-4o", "hard", Decimal("2.50"), Decimal("10.00")),
]


def synthetic_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=7)
    rows = []
    for i in range(count):
        model, tier, inp, out = MODELS[rng.choices(range(4), weights=(50, 10, 25, 15))[0]]
        prompt, completion = rng.randint(20, 4000), rng.randint(10, 1500)
        hit = rng.random() < 0.05
        cost = (prompt * inp + completion * out) / 1_000_000
        rows.append(
            {
                "id": f"bench-{i}",
                "created_at": start + timedelta(seconds=i * 604_800 / count),
                "key_id": f"key-{i % 5}",
                "tier": tier,
                "tier_source": "classifier",
                "difficulty": rng.random(),
                "reasoning": rng.random(),
                "model": model,
                "status": "ok" if rng.random() > 0.01 else "error",
                "http_status": 200,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "reasoning_tokens": completion // 2 if tier == "reasoning" else 0,
                "cost_usd": Decimal(0) if hit else cost,
                "cost_saved_usd": cost if hit else Decimal(0),
                "cost_estimated": rng.random() < 0.01,
                "cache_hit": hit,
                "latency_ms": rng.lognormvariate(6, 0.5),
                "streamed": rng.random() < 0.5,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    from pricing.cost import Price
    from pricing.html import render_html
    from pricing.logrows import fetch_rows
    from pricing.render import render_csv, render_json, render_table
    from pricing.report import build_report
    from router.log.schema import requests
    from router.log.store import make_engine, upgrade

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='tiergate-bench-')) / 'log.db'}"
    upgrade(url)
    engine = make_engine(url)
    rows = synthetic_rows(args.rows)
    with engine.begin() as connection:
        for i in range(0, len(rows), 10_000):
            connection.execute(requests.insert(), rows[i : i + 10_000])
    timings: dict[str, float] = {}

    def timed(name: str, action: Any) -> Any:
        started = time.perf_counter()
        result = action()
        timings[name] = time.perf_counter() - started
        return result

    logged = timed("read rows", lambda: fetch_rows(engine))
    price = Price.of("2.50", "10.00", "1.25")
    report = timed("build report", lambda: build_report(logged, "gpt-4o", price, "model"))
    for name, render in (
        ("table", render_table),
        ("json", render_json),
        ("csv", render_csv),
        ("html", render_html),
    ):
        timed(f"render {name}", lambda render=render: render(report))
    engine.dispose()
    print(f"savings report on {len(logged):,} rows ({engine.dialect.name})")
    print(f"{'step':<14} {'seconds':>9} {'rows/s':>12}")
    for name, seconds in timings.items():
        print(f"{name:<14} {seconds:>9.3f} {len(logged) / seconds if seconds else 0:>12,.0f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "savings_report.json"
    out.write_text(
        json.dumps(
            {
                "rows": len(logged),
                "dialect": engine.dialect.name,
                "seconds": timings,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "total_saved_usd": str(report.total.saved),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
