"""Several deployments of one model: weighted balancing, and a breaker that ejects a failing one."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim
from tests.router.test_request_log import wait_rows


def two_deployments(
    make_gateway: GatewayFactory, sim: Sim, azure_weight: float = 1, **routing: Any
) -> Gateway:
    return make_gateway(
        overrides={
            "providers": {"azure": {"kind": "openai", "base_url": f"{sim.url}/azure/v1"}},
            "models": {
                "gpt-4o": {
                    "deployments": [
                        {"provider": "openai", "upstream": "gpt-4o", "weight": 3},
                        {"provider": "azure", "upstream": "gpt-4o", "weight": azure_weight},
                    ]
                }
            },
            "routing": routing,
        }
    )


def test_weights_split_the_traffic(make_gateway: GatewayFactory, sim: Sim) -> None:
    gateway = two_deployments(make_gateway, sim)
    client = gateway.client()
    for i in range(200):
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-request-id": f"w{i}"},
        )
    providers = Counter(sim.attempts(f"w{i}")[0]["provider"] for i in range(200))
    assert 0.6 <= providers["openai"] / 200 <= 0.9 and providers["azure"] > 0


def test_breaker_ejects_then_readmits(make_gateway: GatewayFactory, sim: Sim) -> None:
    # azure weighs 9 of 10, so it is nearly always tried first until its breaker opens.
    gateway = two_deployments(make_gateway, sim, 9, breaker={"failures": 3, "ejection_s": 1.5})
    sim.app.ctx.faults.add(FaultRule(provider="azure", status=500))
    client = gateway.client()
    started = time.monotonic()
    for i in range(30):
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-request-id": f"b{i}"},
        )
    azure = sum(1 for i in range(30) for a in sim.attempts(f"b{i}") if a["provider"] == "azure")
    # Ejected after 3 consecutive failures (plus one failed probe per 1.5 s ejection, if this was slow).
    probes = int((time.monotonic() - started) / 1.5)
    assert 3 <= azure <= 3 + probes
    ready = httpx.get(f"{gateway.url}/ready").json()
    state = ready["checks"]["deployments"]["azure/gpt-4o"]
    assert state["state"] in ("open", "half_open") and state["opened"] == 1 + azure - 3
    rows = wait_rows(gateway.engine, 30)
    assert all(r["status"] == "ok" for r in rows)
    # An ejected deployment is ordered last, so the healthy one serves without even a skip to note.
    assert sum(r["attempt_count"] for r in rows) == 30 + azure
    # Recovery: after the ejection time a probe goes through and closes the breaker.
    sim.app.ctx.faults.clear()
    time.sleep(1.6)
    for i in range(30):
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-request-id": f"r{i}"},
        )
    state = httpx.get(f"{gateway.url}/ready").json()["checks"]["deployments"]["azure/gpt-4o"]
    assert state["state"] == "closed"
    assert any(a["provider"] == "azure" for i in range(30) for a in sim.attempts(f"r{i}"))
