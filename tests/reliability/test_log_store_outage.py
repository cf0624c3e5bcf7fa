"""Scenario 7: PostgreSQL goes away under load; no request fails and no row is lost or duplicated."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from router.log.schema import requests
from tests.conftest import GatewayFactory
from tests.faultproxy import FaultProxy, Mode
from tests.reliability.load import finish, run_load

RATE = 50
OUTAGE_S = 20
BUFFER_MAX = 5000


def _outage(make_gateway: GatewayFactory, postgres_url: str, mode: Mode) -> None:
    real = make_url(postgres_url)
    proxy = FaultProxy(real.host or "127.0.0.1", real.port or 5432).start()
    try:
        proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        gateway = make_gateway(database_url=proxied, overrides={"log": {"buffer_max": BUFFER_MAX}})
        load = run_load(
            f"{gateway.url}/v1/chat/completions", rate=RATE, seconds=OUTAGE_S + 8, prefix=f"pg-{mode}"
        )
        time.sleep(3)
        proxy.set_mode(mode)
        degraded_seen = False
        max_queued = 0
        deadline = time.monotonic() + OUTAGE_S
        while time.monotonic() < deadline:
            ready = httpx.get(f"{gateway.url}/ready", timeout=5)
            assert ready.status_code == 200  # a log-store outage never takes the gateway out
            body = ready.json()
            degraded_seen |= body["status"] == "degraded"
            max_queued = max(max_queued, body["checks"]["log_writer"]["queued"])
            time.sleep(1)
        proxy.set_mode("pass")
        result = finish(load)
        assert result.failures() == [], result.failures()[:3]
        assert degraded_seen
        assert max_queued <= BUFFER_MAX
        sent = len(result.results)
        assert sent == RATE * (OUTAGE_S + 8)
        engine = gateway.engine
        deadline = time.monotonic() + 25
        count = -1
        while time.monotonic() < deadline:
            try:
                with engine.connect() as connection:
                    count = connection.execute(
                        select(func.count()).select_from(requests).where(requests.c.id.like(f"pg-{mode}-%"))
                    ).scalar_one()
            except Exception:
                count = -1
            if count == sent:
                break
            time.sleep(0.5)
        dropped = httpx.get(f"{gateway.url}/ready", timeout=5).json()["checks"]["log_writer"]["dropped"]
        assert count + dropped == sent, (count, dropped, sent)
        assert dropped == 0
    finally:
        proxy.stop()


def test_postgres_stopped_20s_under_load(make_gateway: GatewayFactory, postgres_url: str) -> None:
    _outage(make_gateway, postgres_url, "blackhole")


def test_postgres_killed_and_restarted_under_load(make_gateway: GatewayFactory, postgres_url: str) -> None:
    _outage(make_gateway, postgres_url, "reset")
