"""Scenario 12: planted canary keys never appear in output, log rows, error bodies, metrics or traces.

A gateway process runs with debug logging, console tracing and the access log on; provider keys, the master
key, a virtual key and a wrong key a client sends are all canaries. The first test forces error statuses,
stream errors and malformed answers on every provider dialect (a Gemini error included); the second the
network and store faults of scenarios 5-8: upstream hangs, resets and a refused connection, the log store
(PostgreSQL, a canary password in its URL) and Redis (the same) blackholed under traffic. Then every place a
key could leak is searched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from router.log.store import upgrade
from router.sim.config import sim_config
from router.sim.faults import FaultRule
from tests.conftest import Sim
from tests.faultproxy import FaultProxy
from tests.keys.procs import Served, free_port, wait_healthy

CANARIES = {
    "TG_CANARY_OPENAI": "sk-canary-openai-4f1d9b2e7a",
    "TG_CANARY_DEEPSEEK": "sk-canary-deepseek-83c1a0f5",
    "TG_CANARY_ANTHROPIC": "sk-ant-canary-6d2e8f0b1c",
    "TG_CANARY_GEMINI": "AIza-canary-gemini-9e7d5c3b",
}
MASTER = "tg-master-canary-0a9b8c7d6e"
WRONG_KEY = "tg-wrong-canary-5e4d3c2b1a"
STORE_PASSWORD = "pw-canary-store-7c6b5a4d3e"  # in the PostgreSQL and Redis URLs (trust auth ignores it)
DEAD_KEY = "sk-canary-refused-1b2c3d4e5f"  # the key of a provider whose port refuses connections


def _serve(
    config: dict[str, Any], tmp_path: Path, extra_env: dict[str, str]
) -> tuple[subprocess.Popen[str], str]:
    config["observability"] = {"log_level": "DEBUG", "access_log": True, "tracing": "console"}
    config["classifier"] = {"enabled": False}
    config_path = tmp_path / "tiergate.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {**os.environ, **CANARIES, **extra_env, "TIERGATE_MASTER_KEY": MASTER}
    server = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(config_path), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(Served(server, url))
    return server, url


def _stop(server: subprocess.Popen[str]) -> tuple[str, str]:
    server.send_signal(signal.SIGTERM)
    try:
        return server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.communicate()


def _with_canary_keys(config: dict[str, Any]) -> dict[str, Any]:
    for provider, env in zip(("openai", "deepseek", "anthropic", "gemini"), CANARIES, strict=True):
        config["providers"][provider]["api_key_env"] = env
    return config


def _virtual_key(url: str) -> str:
    created = httpx.post(
        f"{url}/admin/keys",
        json={"name": "canary"},
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def _chatter(url: str, key: str, bodies: list[str]) -> Callable[..., int]:
    """A client that keeps every response body and header set it gets, for the search at the end."""

    def chat(model: str, stream: bool = False, headers: dict[str, str] | None = None) -> int:
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "hello canary test"}],
            "stream": stream,
        }
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json=body,
            headers=headers or {"authorization": f"Bearer {key}"},
            timeout=30,
        )
        bodies.append(response.text)
        bodies.append(str(dict(response.headers)))
        return response.status_code

    return chat


def _rows(database_url: str) -> list[str]:
    with create_engine(database_url).connect() as connection:
        return [
            str(tuple(r))
            for table in ("requests", "api_keys")
            for r in connection.execute(text(f"select * from {table}"))
        ]


def _leaks(secrets: list[str], places: dict[str, str]) -> list[tuple[str, str]]:
    return [(secret, place) for secret in secrets for place, text_ in places.items() if secret in text_]


def test_no_canary_leaks_anywhere(sim: Sim, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'secrets.db'}"
    upgrade(db)
    server, url = _serve(_with_canary_keys(sim_config(sim.url, db)), tmp_path, {})
    bodies: list[str] = []
    try:
        virtual = _virtual_key(url)
        chat = _chatter(url, virtual, bodies)
        faults = sim.app.ctx.faults
        chat("gpt-4o")
        chat("gpt-4o", stream=True)
        for provider, model in (
            ("openai", "gpt-4o"),
            ("anthropic", "claude-sonnet-4"),
            ("gemini", "gemini-2.5-flash"),
            ("deepseek", "deepseek-v3"),
        ):
            for status in (400, 401, 403, 429, 500, 503):
                faults.clear()
                faults.add(FaultRule(provider=provider, status=status, retry_after=1))
                chat(model)
            faults.clear()
            faults.add(FaultRule(provider=provider, stream_error_after=2))
            chat(model, stream=True)
            faults.clear()
            faults.add(FaultRule(provider=provider, malformed=True))
            chat(model)
        faults.clear()
        chat("gpt-4o", headers={"authorization": f"Bearer {WRONG_KEY}"})
        chat("gpt-4o", headers={"x-api-key": WRONG_KEY})
        bodies.append(httpx.get(f"{url}/metrics", timeout=10).text)
        bodies.append(httpx.get(f"{url}/ready", timeout=10).text)
        time.sleep(1.0)  # let the log writer flush
    finally:
        sim.app.ctx.faults.clear()
        stdout, stderr = _stop(server)
    rows = _rows(db)
    secrets = [*CANARIES.values(), MASTER, WRONG_KEY, virtual]
    assert '"level": "debug"' in stdout + stderr  # debug logging really was on
    assert len(rows) > 30
    places = {"stdout": stdout, "stderr": stderr, "log rows": "\n".join(rows), "responses": "\n".join(bodies)}
    assert _leaks(secrets, places) == []


def test_no_canary_leaks_through_network_and_store_faults(
    sim: Sim, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    pg = make_url(postgres_url)
    upgrade(postgres_url)
    pg_proxy = FaultProxy(pg.host or "127.0.0.1", pg.port or 5432).start()
    redis_host_port, _, redis_db = redis_url.split("://", 1)[1].partition("/")
    redis_proxy = FaultProxy("127.0.0.1", int(redis_host_port.rpartition(":")[2] or 6379)).start()
    dead_port = free_port()  # nothing listens there: the provider's connections are refused
    config = _with_canary_keys(
        sim_config(
            sim.url,
            pg.set(host="127.0.0.1", port=pg_proxy.port, password=STORE_PASSWORD).render_as_string(
                hide_password=False
            ),
        )
    )
    timeouts = {"connect_s": 0.5, "first_byte_s": 0.5, "total_s": 2.0}
    for provider in config["providers"].values():
        provider["timeouts"] = timeouts
    config["providers"]["refusing"] = {
        "kind": "openai",
        "base_url": f"http://127.0.0.1:{dead_port}/v1",
        "api_key_env": "TG_CANARY_REFUSED",
    }
    config["models"]["refused-model"] = {"provider": "refusing", "upstream": "gpt-4o-mini"}
    config["routing"]["retry"] = {"deadline_s": 3.0}
    config["keys"] = {
        "backend": "redis",
        "on_redis_down": "closed",
        "redis": {
            "url": f"redis://default:{STORE_PASSWORD}@127.0.0.1:{redis_proxy.port}/{redis_db or 0}",
            "prefix": f"tg-secrets-{free_port()}:",
            "timeout_s": 0.25,
            "breaker_cooldown_s": 1.0,
        },
    }
    bodies: list[str] = []
    statuses: dict[str, set[int]] = {}
    server, url = _serve(config, tmp_path, {"TG_CANARY_REFUSED": DEAD_KEY})
    try:
        virtual = _virtual_key(url)
        chat = _chatter(url, virtual, bodies)
        faults = sim.app.ctx.faults
        assert chat("gpt-4o") == 200
        for provider, model in (("openai", "gpt-4o"), ("gemini", "gemini-2.5-flash")):
            for name, rule in (
                ("hang before headers", FaultRule(provider=provider, hang="before_headers", hang_s=3)),
                ("reset", FaultRule(provider=provider, reset=True)),
                ("stream reset", FaultRule(provider=provider, stream_reset_after=2)),
                ("stream stall", FaultRule(provider=provider, hang="after_headers", hang_s=3)),
            ):
                faults.clear()
                faults.add(rule)
                stream = name.startswith("stream")
                statuses.setdefault(name, set()).add(chat(model, stream=stream))
        faults.clear()
        statuses["refused"] = {chat("refused-model")}
        for name, proxy in (("log store down", pg_proxy), ("redis down", redis_proxy)):
            proxy.set_mode("blackhole")
            statuses[name] = {chat("gpt-4o-mini") for _ in range(8)}
            bodies.append(httpx.get(f"{url}/ready", timeout=10).text)
            proxy.set_mode("reset")
            statuses[name] |= {chat("gpt-4o-mini") for _ in range(4)}
            proxy.set_mode("pass")
            time.sleep(1.5)  # the Redis breaker's cooldown; the log writer's retry
        bodies.append(httpx.get(f"{url}/metrics", timeout=10).text)
        time.sleep(1.0)
    finally:
        sim.app.ctx.faults.clear()
        stdout, stderr = _stop(server)
        pg_proxy.stop()
        redis_proxy.stop()
    print(f"scenario 12 (network and store faults): statuses {statuses}")
    # The faults really happened: failures, refusals and the stores' outages were all seen.
    assert statuses["hang before headers"] & {502, 503, 504}, statuses
    assert statuses["refused"] <= {502, 503}, statuses
    assert 503 in statuses["redis down"], statuses  # closed: nothing unmetered while Redis is away
    assert 200 in statuses["log store down"], statuses  # the log store's outage never fails a request
    assert '"level": "debug"' in stdout + stderr
    # The outages reached the logs (so a key in their error text would have been caught).
    assert "log_store" in stdout + stderr or "log store" in stdout + stderr, stderr[-2000:]
    rows = _rows(postgres_url)
    assert len(rows) > 10
    secrets = [*CANARIES.values(), MASTER, virtual, STORE_PASSWORD, DEAD_KEY]
    places = {"stdout": stdout, "stderr": stderr, "log rows": "\n".join(rows), "responses": "\n".join(bodies)}
    assert _leaks(secrets, places) == []
