"""Scenario 15: SIGTERM under load; requests already started finish and every one is logged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import create_engine, func, select

from router.log.schema import requests
from router.log.store import upgrade
from router.sim.config import sim_config
from router.sim.faults import FaultRule
from tests.conftest import Sim
from tests.keys.procs import Served, free_port, wait_healthy
from tests.reliability.load import finish, run_load


def test_sigterm_drains_in_flight_and_flushes_log(sim: Sim, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'drain.db'}"
    upgrade(db)
    config = tmp_path / "tiergate.yaml"
    config.write_text(yaml.safe_dump(sim_config(sim.url, db)))
    port = free_port()
    sim.app.ctx.faults.add(FaultRule(provider="openai", latency_ms=400))  # keep requests in flight
    server = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(config), "--port", str(port)],
        env={**os.environ, "TIERGATE_CLASSIFIER__ENABLED": "false"},
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(Served(server, url))
        load = run_load(f"{url}/v1/chat/completions", rate=100, seconds=6, prefix="drain", timeout=15)
        time.sleep(3.0)
        term_at = time.time()
        server.send_signal(signal.SIGTERM)
        result = finish(load)
        # uvicorn shuts down gracefully, then re-raises the signal it caught, hence -SIGTERM.
        assert server.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
    started_before = [r for r in result.results if r["sent_at"] < term_at - 0.05]
    assert len(started_before) >= 100
    failed = [r for r in started_before if r["status"] != 200]
    assert failed == [], failed[:3]
    answered = sum(1 for r in result.results if r["status"] == 200)
    with create_engine(db).connect() as connection:
        rows = connection.execute(
            select(func.count()).select_from(requests).where(requests.c.status == "ok")
        ).scalar_one()
    assert rows == answered
