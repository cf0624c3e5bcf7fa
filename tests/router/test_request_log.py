"""One log row per request, written off the request path, on SQLite and PostgreSQL, surviving DB outages."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.pool import StaticPool

from router.log import sink as sink_module
from router.log.schema import metadata, requests
from router.log.sink import ProcessSink
from router.log.store import make_engine, upgrade
from router.log.writer import WAKE_ROWS, LogWriter
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


def _log_process(writer: LogWriter) -> int:
    sink = writer.sink
    assert isinstance(sink, ProcessSink) and sink.pid is not None
    return sink.pid


def test_sqlite_rows_wait_out_another_writers_lock_in_the_log_process(tmp_path: Path) -> None:
    """Rows are written by the log process, which may wait for another process's write lock; the event loop
    never does. A locked database is not an outage: the rows stay queued and go in, once each, after."""
    path = str(tmp_path / "locked.db")
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect():
        pass  # as the gateway's start does: the file is in WAL mode from here on
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # holds the write lock

    async def scenario() -> tuple[int, tuple[bool, int, bool]]:
        writer = LogWriter(engine, requests, LogConfig(batch_size=50))
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
        await asyncio.sleep(0.5)
        held = (flushing.done(), writer.queued, writer.stats.healthy)
        ticked = ticks
        other_process.rollback()
        assert await flushing
        ticking.cancel()
        await writer.close()
        assert writer.queued == 0
        return ticked, held

    ticked, held = asyncio.run(scenario())
    other_process.close()
    # the loop ran meanwhile: ~100 ticks of 5 ms in 0.5 s when free, a few behind a busy wait
    assert ticked > 25, ticked
    assert held == (False, 40, True)
    assert _count_rows(path) == 40
    engine.dispose()


def test_sqlite_wal_stays_bounded_and_reaches_the_main_file(tmp_path: Path) -> None:
    """The log process checkpoints the WAL as SQLite does by default (at commit, past 1,000 pages): the rows
    reach the main database file and the WAL restarts instead of growing by every row ever written."""
    path = str(tmp_path / "bounded.db")
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")

    async def scenario() -> int:
        writer = LogWriter(engine, requests, LogConfig(batch_size=200))
        writer.start()
        for index in range(12_000):
            writer.submit(_log_row(index))
            if index % 100 == 0:
                await asyncio.sleep(0)
        assert await writer.flush(timeout=30)
        # frames in the WAL since it last restarted (the PASSIVE checkpoint's second figure)
        other = sqlite3.connect(path)
        frames = int(other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        other.close()
        await writer.close()
        return frames

    in_main_file_before = _count_rows(path, main_file_only=True)
    frames = asyncio.run(scenario())
    assert _count_rows(path) == 12_000
    # 12,000 rows are ~3,000 pages of WAL when it never restarts; SQLite's own checkpoint restarts it at 1,000
    assert frames < 1_100, frames
    assert in_main_file_before == 0
    engine.dispose()


def test_log_process_killed_between_batches_is_replaced_and_loses_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "killed.db")
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")

    async def scenario() -> tuple[int, int]:
        writer = LogWriter(engine, requests, LogConfig(batch_size=20))
        for index in range(20):
            writer.submit(_log_row(index))
        assert await writer.flush()
        first = _log_process(writer)
        os.kill(first, signal.SIGKILL)
        for index in range(20, 60):
            writer.submit(_log_row(index))
        assert await writer.flush(timeout=15)
        second = _log_process(writer)
        await writer.close()
        return first, second

    first, second = asyncio.run(scenario())
    assert first != second
    assert _count_rows(path) == 60
    engine.dispose()


def test_hung_log_process_is_killed_and_the_batch_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log process that stops answering (stopped here with SIGSTOP) is killed after the reply timeout; the
    batch stays queued, the store reads unhealthy meanwhile, and a new process writes it."""
    path = str(tmp_path / "hung.db")
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")

    async def scenario() -> tuple[bool, int, str | None]:
        writer = LogWriter(engine, requests, LogConfig(batch_size=10))
        writer.submit(_log_row(0))
        assert await writer.flush()
        # A short reply timeout only once the process is up: a new process's first answer includes its start-up
        # (imports: ~0.3 s quiet, over 0.5 s on a loaded CI box), and 0.5 s there would kill every new process
        # before it answered.
        monkeypatch.setattr(sink_module, "REPLY_TIMEOUT_S", 0.5)
        hung = _log_process(writer)
        os.kill(hung, signal.SIGSTOP)
        for index in range(1, 11):
            writer.submit(_log_row(index))
        first_try = await writer._flush_once()
        state = (first_try, writer.queued, writer.stats.last_error)
        monkeypatch.setattr(sink_module, "REPLY_TIMEOUT_S", 30)  # the replacement's first answer: see above
        assert await writer.flush(timeout=10)
        assert _log_process(writer) != hung
        await writer.close()
        return state

    state = asyncio.run(scenario())
    assert state == (False, 10, "log process: TimeoutError")
    assert _count_rows(path) == 11
    engine.dispose()


