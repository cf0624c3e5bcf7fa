"""The model price catalog: a data file shipped with tiergate plus a user overlay.

`pricing/catalog.json` is tiergate's own format (`FORMAT`): one entry per model with prices in USD per 1M
tokens as decimal strings (never floats), limits, capabilities, the provider's public pricing page and the date
the figures were checked. `pricing/build_catalog.py` regenerates it from a community price map.

Users refresh prices without a release: `tiergate pricing import FILE` merges a file (ours or the community
format) into an overlay, `$TIERGATE_CATALOG` or else `$XDG_CONFIG_HOME/tiergate/catalog.json`
(`~/.config/tiergate/catalog.json`). Overlay entries replace shipped ones with the same `provider/model` key;
a gateway config's own model prices override both.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from pricing.cost import Price

FORMAT = "tiergate-catalog/1"
SHIPPED = Path(__file__).with_name("catalog.json")

# When a bare model name is offered by several providers, the maker's own API is the natural reading.
FIRST_PARTY: tuple[str, ...] = (
    "openai",
    "anthropic",
    "gemini",
    "deepseek",
    "mistral",
    "xai",
    "cohere",
    "moonshot",
    "zai",
    "ai21",
    "perplexity",
)


class CatalogError(Exception):
    """A catalog file cannot be read; the message names the file and the reason."""


class CatalogModel(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One model. Prices are USD per 1M tokens as decimal strings; `None` means "same as the base rate"."""

    provider: str
    model: str
    input: str
    output: str
    cached_input: str | None = None
    cache_write: str | None = None
    reasoning: str | None = None
    context_window: int | None = None
    max_output: int | None = None
    capabilities: list[str] = []
    source: str = ""
    checked: str = ""

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"

    @property
    def price(self) -> Price:
        return Price.of(self.input, self.output, self.cached_input, self.reasoning, self.cache_write)

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


class CatalogFile(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    models: list[CatalogModel]
    generated_from: str = ""


class Catalog:
    """Lookup by `provider/model` or, failing that, by bare model name (first-party provider preferred)."""

    def __init__(self, models: Iterable[CatalogModel]) -> None:
        self._by_key: dict[str, CatalogModel] = {}
        for model in models:
            self._by_key[model.key] = model
        self._by_name: dict[str, list[CatalogModel]] = {}
        for model in self._by_key.values():
            self._by_name.setdefault(model.model, []).append(model)

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[CatalogModel]:
        return iter(sorted(self._by_key.values(), key=lambda m: m.key))

    def providers(self) -> set[str]:
        return {m.provider for m in self._by_key.values()}

    def get(self, name: str) -> CatalogModel | None:
        exact = self._by_key.get(name)
        if exact is not None:
            return exact
        offered = self._by_name.get(name)
        if not offered:
            return None
        rank = {provider: i for i, provider in enumerate(FIRST_PARTY)}
        return min(offered, key=lambda m: (rank.get(m.provider, len(rank)), m.provider))

    def merged(self, overlay: Iterable[CatalogModel]) -> Catalog:
        return Catalog([*self._by_key.values(), *overlay])


def decimal_text(value: Decimal) -> str:
    """`Decimal('2.5000000')` -> `'2.5'`, never scientific notation."""
    text = format(value.normalize(), "f")
    return text


def encode_file(models: Iterable[CatalogModel], generated_from: str = "") -> bytes:
    ordered = sorted(models, key=lambda m: m.key)
    # One model per line: a price change is a one-line diff when the shipped file is reviewed.
    lines = [json.dumps(msgspec.to_builtins(m), ensure_ascii=False) for m in ordered]
    head = json.dumps({"format": FORMAT, "generated_from": generated_from})[:-1]
    return (head + ', "models": [\n' + ",\n".join(lines) + "\n]}\n").encode()


def parse_models(data: Any, source: str, checked: str) -> list[CatalogModel]:
    """Entries from a decoded JSON document in our format or the community one."""
    if isinstance(data, Mapping) and str(data.get("format", "")).startswith("tiergate-catalog/"):
        if data["format"] != FORMAT:
            raise CatalogError(f"{source}: unsupported catalog format {data['format']!r} (want {FORMAT})")
        try:
            return msgspec.convert(data, CatalogFile).models
        except msgspec.ValidationError as exc:
            raise CatalogError(f"{source}: {exc}") from None
    if isinstance(data, Mapping):
        from pricing.community import convert

        return convert(data, checked=checked)
    raise CatalogError(f"{source}: expected a JSON object (a tiergate catalog or a community price map)")


def read_models(path: Path, checked: str = "") -> list[CatalogModel]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        # parse_float=Decimal: 1.1e-06 stays exactly 1.1e-06 on its way to a per-1M price.
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not valid JSON: {exc}") from None
    return parse_models(data, str(path), checked)


def overlay_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("TIERGATE_CATALOG"):
        return Path(env["TIERGATE_CATALOG"]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "tiergate" / "catalog.json"


@functools.lru_cache(maxsize=1)
def shipped_catalog() -> Catalog:
    return Catalog(read_models(SHIPPED))


def load_catalog(overlay: Path | None = None) -> Catalog:
    """The shipped catalog with the user overlay (if any) on top."""
    path = overlay or overlay_path()
    base = shipped_catalog()
    if not path.exists():
        return base
    return base.merged(read_models(path))


def import_file(source: Path, overlay: Path, checked: str) -> tuple[int, int]:
    """Merge `source` into the overlay file; returns (added, replaced) entry counts."""
    incoming = read_models(source, checked=checked)
    if not incoming:
        raise CatalogError(f"{source}: no chat models with input and output prices found")
    existing = {m.key: m for m in read_models(overlay)} if overlay.exists() else {}
    added = sum(1 for m in incoming if m.key not in existing)
    existing.update({m.key: m for m in incoming})
    overlay.parent.mkdir(parents=True, exist_ok=True)
    temporary = overlay.with_suffix(".tmp")
    temporary.write_bytes(
        encode_file(existing.values(), generated_from=f"tiergate pricing import {source.name}")
    )
    temporary.replace(overlay)
    return added, len(incoming) - added
