"""What the dispatch scenarios (1-6) share: a pinned two-provider tier and readers for the sim's attempts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from tests.conftest import Gateway, GatewayFactory, Sim

# Two adequate providers for the simple tier, pinned so the figures do not move with the sim's defaults.
TWO_PROVIDERS: dict[str, Any] = {"routing": {"tiers": {"simple": ["deepseek-v3", "gpt-4o-mini"]}}}
SIMPLE_BODY: dict[str, Any] = {
    "model": "auto",
    "messages": [{"role": "user", "content": "hello from the load test"}],
    "tiergate": {"tier": "simple"},
}


def two_provider_gateway(make_gateway: GatewayFactory, **routing: Any) -> Gateway:
    return make_gateway(overrides={"routing": {**TWO_PROVIDERS["routing"], **routing}})


def attempts_by_request(sim: Sim, prefix: str) -> Counter[str]:
    """Upstream attempts per gateway request id, for the ids that start with `prefix`."""
    return Counter(
        a.request_id for a in sim.app.ctx.faults.attempts if a.request_id and a.request_id.startswith(prefix)
    )


def ready(gateway: Gateway) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{gateway.url}/ready", timeout=10).json()
    return body
