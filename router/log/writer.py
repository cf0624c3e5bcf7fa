"""The request log's batched writer, off the request path.

Handlers `submit()` a row and return at once. A background task hands rows in
batches from a bounded buffer to a sink (router/log/sink.py): a process of its
own for a database file or server, a worker thread for an in-memory database.
When the database is down the gateway keeps serving: rows stay buffered (up to
`buffer_max`; beyond it new rows are dropped and counted) and are written when
the database returns. A batch leaves the buffer only once the sink says it is
in, and inserts skip ids already there (router/log/inserter.py), so a retried
batch never duplicates a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table

from router.log.sink import BatchSink, ProcessSink, SinkError, ThreadSink
from router.settings import LogConfig

log = logging.getLogger("tiergate.log")

# A batch goes to the sink once this many rows wait (or the flush interval passes), with every row waiting at that
# moment up to `batch_size`: under light load batches stay small, under heavy load or a slow database they grow
# while one is in flight. Small batches keep the log process's bursts short: at c=1 a 200-row burst (~4 ms of CPU)
# delayed the requests that overlapped it (chat p99 2.40 ms against 1.40 with 16-row batches, README
# "Performance"); at c=64 16-row batches measured no cost.
WAKE_ROWS = 16


@dataclass
class WriterStats:
    written: int = 0
    dropped: int = 0
    refused: int = 0  # rows the database refused (a value or constraint), never written
    failures: int = 0
    healthy: bool = True
    last_error: str | None = None
    last_success: float | None = None


class LogWriter:
    def __init__(self, engine: Engine, table: Table, config: LogConfig) -> None:
        self.engine = engine  # the gateway's engine, for readers (the sink writes through its own)
        in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
        # an in-memory database exists only in this engine: no other process or engine can reach it
        self.sink: BatchSink = (
            ThreadSink(engine, table)
            if in_memory
            else ProcessSink(engine.url.render_as_string(hide_password=False), table)
        )
        self._config = config
        self._wake_rows = min(WAKE_ROWS, config.batch_size)
        self._buffer: deque[Any] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # one batch in flight: `flush()` may run while the background task writes, and two writers taking the same
        # head of the buffer would each pop it, dropping the rows behind it unwritten
        self._writing = asyncio.Lock()
        self.stats = WriterStats()

    @property
    def queued(self) -> int:
        return len(self._buffer)

    def submit(self, row: dict[str, Any], *, client_id: bool = False) -> None:
        """Queue one row; `client_id`: its id came from the client and may repeat."""
        if len(self._buffer) >= self._config.buffer_max:
            self.stats.dropped += 1
            return
        try:
            entry = self.sink.pack(row, client_id)
        except (TypeError, ValueError) as exc:  # a value the wire format cannot carry: a bug, never a crash
            self.stats.dropped += 1
            log.error("request log: row %s dropped, not encodable: %s", row.get("id"), exc)
            return
        self._buffer.append(entry)
        if len(self._buffer) >= self._wake_rows:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tiergate-log-writer")

    async def _flush_once(self) -> bool:
        """Write one batch; True when the buffer was written (or empty)."""
        async with self._writing:
            if not self._buffer:
                return True
            batch = [self._buffer[i] for i in range(min(self._config.batch_size, len(self._buffer)))]
            try:
                refused = await self.sink.write(batch)
            except Exception as exc:  # whatever a sink raises, the rows stay queued and the writer goes on
                self._failed(exc.kind if isinstance(exc, SinkError) else type(exc).__name__)
                return False
            if refused:
                self.stats.refused += len(refused)
                log.error(
                    "request log: the database refused %d row(s), not written: %s", len(refused), refused
                )
            self._written(len(batch) - len(refused), len(batch))
            return True

    def _failed(self, kind: str) -> None:
        self.stats.failures += 1
        if self.stats.healthy:
            log.warning("request log store unavailable, buffering rows: %s", kind)
        self.stats.healthy = False
        self.stats.last_error = kind

    def _written(self, count: int, taken: int) -> None:
        for _ in range(taken):
            self._buffer.popleft()
        self.stats.written += count
        if not self.stats.healthy:
            log.warning("request log store is back; %d rows still buffered", len(self._buffer))
        self.stats.healthy = True
        self.stats.last_success = time.time()

    async def _run(self) -> None:
        await self.sink.start()
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
                    if len(self._buffer) < self._wake_rows:
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
        await self.sink.close()
