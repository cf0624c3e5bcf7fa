"""Scenario 5: upstreams that accept and never answer, or stall after their headers. Every response comes
within the request deadline + 250 ms; descriptors and tasks are back to baseline within 5 s."""

from __future__ import annotations

import time
from typing import Any

from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim
from tests.reliability.load import finish, run_load
from tests.reliability.routing import SIMPLE_BODY, TWO_PROVIDERS, ready

RATE = 10
SECONDS = 3
DEADLINE_S = 2.0
TIMEOUTS = {"connect_s": 1.0, "first_byte_s": 1.0, "total_s": 5.0}


def _runtime(gateway: Gateway) -> dict[str, int]:
    runtime: dict[str, int] = ready(gateway)["checks"]["runtime"]
    return runtime


def _back_to(
    gateway: Gateway, baseline: dict[str, int], within_s: float = 5.0
) -> tuple[dict[str, int], float]:
    started = time.monotonic()
    while True:
        now = _runtime(gateway)
        settled = (
            now["asyncio_tasks"] <= baseline["asyncio_tasks"] and now["open_fds"] <= baseline["open_fds"]
        )
        if settled or time.monotonic() - started > within_s:
            return now, time.monotonic() - started
        time.sleep(0.1)


def test_hangs_end_at_the_deadline(make_gateway: GatewayFactory, sim: Sim) -> None:
    providers = {name: {"timeouts": TIMEOUTS} for name in ("deepseek", "openai")}
    overrides: dict[str, Any] = {
        "providers": providers,
        "routing": {**TWO_PROVIDERS["routing"], "retry": {"deadline_s": DEADLINE_S}},
    }
    worst: dict[str, float] = {}
    for hang, stream in (("before_headers", False), ("after_headers", False), ("after_headers", True)):
        gateway = make_gateway(overrides=overrides)  # fresh breakers for each kind of hang
        url = f"{gateway.url}/v1/chat/completions"
        finish(run_load(url, rate=5, seconds=1, body=SIMPLE_BODY, prefix=f"s5-warm-{hang}-{stream}"))
        baseline = _runtime(gateway)
        sim.app.ctx.faults.add(FaultRule(hang=hang, hang_s=4))  # type: ignore[arg-type]
        body = {**SIMPLE_BODY, "stream": stream}
        name = f"{hang}{'-stream' if stream else ''}"
        result = finish(run_load(url, rate=RATE, seconds=SECONDS, body=body, prefix=f"s5-{name}"))
        sim.app.ctx.faults.clear()
        assert len(result.results) == RATE * SECONDS
        # 504 at the deadline until the breakers open (5 timeouts each), then a fast 503 with Retry-After.
        assert {r["status"] for r in result.results} <= {503, 504}
        assert any(r["status"] == 504 for r in result.results)
        worst[name] = max(r["latency_s"] for r in result.results)
        assert worst[name] <= DEADLINE_S + 0.25, worst
        settled, took = _back_to(gateway, baseline)
        print(
            f"scenario 5 {name}: worst {worst[name]:.3f} s; runtime {baseline} -> {settled} in {took:.1f} s"
        )
        assert settled["asyncio_tasks"] <= baseline["asyncio_tasks"]
        assert settled["open_fds"] <= baseline["open_fds"]
