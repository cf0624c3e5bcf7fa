"""Gateways as separate `tiergate serve` processes sharing PostgreSQL and Redis (what --workers and
several hosts do), for tests that need real process boundaries."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, text

from benchmarks.procs import free_port
from router.log.store import upgrade
from router.sim.config import sim_config
from tests.conftest import deep_merge
from tests.keys.conftest import MASTER


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def wait_healthy(served: Served, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"gateway exited with {served.process.returncode}")
        try:
            if httpx.get(f"{served.url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gateway did not become healthy")


def shared_config(
    sim_url: str, database_url: str, redis_url: str, prefix: str, **keys: Any
) -> dict[str, Any]:
    section = deep_merge({"backend": "redis", "redis": {"url": redis_url, "prefix": prefix}}, keys)
    config = sim_config(sim_url, database_url)
    config["keys"] = section
    config["classifier"] = {"enabled": False}
    return config


def serve(config: dict[str, Any], tmp_path: Path, workers: int = 1, master: str | None = MASTER) -> Served:
    path = tmp_path / f"tiergate-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TIERGATE_MASTER_KEY"}
    if master:
        env["TIERGATE_MASTER_KEY"] = master
    command = [sys.executable, "-m", "router.cli", "serve", "--config", str(path), "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    served = Served(process, f"http://127.0.0.1:{port}")
    try:
        wait_healthy(served)
    except Exception:
        served.stop()
        raise
    return served


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (for fixtures wider than one test)."""
    base = os.environ["TIERGATE_TEST_POSTGRES_URL"]
    name = f"tiergate_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def redis_prefix() -> str:
    return f"tiergate-test-{uuid.uuid4().hex[:10]}:"
