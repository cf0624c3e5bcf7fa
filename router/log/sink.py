"""Where the request log's batches are written: a process of their own, or a thread for an in-memory database.

The log process exists for the event loop's sake. Converting and inserting a row
costs ~30 us of interpreter time; on a thread beside the loop that time holds
the GIL the loop needs (the GIL changed hands ~3.5 times a request at c=64),
and on the loop itself each statement held every request behind it. In a
process of its own it shares nothing with the loop: the gateway only encodes
each row (msgpack, ~2 us) and sends a batch down a pipe (README, "Performance").

Both sinks take queued entries made by their own `pack` and either write all of a
batch or raise `SinkError`, leaving the entries ready for a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import msgspec
from sqlalchemy import Engine, Table

from router.log.inserter import CLIENT_ID, FIRST_TRY, TRIED, RowInserter

log = logging.getLogger("tiergate.log")

# The log process's database work is bounded by its engine (SQLite's busy timeout, PostgreSQL's connect and
# statement timeouts and keepalives, ~25 s at worst); a reply later than this means it is stuck: it is killed.
REPLY_TIMEOUT_S = 60.0
_ROOT = str(Path(__file__).resolve().parent.parent.parent)
# -c, not -m: -m would put the working directory first on the path, where another `router` could shadow ours
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from router.log.child import main; main()"


class SinkError(Exception):
    """A batch was not written; `kind` names the cause (the database error's class name)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class BatchSink(Protocol):
    def pack(self, row: dict[str, Any], client_id: bool) -> Any: ...

    async def start(self) -> None: ...

    async def write(self, entries: list[Any]) -> list[str]:
        """Write the batch, or raise SinkError; returns the ids of rows the database refused (never written)."""
        ...

    async def close(self) -> None: ...


class ThreadSink:
    """Rows written on one worker thread through the gateway's own engine (an in-memory SQLite database exists
    only in that engine). Entries are the row dicts themselves."""

    def __init__(self, engine: Engine, table: Table) -> None:
        self._inserter = RowInserter(engine, table)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiergate-log")

    def pack(self, row: dict[str, Any], client_id: bool) -> Any:
        if client_id:
            row[CLIENT_ID] = FIRST_TRY
        return row

    async def start(self) -> None:
        pass

    async def write(self, entries: list[Any]) -> list[str]:
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._inserter.write, entries
            )
        except Exception as exc:
            raise SinkError(type(exc).__name__) from exc

    async def close(self) -> None:
        self._executor.shutdown(wait=False)


# Frames on the pipe: 4-byte big-endian length, then msgpack. The first frames to the child are the database URL
# (not argv, where `ps` would show its password) and the table's name; then each batch is a list of [client mark, id or None, row].
# Replies: [] when the batch is in; [None, [id, ...]] when it is in but for the rows the database refused (never
# written, router/log/inserter.py); [error class name, {index: id}] when it is not, naming the client-id rows tried.
_encoder = msgspec.msgpack.Encoder()
_reply = msgspec.msgpack.Decoder(list[Any])


_HEADER = 4  # bytes of big-endian length before each frame's payload


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(_HEADER, "big") + payload


def frame_size(header: bytes) -> int:
    return int.from_bytes(header, "big")


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next frame's payload from a blocking stream (the log process's stdin); None at its end."""
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        return None
    size = frame_size(header)
    payload = stream.read(size)
    return payload if len(payload) == size else None


class ProcessSink:
    """Rows written by `router.log.child` in a process of its own, started on first use and again after it dies.
    Entries are [client mark, id or None, the row as msgpack]: encoded once, at submit."""

    def __init__(self, database_url: str, table: Table) -> None:
        self._url = database_url
        self._table_name = table.name  # a table of router.log.schema's metadata, looked up there by the child
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def pack(self, row: dict[str, Any], client_id: bool) -> Any:
        return [FIRST_TRY if client_id else 0, None, msgspec.Raw(_encoder.encode(row))]

    async def start(self) -> None:
        """Start the process ahead of the first batch (it takes ~0.3 s to import what it needs)."""
        with contextlib.suppress(OSError):
            await self._started()

    async def _started(self) -> asyncio.subprocess.Process:
        process = self._process
        if process is None or process.returncode is not None:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _BOOT,
                _ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                # its own session: a Ctrl+C in the terminal reaches the gateway, which flushes through the child
                # before it closes the pipe; the child must not die first
                start_new_session=True,
            )
            assert process.stdin is not None
            process.stdin.write(frame(self._url.encode()) + frame(self._table_name.encode()))
            self._process = process
        return process

    async def write(self, entries: list[Any]) -> list[str]:
        try:
            process = await self._started()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(frame(_encoder.encode(entries)))
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                await process.stdin.drain()
                size = frame_size(await process.stdout.readexactly(_HEADER))
                reply = _reply.decode(await process.stdout.readexactly(size))
        except (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError, msgspec.DecodeError) as exc:
            # The child died, hung or garbled its answer mid-batch: whether it reached a client-id row is unknown. Marking them tried
            # errs toward keeping the row's id (a retry then never inserts the row a second time).
            self._kill()
            for entry in entries:
                if entry[0] == FIRST_TRY:
                    entry[0] = TRIED
            raise SinkError(f"log process: {type(exc).__name__}") from exc
        if not reply:
            return []
        if reply[0] is None:
            return [str(row_id) for row_id in reply[1]]
        kind, tried = str(reply[0]), dict(reply[1])
        for index, row_id in tried.items():
            entries[index][0], entries[index][1] = TRIED, row_id
        raise SinkError(kind)

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
        if process.stdin is not None:
            process.stdin.close()  # our end of its pipe: the transport finishes once the process is gone

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()  # end of input: the child disposes of its engine and exits
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            log.warning("request log: the log process did not exit; killed")
            process.kill()
            await process.wait()
