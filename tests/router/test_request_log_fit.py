"""Whatever a request carries, its log row is written and the log goes on: rows fit the table (NUL, lengths),
a client's unusable x-request-id is replaced, and a row the database still refuses is left out alone."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import openai
import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.pool import StaticPool

from router.log.schema import ID_LENGTH, metadata, requests
from router.log.store import make_engine
from router.log.writer import LogWriter
from router.settings import LogConfig
from tests.conftest import GatewayFactory, migrated_database
from tests.router.test_request_log import wait_rows

BACKENDS = ["sqlite", "postgresql"]


def _database(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> str | None:
    return None if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_carrying_nul_and_overlong_text_are_written_and_the_log_goes_on(
    backend: str, make_gateway: GatewayFactory, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    gateway = make_gateway(
        overrides={"log": {"store_text": True}}, database_url=_database(backend, tmp_path, request)
    )
    client = gateway.client()
    for model in ("gpt-4o\u0000x", "m" * 300):  # unknown models: 404, and a log row naming them
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "x"}],
                extra_headers={"x-request-id": model[:6]},
            )
    client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "a\u0000b"}],
        extra_headers={"x-request-id": "r-nul-prompt"},
    )
    client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "fine"}],
        extra_headers={"x-request-id": "r-fine"},
    )
    rows = {str(r["id"]): r for r in wait_rows(gateway.engine, 4)}
    assert set(rows) == {"gpt-4o", "mmmmmm", "r-nul-prompt", "r-fine"}
    assert rows["gpt-4o"]["requested_model"] == "gpt-4o\ufffdx"
    assert rows["mmmmmm"]["requested_model"] == "m" * 200  # the column's length
    # the prompt is stored as JSON text, where NUL is an escape: kept exactly
    assert json.loads(str(rows["r-nul-prompt"]["prompt_text"]))[0]["content"] == "a\u0000b"
    assert rows["r-fine"]["status"] == "ok"


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unusable_client_request_id_is_replaced_by_the_gateways_own(
    backend: str, make_gateway: GatewayFactory, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    gateway = make_gateway(database_url=_database(backend, tmp_path, request))
    client = gateway.client()
    answered = []
    for given in ("r" * (ID_LENGTH + 1), "x" * ID_LENGTH, "x" * ID_LENGTH):
        response = client.chat.completions.with_raw_response.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-request-id": given},
        )
        answered.append(response.headers["x-request-id"])
        wait_rows(gateway.engine, len(answered))
    too_long, fits, again = answered
    assert too_long.startswith("req_") and fits == again == "x" * ID_LENGTH
    ids = {str(r["id"]) for r in wait_rows(gateway.engine, 3)}
    renamed = ids - {too_long, fits}
    # the repeated id is renamed within the column: 55 of its characters, "~" and 8 hex digits
    assert len(ids) == 3 and len(renamed) == 1
    (name,) = renamed
    assert len(name) == ID_LENGTH and name.startswith("x" * 55 + "~"), name


def _row(index: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": f"fit-{index:03d}",
        "created_at": datetime.now(UTC),
        "status": "ok",
        "http_status": 200,
        **changes,
    }


def _written(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {str(i) for i in connection.execute(select(requests.c.id)).scalars()}


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgresql"])
def test_a_row_the_database_refuses_is_left_out_alone_and_counted(
    backend: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    """A NOT NULL column left empty stands for any value a database refuses: the batch is written row by row
    (the log process's and the thread's path alike), the refused row is counted, the rest are written, and the
    batches after it are not held."""
    if backend == "memory":
        engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
        metadata.create_all(engine)
    else:
        engine = make_engine(migrated_database(backend, tmp_path, request))

    async def scenario() -> tuple[int, int, int]:
        writer = LogWriter(engine, requests, LogConfig(batch_size=8, flush_interval_s=0.05))
        writer.start()
        for index in range(8):
            writer.submit(_row(index, status=None) if index == 3 else _row(index))
        for index in range(8, 20):  # later batches
            writer.submit(_row(index))
        deadline = time.monotonic() + 15
        while writer.stats.written < 19 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        state = (writer.stats.written, writer.stats.refused, writer.queued)
        await writer.close()
        return state

    assert asyncio.run(scenario()) == (19, 1, 0)
    assert _written(engine) == {f"fit-{i:03d}" for i in range(20) if i != 3}
    engine.dispose()
