"""Scenario 1 (and issue 5's bounded soak): one of two adequate providers fails 30% of requests; clients see
no error, and the gateway's descriptors and asyncio tasks do not grow over the run."""

from __future__ import annotations

import threading

from router.sim.faults import FaultRule
from tests.conftest import GatewayFactory, Sim
from tests.reliability.load import finish, run_load
from tests.reliability.routing import SIMPLE_BODY, attempts_by_request, ready, two_provider_gateway

RATE = 50
SECONDS = 60  # the duration
MAX_ATTEMPTS = 4
POOL_SLACK = 10


def test_30_percent_500s_are_invisible(make_gateway: GatewayFactory, sim: Sim) -> None:
    gateway = two_provider_gateway(make_gateway, retry={"max_attempts": MAX_ATTEMPTS})
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", status=500, rate=0.3))
    url = f"{gateway.url}/v1/chat/completions"
    finish(run_load(url, rate=RATE, seconds=1, body=SIMPLE_BODY, prefix="warm"))
    before = ready(gateway)["checks"]["runtime"]
    load = run_load(url, rate=RATE, seconds=SECONDS, body=SIMPLE_BODY, prefix="s1")
    samples: list[dict[str, int]] = []
    done = threading.Event()

    def sample() -> None:  # beside `finish`, which must keep reading the load's output
        while not done.wait(1.0):
            samples.append(ready(gateway)["checks"]["runtime"])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = finish(load)
    finally:
        done.set()
        sampler.join(10)
    after = ready(gateway)["checks"]["runtime"]

    assert len(result.results) == RATE * SECONDS
    assert result.failures() == [], result.failures()[:3]
    per_request = attempts_by_request(sim, "s1-")
    assert len(per_request) == RATE * SECONDS
    mean = sum(per_request.values()) / len(per_request)
    first_half = samples[: len(samples) // 2] or samples
    peak = max(s["open_fds"] for s in first_half)
    print(
        f"scenario 1: {len(per_request)} requests, mean attempts {mean:.3f}, max {max(per_request.values())}; "
        f"runtime before {before}, fds peak in the first half {peak}, after {after}"
    )
    assert mean <= 1.35
    assert max(per_request.values()) <= MAX_ATTEMPTS
    # No growth: at the end no more tasks than before the run, and no more descriptors than the first half
    # already needed, give or take POOL_SLACK. The upstream pool keeps idle keep-alive connections and grows a
    # few when a latency spike raises concurrency (the in-process sim holds the other end of each, so two
    # descriptors a connection): CI, with other tests beside it, saw +2 over the first half's peak. A leak is
    # another order: one descriptor per 1% of the 3,000 requests would already be +30.
    assert after["asyncio_tasks"] <= before["asyncio_tasks"]
    assert after["open_fds"] <= peak + POOL_SLACK
