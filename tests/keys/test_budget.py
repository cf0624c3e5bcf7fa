"""Budget reservations are released whatever happens to the request: failure, and client disconnect."""

from __future__ import annotations

import time

import httpx

from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim
from tests.keys.conftest import MASTER, chat, create_key, spend


def _keyed(make_gateway: GatewayFactory, monkeypatch: object) -> Gateway:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)  # type: ignore[attr-defined]
    return make_gateway()


def _settled(url: str, key_id: str) -> dict[str, float]:
    deadline = time.monotonic() + 10
    report = spend(url, key_id)
    while report["reserved_usd"] != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        report = spend(url, key_id)
    return report


def test_disconnect_releases_the_reservation(
    make_gateway: GatewayFactory, sim: Sim, monkeypatch: object
) -> None:
    gateway = _keyed(make_gateway, monkeypatch)
    created = create_key(gateway.url, budget_usd=10)
    sim.app.ctx.faults.add(FaultRule(match="walk away", chunk_ms=200))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "walk away"}], "stream": True}
    headers = {"Authorization": f"Bearer {created['key']}"}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, headers=headers) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                during = spend(gateway.url, created["info"]["id"])
                break
    assert during["reserved_usd"] > 0  # held while the stream runs
    report = _settled(gateway.url, created["info"]["id"])
    assert report["reserved_usd"] == 0
    assert report["committed_usd"] < during["reserved_usd"]  # what was streamed, not the estimate


def test_failed_call_costs_nothing(make_gateway: GatewayFactory, sim: Sim, monkeypatch: object) -> None:
    gateway = _keyed(make_gateway, monkeypatch)
    created = create_key(gateway.url, budget_usd=10)
    sim.app.ctx.faults.add(FaultRule(match="please fail", status=400))
    assert chat(gateway.url, created["key"], "please fail").status_code == 400
    report = _settled(gateway.url, created["info"]["id"])
    assert report["reserved_usd"] == 0 and report["committed_usd"] == 0
