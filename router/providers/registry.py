"""Provider kind -> adapter. One line per dialect."""

from __future__ import annotations

from router.providers.anthropic import AnthropicAdapter
from router.providers.base import ProviderAdapter
from router.providers.gemini import GeminiAdapter
from router.providers.openai_compat import OpenAICompatAdapter

ADAPTERS: dict[str, ProviderAdapter] = {
    "openai": OpenAICompatAdapter(),
    "anthropic": AnthropicAdapter(),
    "gemini": GeminiAdapter(),
}


def adapter_for(kind: str) -> ProviderAdapter:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise LookupError(f"no adapter for provider kind {kind!r}") from None
