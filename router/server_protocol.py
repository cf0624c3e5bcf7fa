"""uvicorn's httptools protocol, with a response's head and its first body bytes leaving in one write.

uvicorn writes the status line and headers with one `transport.write` and each body
message with another, so a plain JSON answer costs two `write` syscalls and two TCP
segments, and on loopback the sender's syscall also does the receiver's TCP work.
Holding the head until the body's first bytes (or until the event loop's next turn,
so a stream whose first chunk is slow still gets its headers at once) made one
write of the two. Measured here (median of 3-5 interleaved runs, one worker): the
floor at c=64 +13% req/s, 0.150 -> 0.132 ms CPU per request; tiergate at c=1 p50
0.61 -> 0.50 ms, CPU 0.529 -> 0.471 ms; streams at c=16 +15% req/s, TTFB
9.3 -> 7.9 ms.

`tiergate serve`, the test servers (`router.serving.ServerThread`) and the
benchmark's floor all run on it, so "the same server" stays the same.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# uvicorn's response head: its status line always says HTTP/1.1, and the head ends with an empty line.
_HEAD_START = b"HTTP/1.1 "
_HEAD_END = b"\r\n\r\n"
# Above this, the held head and the body go out as two buffers in one writev rather than one joined copy.
_JOIN_BELOW = 64 * 1024


class HeadHoldingTransport:
    """Wraps the connection's transport: a response head is held until the next write, or the loop's next
    turn, whichever comes first; every other write passes straight through, always in order."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) < _JOIN_BELOW:
                self._transport.write(held + bytes(data))
            else:
                self._transport.writelines((held, data))
        elif isinstance(data, bytes) and data.startswith(_HEAD_START) and data.endswith(_HEAD_END):
            self._held = data
            self._loop.call_soon(self.release)
        else:
            self._transport.write(data)

    def release(self) -> None:
        """Send a held head now (nothing followed it within the loop's turn, or the connection closes)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def is_closing(self) -> bool:  # asked once per request: spared the __getattr__ detour
        return self._transport.is_closing()

    def close(self) -> None:
        self.release()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HeadHoldingProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, HeadHoldingTransport(transport, self.loop)))


# The server every tiergate process runs, stated once so that `tiergate serve`, `tiergate sim`, the test servers
# and the benchmark's floor cannot drift apart: `uvicorn.run(app, **UVICORN_SERVER, ...)`, or uvicorn's command
# line UVICORN_ARGS.
UVICORN_SERVER: dict[str, Any] = {
    "loop": "uvloop",
    "http": HeadHoldingProtocol,
    # tiergate's own access log is `observability.access_log`; uvicorn's, even with its logger silenced, formats the
    # client address and quoted path of every response before the level check.
    "access_log": False,
    # tiergate reads no client address (keys identify callers); the proxy-headers middleware would rewrite it from
    # X-Forwarded-For on every request for nothing.
    "proxy_headers": False,
}
PROTOCOL_PATH = f"{HeadHoldingProtocol.__module__}:{HeadHoldingProtocol.__qualname__}"
UVICORN_ARGS = [
    "--loop",
    UVICORN_SERVER["loop"],
    "--http",
    PROTOCOL_PATH,
    "--access-log" if UVICORN_SERVER["access_log"] else "--no-access-log",
    "--proxy-headers" if UVICORN_SERVER["proxy_headers"] else "--no-proxy-headers",
]
