"""One log row per request, written off the request path, on SQLite and PostgreSQL, surviving DB outages."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.pool import StaticPool

from router.log import writer as writer_module
from router.log.schema import metadata, requests
from router.log.store import make_engine, upgrade
from router.log.writer import LogWriter
from router.settings import LogConfig
from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim
from tests.faultproxy import FaultProxy


def wait_rows(engine: Engine, count: int, timeout: float = 15.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        try:
            with engine.connect() as connection:
                rows = [dict(r._mapping) for r in connection.execute(select(requests))]
        except Exception:
            rows = []
        if len(rows) >= count:
            return rows
        time.sleep(0.1)
    return rows


def _exercise(gateway: Gateway) -> None:
    client = gateway.client()
    client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hello"}],
        extra_headers={"x-request-id": "r-plain"},
    )
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Solve 3x + 7 = 22"}],
        stream=True,
        extra_headers={"x-request-id": "r-stream"},
    )
    for _ in stream:
        pass


def _check_rows(engine: Engine) -> None:
    rows = {r["id"]: r for r in wait_rows(engine, 2)}
    plain, streamed = rows["r-plain"], rows["r-stream"]
    assert plain["status"] == "ok" and plain["http_status"] == 200
    assert plain["model"] == "gpt-4o" and plain["provider"] == "openai" and plain["tier"] == "hard"
    assert plain["prompt_tokens"] > 0 and plain["completion_tokens"] > 0  # type: ignore[operator]
    expected = (
        Decimal(plain["prompt_tokens"]) * Decimal("2.5") + Decimal(plain["completion_tokens"]) * 10
    ) / 10**6  # type: ignore[arg-type]
    assert Decimal(plain["cost_usd"]) == expected  # type: ignore[arg-type]
    assert plain["attempt_count"] == 1 and plain["streamed"] is False
    assert (
        streamed["streamed"] is True
        and streamed["tier"] == "reasoning"
        and streamed["model"] == "deepseek-r1"
    )
    assert streamed["reasoning_tokens"] > 0 and streamed["ttft_ms"] is not None  # type: ignore[operator]
    assert streamed["difficulty"] is not None and streamed["tier_source"] == "placeholder"
    assert plain["prompt_text"] is None


def test_rows_on_sqlite(gateway: Gateway) -> None:
    _exercise(gateway)
    _check_rows(gateway.engine)


def test_rows_on_postgres(make_gateway: GatewayFactory, postgres_url: str) -> None:
    gateway = make_gateway(database_url=postgres_url)
    _exercise(gateway)
    _check_rows(gateway.engine)


def _repeat_client_id(gateway: Gateway) -> None:
    client = gateway.client()
    for word in ("first", "second", "third"):  # the third lands in a later batch: checked against the table
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": word}],
            extra_headers={"x-request-id": "r-twice"},
        )
        if word == "second":
            wait_rows(gateway.engine, 2)
    rows = wait_rows(gateway.engine, 3)
    ids = sorted(str(r["id"]) for r in rows)
    assert len(rows) == 3 and ids[0] == "r-twice", ids
    assert all(i.startswith("r-twice~") and len(i) == len("r-twice~") + 8 for i in ids[1:]), ids
    assert len(set(ids)) == 3


def test_repeated_client_request_id_keeps_every_row(gateway: Gateway) -> None:
    _repeat_client_id(gateway)


def test_repeated_client_request_id_keeps_every_row_on_postgres(
    make_gateway: GatewayFactory, postgres_url: str
) -> None:
    _repeat_client_id(make_gateway(database_url=postgres_url))


def test_failed_request_is_logged_with_attempts(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=400))
    httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
        headers={"x-request-id": "r-bad"},
    )
    (row,) = wait_rows(gateway.engine, 1)
    assert row["status"] == "error" and row["http_status"] == 400 and row["attempt_count"] == 1
    assert row["attempts"][0]["status"] == 400  # type: ignore[index]


def test_text_only_when_enabled(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides={"log": {"store_text": True}})
    gateway.client().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "secret plan"}]
    )
    (row,) = wait_rows(gateway.engine, 1)
    assert "secret plan" in str(row["prompt_text"]) and row["completion_text"]


def test_postgres_outage_buffers_and_recovers(make_gateway: GatewayFactory, postgres_url: str) -> None:
    """The DB goes away: requests still succeed, /ready says degraded, rows land once it is back."""
    from sqlalchemy.engine import make_url

    real = make_url(postgres_url)
    proxy = FaultProxy(real.host or "127.0.0.1", real.port or 5432).start()
    try:
        proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        gateway = make_gateway(database_url=proxied)
        client = gateway.client()
        proxy.set_mode("reset")
        for i in range(20):
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"hi {i}"}],
                extra_headers={"x-request-id": f"down-{i}"},
            )
        time.sleep(1.0)
        ready = httpx.get(f"{gateway.url}/ready", timeout=10).json()
        assert ready["status"] == "degraded"
        assert ready["checks"]["log_writer"]["queued"] == 20
        proxy.set_mode("pass")
        rows = wait_rows(gateway.engine, 20, timeout=20)
        assert len(rows) == 20 and len({r["id"] for r in rows}) == 20
        assert httpx.get(f"{gateway.url}/ready", timeout=10).json()["status"] == "ready"
    finally:
        proxy.stop()


def test_serve_refuses_db_behind(tmp_path: object) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path}/empty.db"
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "serve", "--port", "1"],
        env={"TIERGATE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "tiergate db upgrade" in result.stderr


def test_unused_count_helper_is_real(gateway: Gateway) -> None:
    with gateway.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(requests)).scalar() == 0


@pytest.mark.parametrize("bad", ["models: [1, 2]", "models:\n  m: {provider: nope, upstream: x}"])
def test_bad_config_refused_with_file_and_key(tmp_path: object, bad: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    path = Path(str(tmp_path)) / "bad.yaml"
    path.write_text(bad)
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert str(path) in result.stderr and "models" in result.stderr


def test_client_id_taken_by_another_process_mid_flush_keeps_both_rows(postgres_url: str) -> None:
    """Another gateway process holds an uncommitted row with the same client x-request-id while this writer
    flushes: a look-up before the insert cannot see it, so this writer's row must survive by its insert's
    own result (renamed once the other commits), not be skipped as a duplicate."""
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    writer = LogWriter(engine, requests, LogConfig())
    created = datetime.now(UTC)

    async def flush_ours() -> None:
        writer.submit(
            {"id": "race-1", "created_at": created, "status": "ok", "http_status": 200}, client_id=True
        )
        await writer.close()

    with engine.connect() as other_process:
        transaction = other_process.begin()
        other_process.execute(
            requests.insert().values(id="race-1", created_at=created, status="other", http_status=200)
        )
        flusher = threading.Thread(target=asyncio.run, args=(flush_ours(),))
        flusher.start()
        time.sleep(0.5)  # this writer's insert now waits on the other process's uncommitted row
        transaction.commit()
    flusher.join(15)
    assert not flusher.is_alive()
    with engine.connect() as connection:
        rows = connection.execute(
            select(requests.c.id, requests.c.status).where(requests.c.id.like("race-1%"))
        ).all()
    engine.dispose()
    assert sorted(status for _, status in rows) == ["ok", "other"], rows
    ours = next(i for i, status in rows if status == "ok")
    assert ours.startswith("race-1~") and len(ours) == len("race-1~") + 8


def _log_row(index: int) -> dict[str, object]:
    return {"id": f"req-{index:04d}", "created_at": datetime.now(UTC), "status": "ok", "http_status": 200}


def _count_rows(path: str, *, main_file_only: bool = False) -> int:
    # immutable=1 reads the main database file alone, as if the WAL were not there: what checkpoints copied
    uri = f"file:{path}?immutable=1" if main_file_only else f"file:{path}"
    connection = sqlite3.connect(uri, uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM requests").fetchone()[0])
    finally:
        connection.close()


def test_sqlite_writer_waits_out_another_writers_lock_without_holding_the_loop(tmp_path: Path) -> None:
    """SQLite rows are written on the event loop, so its connection must never wait for a lock (SQLite's busy
    wait would stall every request) nor checkpoint (an fsync). A database locked by another process is not an
    outage: the rows stay queued and go in, once each, when the lock is gone."""
    path = str(tmp_path / "locked.db")
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect():
        pass  # as the gateway's start does: the file is in WAL mode from here on
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # holds the write lock

    async def scenario() -> tuple[tuple[int, int], int, tuple[bool, int, bool]]:
        writer = LogWriter(engine, requests, LogConfig(batch_size=50))
        with writer._engine.connect() as connection:
            pragmas = (
                int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()),
                int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()),
            )
        for index in range(40):
            writer.submit(_log_row(index))
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        ticking = asyncio.create_task(ticker())
        flushing = asyncio.create_task(writer.flush(timeout=10))
        await asyncio.sleep(0.3)
        held = (flushing.done(), writer.queued, writer.stats.healthy)
        ticked = ticks
        other_process.rollback()
        assert await flushing
        ticking.cancel()
        await writer.close()
        assert writer.queued == 0
        return pragmas, ticked, held

    pragmas, ticked, held = asyncio.run(scenario())
    other_process.close()
    assert pragmas == (0, 0)
    # the loop ran meanwhile: ~60 ticks of 5 ms in 0.3 s when free, two or three behind a busy wait
    assert ticked > 15, ticked
    assert held == (False, 40, True)
    assert _count_rows(path) == 40
    engine.dispose()


def test_sqlite_writer_leaves_checkpoints_to_its_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop's connection never checkpoints the WAL (a checkpoint fsyncs); the writer's thread does, every
    so many rows, so the main database file still receives the rows."""
    monkeypatch.setattr(writer_module, "_CHECKPOINT_ROWS", 16)
    path = str(tmp_path / "wal.db")
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    assert _count_rows(path, main_file_only=True) == 0

    async def scenario() -> tuple[int, int]:
        writer = LogWriter(engine, requests, LogConfig(batch_size=50))
        for index in range(10):
            writer.submit(_log_row(index))
        assert await writer.flush()
        # fewer rows than a checkpoint's worth: in the WAL only (a connection that checkpointed would put them
        # in the main file, as the last connection's close does)
        before = _count_rows(path, main_file_only=True)
        for index in range(10, 50):
            writer.submit(_log_row(index))
        assert await writer.flush()
        while writer._checkpoint is not None:
            await asyncio.sleep(0.01)
        after = _count_rows(path, main_file_only=True)
        await writer.close()
        return before, after

    before, after = asyncio.run(scenario())
    assert before == 0
    assert after >= 16
    assert _count_rows(path) == 50
    engine.dispose()


