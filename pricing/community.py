"""Reading the community price map (USD per token, keyed by model) into catalog entries.

Only facts are taken: prices, limits, capability flags. Per-token prices become per-1M prices with exact
Decimal arithmetic (the JSON is parsed with `parse_float=Decimal`, so `1.1e-06` is exactly 1.1 per 1M).
Batch, priority, flex and long-context surcharges are left out: the catalog holds the standard on-demand rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pricing.catalog import CatalogModel, decimal_text

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str  # tiergate's provider name (the `provider/` prefix users type)
    pricing_url: str  # the provider's public pricing page


# Community provider key -> ours. These are the providers the shipped catalog covers.
KNOWN: dict[str, ProviderInfo] = {
    "openai": ProviderInfo("openai", "https://openai.com/api/pricing/"),
    "anthropic": ProviderInfo("anthropic", "https://www.anthropic.com/pricing#api"),
    "gemini": ProviderInfo("gemini", "https://ai.google.dev/gemini-api/docs/pricing"),
    "deepseek": ProviderInfo("deepseek", "https://api-docs.deepseek.com/quick_start/pricing"),
    "mistral": ProviderInfo("mistral", "https://mistral.ai/pricing#api-pricing"),
    "xai": ProviderInfo("xai", "https://docs.x.ai/docs/models"),
    "groq": ProviderInfo("groq", "https://groq.com/pricing"),
    "together_ai": ProviderInfo("together", "https://www.together.ai/pricing"),
    "cerebras": ProviderInfo("cerebras", "https://www.cerebras.ai/pricing"),
    "cohere_chat": ProviderInfo("cohere", "https://cohere.com/pricing"),
    "perplexity": ProviderInfo("perplexity", "https://docs.perplexity.ai/getting-started/pricing"),
    "moonshot": ProviderInfo("moonshot", "https://platform.moonshot.ai/docs/pricing/chat"),
    "zai": ProviderInfo("zai", "https://docs.z.ai/guides/overview/pricing"),
    "ai21": ProviderInfo("ai21", "https://www.ai21.com/pricing/"),
}

# Community keys that are not chat models a gateway routes to: fine-tune templates, size-band price
# classes, and safety classifiers.
_SKIP_PREFIXES = ("ft:", "together-ai-", "sample_spec")
_SKIP_WORDS = ("guard",)

_CAPABILITY_FLAGS: tuple[tuple[str, str], ...] = (
    ("tools", "supports_function_calling"),
    ("vision", "supports_vision"),
    ("json_schema", "supports_response_schema"),
    ("reasoning", "supports_reasoning"),
)


def per_million(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        # A float that slipped past parse_float: its shortest repr is the decimal the file wrote.
        value = Decimal(repr(value))
    if not isinstance(value, (int, Decimal)):
        return None
    return decimal_text(Decimal(value) * MILLION)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else None


def model_id(key: str, community_provider: str, provider: str) -> str:
    for prefix in (f"{community_provider}/", f"{provider}/"):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def convert_entry(key: str, entry: Mapping[str, Any], checked: str, only_known: bool) -> CatalogModel | None:
    community_provider = str(entry.get("litellm_provider") or "")
    if entry.get("mode") != "chat" or not community_provider:
        return None
    if key.startswith(_SKIP_PREFIXES) or any(word in key for word in _SKIP_WORDS):
        return None
    info = KNOWN.get(community_provider)
    if info is None:
        if only_known:
            return None
        info = ProviderInfo(community_provider, str(entry.get("source") or ""))
    input_price = per_million(entry.get("input_cost_per_token"))
    output_price = per_million(entry.get("output_cost_per_token"))
    if input_price is None or output_price is None:
        return None
    if Decimal(input_price) == 0 and Decimal(output_price) == 0:
        return None  # free previews and placeholders: no price to route on
    reasoning = per_million(entry.get("output_cost_per_reasoning_token"))
    if reasoning == output_price:
        reasoning = None  # only stored where it differs
    context = _int(entry.get("max_input_tokens")) or _int(entry.get("max_tokens"))
    return CatalogModel(
        provider=info.name,
        model=model_id(key, community_provider, info.name),
        input=input_price,
        output=output_price,
        cached_input=per_million(entry.get("cache_read_input_token_cost")),
        cache_write=per_million(entry.get("cache_creation_input_token_cost")),
        reasoning=reasoning,
        context_window=context,
        max_output=_int(entry.get("max_output_tokens")),
        # Every chat API in the catalog streams; the rest are the map's own flags.
        capabilities=["streaming", *(cap for cap, flag in _CAPABILITY_FLAGS if entry.get(flag) is True)],
        source=info.pricing_url,
        checked=checked,
    )


def convert(data: Mapping[str, Any], checked: str, only_known: bool = False) -> list[CatalogModel]:
    """Chat models with prices. When two keys name one model (`deepseek-chat`, `deepseek/deepseek-chat`),
    the fuller entry wins, ties to the first in key order, so the result does not depend on file order."""
    chosen: dict[str, tuple[int, CatalogModel]] = {}
    for key in sorted(data):
        entry = data[key]
        if not isinstance(entry, Mapping):
            continue
        model = convert_entry(key, entry, checked, only_known)
        if model is None:
            continue
        weight = len(entry) + (100 if entry.get("source") else 0)
        previous = chosen.get(model.key)
        if previous is None or weight > previous[0]:
            chosen[model.key] = (weight, model)
    return [model for _, model in chosen.values()]
