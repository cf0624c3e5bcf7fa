"""Scenario 12: planted canary keys never appear in output, log rows, error bodies, metrics or traces.

A gateway process runs with debug logging, console tracing and the access log on; provider keys, the master
key, a virtual key and a wrong key a client sends are all canaries. Faults of every kind are forced on every
provider dialect, a Gemini error included; then every place a key could leak is searched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from sqlalchemy import create_engine, text

from router.log.store import upgrade
from router.sim.config import sim_config
from router.sim.faults import FaultRule
from tests.conftest import Sim
from tests.keys.procs import Served, free_port, wait_healthy

CANARIES = {
    "TG_CANARY_OPENAI": "sk-canary-openai-4f1d9b2e7a",
    "TG_CANARY_DEEPSEEK": "sk-canary-deepseek-83c1a0f5",
    "TG_CANARY_ANTHROPIC": "sk-ant-canary-6d2e8f0b1c",
    "TG_CANARY_GEMINI": "AIza-canary-gemini-9e7d5c3b",
}
MASTER = "tg-master-canary-0a9b8c7d6e"
WRONG_KEY = "tg-wrong-canary-5e4d3c2b1a"


def test_no_canary_leaks_anywhere(sim: Sim, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'secrets.db'}"
    upgrade(db)
    config = sim_config(sim.url, db)
    for provider, env in zip(("openai", "deepseek", "anthropic", "gemini"), CANARIES, strict=True):
        config["providers"][provider]["api_key_env"] = env
    config["observability"] = {"log_level": "DEBUG", "access_log": True, "tracing": "console"}
    config["classifier"] = {"enabled": False}
    config_path = tmp_path / "tiergate.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {**os.environ, **CANARIES, "TIERGATE_MASTER_KEY": MASTER}
    server = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(config_path), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    bodies: list[str] = []
    try:
        wait_healthy(Served(server, url))
        created = httpx.post(
            f"{url}/admin/keys",
            json={"name": "canary"},
            headers={"authorization": f"Bearer {MASTER}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        virtual = created.json()["key"]
        auth = {"authorization": f"Bearer {virtual}"}

        def chat(model: str, stream: bool = False, headers: dict[str, str] | None = None) -> None:
            body = {
                "model": model,
                "messages": [{"role": "user", "content": "hello canary test"}],
                "stream": stream,
            }
            response = httpx.post(
                f"{url}/v1/chat/completions", json=body, headers=headers or auth, timeout=30
            )
            bodies.append(response.text)
            bodies.append(str(dict(response.headers)))

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
        faults = sim.app.ctx.faults
        faults.clear()
        server.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            stdout, stderr = server.communicate()
    with create_engine(db).connect() as connection:
        rows = [
            str(tuple(r))
            for table in ("requests", "api_keys")
            for r in connection.execute(text(f"select * from {table}"))
        ]
    secrets = [*CANARIES.values(), MASTER, WRONG_KEY, virtual]
    assert '"level": "debug"' in stdout + stderr  # debug logging really was on
    assert len(rows) > 30
    places = {"stdout": stdout, "stderr": stderr, "log rows": "\n".join(rows), "responses": "\n".join(bodies)}
    leaks = [(secret, place) for secret in secrets for place, text_ in places.items() if secret in text_]
    assert leaks == []