def test_sqlite_wal_stays_bounded_while_rows_keep_coming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoints run on the writer's thread while the loop keeps writing: they must still restart the WAL,
    or it grows by every row ever written."""
    monkeypatch.setattr(writer_module, "_CHECKPOINT_ROWS", 100)
    path = str(tmp_path / "bounded.db")
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")

    async def scenario() -> int:
        writer = LogWriter(engine, requests, LogConfig(batch_size=50))
        writer.start()
        for index in range(4000):
            writer.submit(_log_row(index))
            if index % 20 == 0:
                await asyncio.sleep(0)
        assert await writer.flush()
        while writer._checkpoint is not None:
            await asyncio.sleep(0.01)
        # frames in the WAL since it last restarted (the PASSIVE checkpoint's second figure)
        other = sqlite3.connect(path)
        frames = int(other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        other.close()
        await writer.close()
        return frames

    frames = asyncio.run(scenario())
    assert _count_rows(path) == 4000
    # 4,000 rows leave ~2,300 frames when the WAL never restarts; a checkpoint every 100 rows, a few dozen
    assert frames < 600, frames
    engine.dispose()


def test_in_memory_sqlite_log_is_written_through_its_own_engine() -> None:
    """An in-memory database exists only inside its engine: the writer must not open a second one for the loop
    (it would write to an empty database of its own)."""
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    metadata.create_all(engine)

    async def scenario() -> bool:
        writer = LogWriter(engine, requests, LogConfig())
        for index in range(20):
            writer.submit(_log_row(index))
        flushed = await writer.flush()
        await writer.close()
        return flushed

    assert asyncio.run(scenario())
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(requests)).scalar_one() == 20
    engine.dispose()
