"""Fixtures that build real servers: the simulated providers and the gateway, on loopback."""

from __future__ import annotations

import copy
import gc
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import openai
import pytest
from sqlalchemy import Engine, create_engine, text

from router.app import create_app
from router.log.store import make_engine, upgrade
from router.serving import ServerThread
from router.settings import Settings
from router.sim.app import SimApp, create_sim_app
from router.sim.config import sim_config

# Tests that put load or faults on the machine run one at a time, in one xdist worker, so their figures are
# not disturbed by each other (the rest of the suite runs beside them on the other workers).
SERIAL_PATHS = (
    "tests/reliability/",
    "tests/benchmarks/",
    "tests/keys/test_shared.py",
    "tests/keys/test_serve.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.replace("\\", "/")
        if path.startswith(SERIAL_PATHS):
            item.add_marker(pytest.mark.xdist_group("serial"))


@dataclass
class Sim:
    server: ServerThread
    app: SimApp

    @property
    def url(self) -> str:
        return self.server.url

    def attempts(self, request_id: str | None = None) -> list[dict[str, Any]]:
        return self.app.ctx.faults.attempts_json(request_id)


@dataclass
class Gateway:
    server: ServerThread
    settings: Settings
    engine: Engine

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, **kwargs: Any) -> openai.OpenAI:
        kwargs.setdefault("api_key", "test-key")
        kwargs.setdefault("max_retries", 0)
        return openai.OpenAI(base_url=f"{self.url}/v1", **kwargs)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="session")
def sim() -> Iterator[Sim]:
    app = create_sim_app()
    with ServerThread(app) as server:
        yield Sim(server, app)


@pytest.fixture(autouse=True)
def _clean_sim_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        sim: Sim = request.getfixturevalue("sim")
        sim.app.ctx.faults.clear()


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


GatewayFactory = Callable[..., Gateway]


@pytest.fixture
def make_gateway(sim: Sim, tmp_path: Path) -> Iterator[GatewayFactory]:
    """Start a gateway on the sim: `make_gateway(overrides={...}, database_url=..., scorer=...)`."""
    started: list[Gateway] = []

    def factory(
        overrides: dict[str, Any] | None = None, database_url: str | None = None, **app_kwargs: Any
    ) -> Gateway:
        url = database_url or f"sqlite:///{tmp_path / f'log-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        raw = deep_merge(sim_config(sim.url, url), overrides or {})
        raw["source"] = "<test>"
        settings = msgspec.convert(raw, Settings)
        app_kwargs.setdefault("load_classifier", False)
        # As `tiergate serve` does once ready (router/app.py tune_collector), keep what exists now out
        # of the collector's scans: a test process that imported torch holds ~600k objects, and a full
        # collection of those (0.3-0.4 s quiet, ~1 s on a loaded CI box) would stall the in-process
        # gateway and show up in the latency bounds the reliability scenarios assert.
        gc.freeze()
        server = ServerThread(create_app(settings, **app_kwargs)).start()
        gateway = Gateway(server, settings, make_engine(url))
        started.append(gateway)
        return gateway

    yield factory
    for gateway in started:
        gateway.stop()
    gc.unfreeze()


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> Gateway:
    return make_gateway()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    base = os.environ.get("TIERGATE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TIERGATE_TEST_POSTGRES_URL is not set")
    name = f"tiergate_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrated_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a fresh database at the newest migration: a SQLite file, or PostgreSQL (`postgres_url`)."""
    url = (
        f"sqlite:///{tmp_path / f'db-{uuid.uuid4().hex[:8]}.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    upgrade(url)
    return url


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TIERGATE_TEST_REDIS_URL")
    if not url:
        pytest.skip("TIERGATE_TEST_REDIS_URL is not set")
    return url
