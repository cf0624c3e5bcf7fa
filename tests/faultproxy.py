"""A small asyncio TCP fault proxy of our own, run in a thread: pass, reset, blackhole, drip, close-after-N.

Put it between the gateway and the sim, PostgreSQL or Redis to inject network faults (the kernel here
lacks netem).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Literal

Mode = Literal["pass", "reset", "blackhole", "drip", "close_after"]


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.close_after_bytes = 0
        self.drip_delay_s = 0.05
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fault-proxy")

    def start(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def set_mode(self, mode: Mode, *, drop_existing: bool = True) -> None:
        self.mode = mode
        if mode == "pass":
            self._loop.call_soon_threadsafe(self._resume_all)
        elif drop_existing:
            self._loop.call_soon_threadsafe(self._drop_all)

    def _resume_all(self) -> None:
        """A blackhole that ends: held connections carry on, as a stopped server's do after SIGCONT."""
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.resume_reading()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(Exception):
                if self.mode == "blackhole":
                    transport.pause_reading()
                else:
                    transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "reset":
            writer.transport.abort()
            return
        if self.mode == "blackhole":
            self._writers.add(writer)
            with contextlib.suppress(Exception):
                await reader.read()  # hold it open, answer nothing
            self._writers.discard(writer)
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        sent = [0]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    while self.mode == "blackhole" and not dst.transport.is_closing():
                        await asyncio.sleep(0.05)
                    if self.mode == "drip":
                        for i in range(len(data)):
                            dst.write(data[i : i + 1])
                            await dst.drain()
                            await asyncio.sleep(self.drip_delay_s)
                        continue
                    if self.mode == "close_after" and count:
                        room = self.close_after_bytes - sent[0]
                        if room <= len(data):
                            dst.write(data[: max(room, 0)])
                            await dst.drain()
                            raise ConnectionResetError
                        sent[0] += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))
        self._writers.discard(writer)
        self._writers.discard(up_writer)

    def stop(self) -> None:
        async def _close() -> None:
            for writer in list(self._writers):
                writer.transport.abort()
            if self._server is not None:
                self._server.close()
            # Let the connection handlers finish before the loop stops (else asyncio logs each one as
            # "Task was destroyed but it is pending").
            handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            if handlers:
                _, pending = await asyncio.wait(handlers, timeout=1.0)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            self._loop.stop()

        def _quiet_cancelled(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
            # Python 3.11's streams call task.exception() on a cancelled connection handler, which raises
            # CancelledError into the loop's handler: expected at stop, not worth a traceback in CI output.
            if not isinstance(context.get("exception"), asyncio.CancelledError):
                loop.default_exception_handler(context)

        self._loop.set_exception_handler(_quiet_cancelled)

        asyncio.run_coroutine_threadsafe(_close(), self._loop)
        self._thread.join(5)
