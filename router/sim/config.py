"""A gateway config whose providers all point at a running sim, with a realistic model set.

Prices are the providers' public list prices per 1M tokens (checked 2026-11), so the demo's
savings figures are the ones a team would see on the real services.
"""

from __future__ import annotations

from typing import Any

from router.defaults import KNOWN_PROVIDERS


def sim_config(sim_url: str, database_url: str) -> dict[str, Any]:
    base = sim_url.rstrip("/")
    providers: dict[str, Any] = {
        "openai": {"kind": "openai", "base_url": f"{base}/openai/v1"},
        "deepseek": {"kind": "openai", "base_url": f"{base}/deepseek/v1"},
        "anthropic": {"kind": "anthropic", "base_url": f"{base}/anthropic/v1"},
        "gemini": {"kind": "gemini", "base_url": f"{base}/gemini/v1beta"},
    }
    models: dict[str, Any] = {}
    for provider in ("openai", "deepseek", "anthropic", "gemini"):
        for name, model in KNOWN_PROVIDERS[provider]["models"].items():
            models[name] = {"provider": provider, **model}
    models["deepseek-v3"]["aliases"] = ["deepseek-chat"]
    models["deepseek-r1"]["aliases"] = ["deepseek-reasoner"]
    return {
        "providers": providers,
        "models": models,
        "routing": {
            "tiers": {
                # First the cheapest adequate model, then other providers as fallbacks (so an outage of
                # one provider is served by another). Gemini 2.5 Pro lists cheaper than gpt-4o but stays
                # second in `hard` so the demo's gpt-4o baseline comparison keeps its meaning.
                "simple": ["deepseek-v3", "gpt-4o-mini", "claude-haiku-4.5"],
                "reasoning": ["deepseek-r1", "gemini-2.5-flash", "gpt-4o"],
                "hard": ["gpt-4o", "gemini-2.5-pro", "claude-sonnet-4"],
            },
            # The shipped classifier's calibrated difficulty is rarely above 0.4 (a cheap model failing where
            # a strong one succeeds is the rare case); 0.23 sends about a fifth of benchmark traffic up
            # (its metadata's `strong_share_20`).
            "thresholds": {"hard": 0.23, "reasoning": 0.5},
            "baseline": "gpt-4o",
        },
        "database_url": database_url,
    }
