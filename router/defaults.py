"""Self-configuration from the provider keys present in the environment.

With no config file, each known provider whose key variable is set contributes
its base URL and a small, well-known model set. Prices are USD per 1M tokens
from the providers' public price pages (checked 2026-11); `tiergate pricing`
holds the full catalog.
"""

from __future__ import annotations

from typing import Any

_ALL_CAPS = ["streaming", "tools", "json_schema"]

KNOWN_PROVIDERS: dict[str, dict[str, Any]] = {
    "openai": {
        "env": "OPENAI_API_KEY",
        "provider": {"kind": "openai", "base_url": "https://api.openai.com/v1"},
        "models": {
            "gpt-4o": {
                "upstream": "gpt-4o",
                "tier": "hard",
                "input_per_mtok": 2.5,
                "output_per_mtok": 10.0,
                "cached_input_per_mtok": 1.25,
                "context_window": 128000,
                "max_output": 16384,
                "capabilities": [*_ALL_CAPS, "vision"],
            },
            "gpt-4o-mini": {
                "upstream": "gpt-4o-mini",
                "tier": "simple",
                "input_per_mtok": 0.15,
                "output_per_mtok": 0.6,
                "cached_input_per_mtok": 0.075,
                "context_window": 128000,
                "max_output": 16384,
                "capabilities": [*_ALL_CAPS, "vision"],
            },
            # Embedding models: served on /v1/embeddings only; input tokens are the whole bill.
            "text-embedding-3-small": {
                "upstream": "text-embedding-3-small",
                "input_per_mtok": 0.02,
                "context_window": 8191,
                "capabilities": ["embeddings"],
            },
            "text-embedding-3-large": {
                "upstream": "text-embedding-3-large",
                "input_per_mtok": 0.13,
                "context_window": 8191,
                "capabilities": ["embeddings"],
            },
        },
    },
    "deepseek": {
        "env": "DEEPSEEK_API_KEY",
        "provider": {"kind": "openai", "base_url": "https://api.deepseek.com/v1"},
        "models": {
            "deepseek-v3": {
                "upstream": "deepseek-chat",
                "tier": "simple",
                "input_per_mtok": 0.27,
                "output_per_mtok": 1.10,
                "cached_input_per_mtok": 0.07,
                "context_window": 64000,
                "max_output": 8192,
                "capabilities": _ALL_CAPS,
            },
            "deepseek-r1": {
                "upstream": "deepseek-reasoner",
                "tier": "reasoning",
                "input_per_mtok": 0.55,
                "output_per_mtok": 2.19,
                "cached_input_per_mtok": 0.14,
                "context_window": 64000,
                "max_output": 8192,
                "capabilities": ["streaming", "reasoning"],
            },
        },
    },
    "anthropic": {
        "env": "ANTHROPIC_API_KEY",
        "provider": {"kind": "anthropic", "base_url": "https://api.anthropic.com/v1"},
        "models": {
            "claude-sonnet-4": {
                "upstream": "claude-sonnet-4-20250514",
                "tier": "hard",
                "input_per_mtok": 3.0,
                "output_per_mtok": 15.0,
                "cached_input_per_mtok": 0.3,
                "cache_write_per_mtok": 3.75,
                "context_window": 200000,
                "max_output": 64000,
                "capabilities": [*_ALL_CAPS, "vision", "reasoning"],
            },
            "claude-haiku-4.5": {
                "upstream": "claude-haiku-4-5-20251001",
                "tier": "simple",
                "input_per_mtok": 1.0,
                "output_per_mtok": 5.0,
                "cached_input_per_mtok": 0.1,
                "cache_write_per_mtok": 1.25,
                "context_window": 200000,
                "max_output": 64000,
                "capabilities": [*_ALL_CAPS, "vision"],
            },
        },
    },
    "gemini": {
        "env": "GEMINI_API_KEY",
        "provider": {"kind": "gemini", "base_url": "https://generativelanguage.googleapis.com/v1beta"},
        "models": {
            "gemini-embedding-001": {
                "upstream": "gemini-embedding-001",
                "input_per_mtok": 0.15,
                "context_window": 2048,
                "capabilities": ["embeddings"],
            },
            "gemini-2.5-flash": {
                "upstream": "gemini-2.5-flash",
                "tier": "reasoning",
                "input_per_mtok": 0.3,
                "output_per_mtok": 2.5,
                "cached_input_per_mtok": 0.075,
                "context_window": 1048576,
                "max_output": 65536,
                "capabilities": [*_ALL_CAPS, "vision", "reasoning"],
            },
            "gemini-2.5-pro": {
                "upstream": "gemini-2.5-pro",
                "tier": "hard",
                "input_per_mtok": 1.25,
                "output_per_mtok": 10.0,
                "cached_input_per_mtok": 0.31,
                "context_window": 1048576,
                "max_output": 65536,
                "capabilities": [*_ALL_CAPS, "vision", "reasoning"],
            },
        },
    },
}


def config_from_environment(environ: dict[str, str]) -> dict[str, Any]:
    providers: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for name, known in KNOWN_PROVIDERS.items():
        if not environ.get(known["env"]):
            continue
        providers[name] = {**known["provider"], "api_key_env": known["env"]}
        for model_name, model in known["models"].items():
            models[model_name] = {"provider": name, **model}
    routing: dict[str, Any] = {}
    if "gpt-4o" in models:
        routing["baseline"] = "gpt-4o"
    return {"providers": providers, "models": models, "routing": routing}
