"""The request log's batched writer, off the request path.

Handlers `submit()` a row and return at once. A background task writes rows in
batches from a bounded buffer. When the database is down the gateway keeps
serving: rows stay buffered (up to `buffer_max`; beyond it new rows are dropped
and counted) and are written when the database returns. Inserts skip ids that
are already there, so a batch retried after an ambiguous failure never
duplicates a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from router.log.bulk import BulkInsert
from router.settings import LogConfig

log = logging.getLogger("tiergate.log")

# A row key (not a column) the writer sets on rows whose id the client chose (x-request-id). Inserts skip ids that
# are already there, which makes a retried batch harmless; a client that sends the same x-request-id twice would lose
# its second row that way. Such rows are inserted one by one instead, and when the id is taken (by an earlier row,
# or by another gateway process's row committed first) the row is stored as "<id>~<8 hex>". Gateway-made ids
# (time-ordered, 80 random bits) take the batch insert.
_CLIENT_ID = "_client_id"
_FIRST_TRY, _TRIED = 1, 2


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
        self._engine = engine
        self.engine = engine
        self._table = table
        self._config = config
        self._buffer: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # One thread: writes are serialised (SQLite wants that) and never touch the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiergate-log")
        self._statement = insert_ignoring_duplicates(engine, table)
        self._bulk = BulkInsert(engine, table, self._statement)
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
        batch = [self._buffer[i] for i in range(min(self._config.batch_size, len(self._buffer)))]
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._write, batch)
        except Exception as exc:
            self.stats.failures += 1
            if self.stats.healthy:
                log.warning("request log store unavailable, buffering rows: %s", type(exc).__name__)
            self.stats.healthy = False
            self.stats.last_error = type(exc).__name__
            return False
        for _ in batch:
            self._buffer.popleft()
        self.stats.written += len(batch)
        if not self.stats.healthy:
            log.warning("request log store is back; %d rows still buffered", len(self._buffer))
        self.stats.healthy = True
        self.stats.last_success = time.time()
        return True

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
        self._executor.shutdown(wait=False)
