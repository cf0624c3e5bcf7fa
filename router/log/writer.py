"""The request log's batched writer, off the request path.

Handlers `submit()` a row and return at once. A background task writes rows in
batches from a bounded buffer. When the database is down the gateway keeps
serving: rows stay buffered (up to `buffer_max`; beyond it new rows are dropped
and counted) and are written when the database returns. Inserts skip ids that
are already there, so a batch retried after an ambiguous failure never
duplicates a row.

Where the writing happens is chosen by measurement. PostgreSQL: on one worker
thread (network waits release the GIL). SQLite: on the event loop itself, one
multi-row INSERT of up to SLICE rows (its own transaction) between the loop's
other work, each row's values converted when it was submitted. A writer thread
beside the loop made the GIL change hands several times per row (~3.5 futex
calls per request at c=64); on the loop, c=64 CPU per request went from 0.527
to 0.402 ms in an A/B (README, "Performance"). SQLite waits for no lock there
(busy timeout 0: a locked database is tried again 10 ms later) and leaves WAL
checkpoints, which fsync, to the thread (RESTART mode, every 1,000 rows: ~3 MB of WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError

from router.log.bulk import SLICE, BulkInsert
from router.log.store import make_engine
from router.settings import LogConfig

log = logging.getLogger("tiergate.log")

# A row key (not a column) the writer sets on rows whose id the client chose (x-request-id). Inserts skip ids that
# are already there, which makes a retried batch harmless; a client that sends the same x-request-id twice would lose
# its second row that way. Such rows are inserted one by one instead, and when the id is taken (by an earlier row,
# or by another gateway process's row committed first) the row is stored as "<id>~<8 hex>". Gateway-made ids
# (time-ordered, 80 random bits) take the batch insert.
_CLIENT_ID = "_client_id"
_FIRST_TRY, _TRIED = 1, 2
# SQLite on the loop: a locked database (another process mid-write) is tried again after this long, quietly, for up to
# _LOCKED_GRACE_S; only then is the store reported unavailable.
_LOCKED_RETRY_S = 0.01
_LOCKED_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_LOCKED_GRACE_S = 2.0
# rows written between two WAL checkpoints (the loop's connection never checkpoints itself)
_CHECKPOINT_ROWS = 1000


@dataclass
class WriterStats:
    written: int = 0
    dropped: int = 0
    failures: int = 0
    healthy: bool = True
    last_error: str | None = None
    last_success: float | None = None


def insert_ignoring_duplicates(engine: Engine, table: Table) -> Insert:
    if engine.dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=["id"])
    if engine.dialect.name == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=["id"])
    return table.insert()


class LogWriter:
    def __init__(self, engine: Engine, table: Table, config: LogConfig) -> None:
        self.engine = engine  # the shared engine (readers, checkpoints)
        # (an in-memory database exists only in its own engine: written from the thread through that engine)
        self._inline = engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")
        # SQLite's writes run on the loop through a connection that never waits for a lock or checkpoints
        self._engine = (
            make_engine(engine.url.render_as_string(hide_password=False), busy_timeout_s=0, checkpoints=False)
            if self._inline
            else engine
        )
        self._table = table
        self._config = config
        self._buffer: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # One thread: PostgreSQL's writes and SQLite's checkpoints, serialised, never on the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiergate-log")
        self._statement = insert_ignoring_duplicates(engine, table)
        self._bulk = BulkInsert(engine, table, self._statement)
        self._locked_since: float | None = None
        self._since_checkpoint = 0
        self._checkpoint: asyncio.Future[None] | None = None
        self.stats = WriterStats()

    @property
    def queued(self) -> int:
        return len(self._buffer)

    def submit(self, row: dict[str, Any], *, client_id: bool = False) -> None:
        """Queue one row; `client_id`: its id came from the client and may repeat."""
        if len(self._buffer) >= self._config.buffer_max:
            self.stats.dropped += 1
            return
        if client_id:
            row[_CLIENT_ID] = _FIRST_TRY
        else:
            self._bulk.prepare(row)
        self._buffer.append(row)
        if len(self._buffer) >= self._config.batch_size:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tiergate-log-writer")

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self._engine.begin() as connection:
            generated = [row for row in rows if _CLIENT_ID not in row]
            if generated:
                self._bulk.execute(connection, generated)
            for row in rows:
                if _CLIENT_ID in row:
                    self._insert_client_row(connection, row)

    def _insert_client_row(self, connection: Connection, row: dict[str, Any]) -> None:
        # A taken id on the row's first try belongs to another row: rename and insert again. On a retry (the batch
        # failed after this row went in, perhaps ambiguously: committed but unacknowledged) it is this row.
        first_try = row[_CLIENT_ID] == _FIRST_TRY
        row[_CLIENT_ID] = _TRIED
        base = row["id"]
        while not self._bulk.insert_one(connection, row) and first_try:
            row["id"] = f"{base}~{os.urandom(4).hex()}"

    async def _flush_once(self) -> bool:
        """Write one batch; True when the buffer was written (or empty)."""
        if not self._buffer:
            return True
        if self._inline:
            return await self._flush_inline()
        batch = [self._buffer[i] for i in range(min(self._config.batch_size, len(self._buffer)))]
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._write, batch)
        except Exception as exc:
            self._failed(exc)
            return False
        self._written(len(batch))
        return True

    async def _flush_inline(self) -> bool:
        """SQLite: up to one batch, SLICE rows a statement, each its own transaction, the loop free in between."""
        left = min(self._config.batch_size, len(self._buffer))
        while left > 0 and self._buffer:
            part = [self._buffer[i] for i in range(min(SLICE, left, len(self._buffer)))]
            try:
                self._write(part)
            except Exception as exc:
                if self._locked(exc):
                    await asyncio.sleep(_LOCKED_RETRY_S)
                    continue
                self._failed(exc)
                return False
            self._locked_since = None
            self._written(len(part))
            left -= len(part)
            self._since_checkpoint += len(part)
            if self._since_checkpoint >= _CHECKPOINT_ROWS and self._checkpoint is None:
                self._since_checkpoint = 0
                self._checkpoint = asyncio.get_running_loop().run_in_executor(
                    self._executor, self._wal_checkpoint
                )
                self._checkpoint.add_done_callback(self._checkpointed)
            await asyncio.sleep(0)
        return True

    def _locked(self, exc: Exception) -> bool:
        """A database locked by another writer: quietly retried for a grace period, then a failure like any."""
        code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
        # the primary code (low byte): SQLITE_BUSY_SNAPSHOT and the other extended codes are busy too
        if not isinstance(exc, OperationalError) or code is None or code & 0xFF not in _LOCKED_CODES:
            return False
        now = time.monotonic()
        if self._locked_since is None:
            self._locked_since = now
        return now - self._locked_since < _LOCKED_GRACE_S

    def _wal_checkpoint(self) -> None:
        # RESTART, not PASSIVE: the loop keeps appending while this runs, so a passive checkpoint never finds the
        # WAL wholly copied and the WAL grew without end (160 MB after 64k rows). RESTART takes the write lock
        # for the copy (the loop's writes meet a locked database and are retried 10 ms later) and makes the next
        # write start the WAL from its beginning.
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)")

    def _checkpointed(self, done: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not done.cancelled() and done.exception() is not None:
            log.warning("request log: WAL checkpoint failed: %s", type(done.exception()).__name__)

    def _failed(self, exc: Exception) -> None:
        self.stats.failures += 1
        if self.stats.healthy:
            log.warning("request log store unavailable, buffering rows: %s", type(exc).__name__)
        self.stats.healthy = False
        self.stats.last_error = type(exc).__name__

    def _written(self, count: int) -> None:
        for _ in range(count):
            self._buffer.popleft()
        self.stats.written += count
        if not self.stats.healthy:
            log.warning("request log store is back; %d rows still buffered", len(self._buffer))
        self.stats.healthy = True
        self.stats.last_success = time.time()

    async def _run(self) -> None:
        backoff = 0.1
        while not self._closing:
            # asyncio.timeout, not wait_for: wait_for wraps the wait in a task of its own, so the process's task
            # count flickered with the writer's state and a leak check could not tell growth from that.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._config.flush_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            while self._buffer and not self._closing:
                if await self._flush_once():
                    backoff = 0.1
                    if len(self._buffer) < self._config.batch_size:
                        break
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    break

    async def flush(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while self._buffer and time.monotonic() < deadline:
            if not await self._flush_once():
                await asyncio.sleep(0.2)
        return not self._buffer

    async def close(self, timeout: float = 10.0) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush(timeout)
        if self._buffer:
            log.error("request log: %d rows could not be written before shutdown", len(self._buffer))
        if self._inline:
            self._engine.dispose()
        self._executor.shutdown(wait=False)