def test_log_process_gets_the_database_url_off_its_command_line(postgres_url: str) -> None:
    """The URL (and a password in it) goes down the pipe, not into argv, which any local user can read."""
    from sqlalchemy.engine import make_url

    upgrade(postgres_url)
    with_password = make_url(postgres_url).set(password="hunter2-secret")  # trust auth: any password works
    engine = make_engine(with_password.render_as_string(hide_password=False))

    async def scenario() -> tuple[bytes, int]:
        writer = LogWriter(engine, requests, LogConfig())
        writer.submit(_log_row(0) | {"id": f"argv-{os.getpid()}-{time.time_ns()}"})
        assert await writer.flush()
        command_line = Path(f"/proc/{_log_process(writer)}/cmdline").read_bytes()
        session = os.getsid(_log_process(writer))
        await writer.close()
        return command_line, session

    command_line, session = asyncio.run(scenario())
    engine.dispose()
    assert b"hunter2" not in command_line and b"postgresql" not in command_line
    # its own session: a Ctrl+C meant for the gateway does not kill the log process before the last flush
    assert session != os.getsid(0)


def test_log_process_exits_when_the_gateway_dies_without_closing(tmp_path: Path) -> None:
    path = str(tmp_path / "orphan.db")
    upgrade(f"sqlite:///{path}")
    script = f"""
import asyncio, os
from router.log.schema import requests
from router.log.store import make_engine
from router.log.sink import ProcessSink
from router.log.writer import WAKE_ROWS, LogWriter
from router.settings import LogConfig
from tests.router.test_request_log import _log_row

async def main():
    writer = LogWriter(make_engine("sqlite:///{path}"), requests, LogConfig())
    writer.submit(_log_row(0))
    assert await writer.flush()
    print(writer.sink.pid, flush=True)
    os._exit(0)  # no close: the log process's stdin ends with this process

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    child = int(result.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, os.WNOHANG)  # not ours to reap; /proc tells when it is gone or a zombie
        if "Z" in _process_state(child):
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or "Z" in _process_state(child)
    assert _count_rows(path) == 1


def _process_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


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


def test_a_few_waiting_rows_are_written_without_waiting_for_a_full_batch(tmp_path: Path) -> None:
    """Small batches keep the log process's bursts short (router/log/writer.py, WAKE_ROWS): WAKE_ROWS rows are
    sent at once, long before `batch_size` rows or the flush interval."""
    path = str(tmp_path / "small.db")
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")

    async def scenario() -> tuple[int, int]:
        writer = LogWriter(engine, requests, LogConfig(batch_size=200, flush_interval_s=60))
        writer.start()
        for index in range(WAKE_ROWS - 1):
            writer.submit(_log_row(index))
        await asyncio.sleep(1.0)
        short_of_it = _count_rows(path)
        writer.submit(_log_row(WAKE_ROWS))
        deadline = time.monotonic() + 10
        while _count_rows(path) < WAKE_ROWS and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        written = _count_rows(path)
        await writer.close()
        return short_of_it, written

    short_of_it, written = asyncio.run(scenario())
    assert (short_of_it, written) == (0, WAKE_ROWS)
    engine.dispose()


def test_a_sink_failing_in_an_unforeseen_way_leaves_the_rows_queued_and_the_writer_running() -> None:
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    metadata.create_all(engine)

    async def scenario() -> tuple[str | None, int, int]:
        writer = LogWriter(engine, requests, LogConfig(batch_size=5, flush_interval_s=0.05))
        real_write = writer.sink.write
        calls = 0

        async def write_failing_once(entries: list[object]) -> list[str]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("a bug in a sink")
            return await real_write(entries)

        writer.sink.write = write_failing_once  # type: ignore[method-assign]
        writer.start()
        for index in range(5):
            writer.submit(_log_row(index))
        deadline = time.monotonic() + 10
        while writer.stats.written < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        state = (writer.stats.last_error, writer.stats.failures, writer.stats.written)
        await writer.close()
        return state

    assert asyncio.run(scenario()) == ("RuntimeError", 1, 5)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(requests)).scalar_one() == 5
    engine.dispose()
