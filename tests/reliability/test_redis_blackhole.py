"""Scenario 8: Redis blackholed for 20 s under load, in Redis mode.

Documented behaviour (router/keys/config.py): `on_redis_down: closed` answers 503 with Retry-After
(nothing passes unmetered); `local` meters in this process until Redis returns. Either way the
breaker opens after `breaker_failures` timeouts, then no request calls Redis (one probe per cooldown).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from router.keys.service import KeyService
from tests.conftest import GatewayFactory
from tests.faultproxy import FaultProxy
from tests.keys.conftest import MASTER, create_key
from tests.keys.procs import redis_prefix
from tests.reliability.load import finish, run_load

TIMEOUT_S = 0.25
COOLDOWN_S = 2.0


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def _proxied(redis_url: str) -> tuple[FaultProxy, str]:
    rest = redis_url.split("://", 1)[1]
    host_port, _, db = rest.partition("/")
    host, _, port = host_port.rpartition(":")
    proxy = FaultProxy(host or "127.0.0.1", int(port or 6379)).start()
    return proxy, f"redis://127.0.0.1:{proxy.port}/{db or 0}"


def _gateway(make_gateway: GatewayFactory, url: str, mode: str) -> tuple[str, KeyService]:
    redis = {"url": url, "prefix": redis_prefix(), "timeout_s": TIMEOUT_S, "breaker_cooldown_s": COOLDOWN_S}
    gateway = make_gateway(overrides={"keys": {"backend": "redis", "on_redis_down": mode, "redis": redis}})
    service: KeyService = gateway.server.app.state.key_service
    return gateway.url, service


def test_redis_blackholed_fails_closed_with_breaker(
    make_gateway: GatewayFactory, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)
    proxy, url = _proxied(redis_url)
    try:
        base, service = _gateway(make_gateway, url, "closed")
        assert service.guard is not None
        secret = create_key(base, rpm=100_000)["key"]
        rss_before = _rss_mb()
        started = time.time()
        load = run_load(
            f"{base}/v1/chat/completions",
            rate=20,
            seconds=30,
            prefix="redis8",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        )
        time.sleep(4.0)
        calls_before = service.guard.calls
        down_at = time.time()
        proxy.set_mode("blackhole")
        time.sleep(8.0)
        ready = httpx.get(f"{base}/ready", timeout=5).json()
        time.sleep(12.0)
        calls_during = service.guard.calls - calls_before
        up_at = time.time()
        proxy.set_mode("pass")
        result = finish(load)
        rss_after = _rss_mb()
    finally:
        proxy.stop()
    assert started < down_at
    before = [r for r in result.results if r["sent_at"] < down_at - 0.2]
    during = [r for r in result.results if down_at + 0.1 < r["sent_at"] < up_at - 0.1]
    after = [r for r in result.results if r["sent_at"] > up_at + COOLDOWN_S + 1.0]
    assert before and during and after
    assert {r["status"] for r in before} == {200}
    # Closed: nothing unmetered passes; every refusal is a 503 in OpenAI's format with Retry-After.
    assert {r["status"] for r in during} == {503}
    assert all("limits_unavailable" in r["error"] and r["retry_after"] for r in during)
    latencies = sorted(r["latency_s"] for r in during)
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    baseline = sorted(r["latency_s"] for r in before)[int(0.99 * (len(before) - 1))]
    print(
        f"scenario 8: p99 during {p99 * 1000:.0f} ms (baseline {baseline * 1000:.0f} ms); "
        f"{calls_during} Redis calls for {len(during)} requests; RSS {rss_before:.0f} -> {rss_after:.0f} MB"
    )
    assert p99 <= baseline + TIMEOUT_S + 0.25
    # Breaker: the calls already in flight when it opened (rate x timeout, plus the failures that open
    # it) and one probe per cooldown; not one call per request.
    in_flight_at_open = 5 + int(20 * TIMEOUT_S) + 1
    assert calls_during <= in_flight_at_open + 20 / COOLDOWN_S + 1 < len(during) / 10
    assert ready["status"] == "degraded" and ready["checks"]["keys"]["redis"]["state"] == "unavailable"
    assert {r["status"] for r in after} == {200}
    assert rss_after - rss_before < 30


def test_redis_blackholed_meters_locally_when_configured(
    make_gateway: GatewayFactory, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)
    proxy, url = _proxied(redis_url)
    try:
        base, _ = _gateway(make_gateway, url, "local")
        secret = create_key(base, rpm=30)["key"]
        proxy.set_mode("blackhole")
        body = {"model": "deepseek-v3", "messages": [{"role": "user", "content": "hello"}]}
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(timeout=10) as client:
            statuses = [
                client.post(f"{base}/v1/chat/completions", json=body, headers=headers).status_code
                for _ in range(45)
            ]
    finally:
        proxy.stop()
    # Still metered, in this process: 30 admitted, the rest refused by the local limiter.
    assert statuses.count(200) == 30 and statuses.count(429) == 15
