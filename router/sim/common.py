"""What every simulated dialect shares: the context, body reading and fault application."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from router.api.asgi import Receive, Scope, Send
from router.sim.faults import AttemptRecord, FaultBook, FaultRule

encode = msgspec.json.Encoder().encode
decode = msgspec.json.Decoder().decode


class SimulatedReset(Exception):
    """Raised inside a response: the server drops the connection without finishing it."""


@dataclass
class SimContext:
    faults: FaultBook = field(default_factory=FaultBook)
    latency_ms: float = 0.0
    chunk_ms: float = 0.0
    prompt_cache: set[str] = field(default_factory=set)  # prefixes a provider has cached (Anthropic)


@dataclass
class SimRequest:
    provider: str
    dialect: str
    model: str
    body: dict[str, Any]
    request_id: str | None
    stream: bool
    prompt: str
    receive: Receive | None = None
    record: AttemptRecord | None = None


async def read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_json(send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] = []) -> None:  # noqa: B006
    body = encode(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def start_sse(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )


async def before_response(ctx: SimContext, fault: FaultRule | None) -> None:
    delay = ctx.latency_ms + (fault.latency_ms if fault else 0.0)
    if delay > 0:
        await asyncio.sleep(delay / 1000)
    if fault is not None and fault.hang == "before_headers":
        await asyncio.sleep(fault.hang_s)


async def apply_error_fault(
    send: Send,
    fault: FaultRule | None,
    error_body: Callable[[int, str | None], Any],
) -> int | None:
    """Send the fault's error status if it has one; returns the status sent."""
    if fault is None:
        return None
    if fault.reset and fault.status is None and fault.stream_reset_after is None:
        # A declared length never delivered: the client sees the connection drop mid-body.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise SimulatedReset()
    if fault.status is None:
        return None
    headers: list[tuple[bytes, bytes]] = []
    if fault.retry_after is not None:
        headers.append((b"retry-after", str(fault.retry_after).encode()))
    await send_json(send, fault.status, error_body(fault.status, fault.error_code), headers)
    return fault.status


async def stream_pause(ctx: SimContext, fault: FaultRule | None = None) -> None:
    pause = fault.chunk_ms if fault is not None and fault.chunk_ms is not None else ctx.chunk_ms
    if pause > 0:
        await asyncio.sleep(pause / 1000)


async def send_frames(
    ctx: SimContext,
    frames: list[bytes],
    fault: FaultRule | None,
    send: Send,
    *,
    error_event: bytes,
    malformed_event: bytes,
    watch: GoneWatch | None = None,
) -> None:
    """A stream's frames (after its headers) as the fault shapes them, in every dialect: a hang after the
    headers, the dialect's `error_event` after `stream_error_after` frames, a reset after `stream_reset_after`,
    `malformed_event` in place of the second frame, a pause between frames."""
    if fault is not None and fault.hang == "after_headers":
        await asyncio.sleep(fault.hang_s)
    for count, data in enumerate(frames):
        if watch is not None and watch.gone:
            return
        if fault is not None and fault.stream_error_after == count:
            await send({"type": "http.response.body", "body": error_event, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if fault is not None and fault.stream_reset_after == count:
            raise SimulatedReset()
        if fault is not None and fault.malformed and count == 1:
            data = malformed_event
        await send({"type": "http.response.body", "body": data, "more_body": True})
        await stream_pause(ctx, fault)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class GoneWatch:
    """For paced streams: notices the gateway closing the connection, stamps the attempt record and lets
    the stream stop, as a real provider stops generating. Unpaced streams end too fast to need it."""

    def __init__(self, request: SimRequest) -> None:
        self.gone = False
        self._request = request
        self._task = asyncio.ensure_future(self._watch()) if request.receive is not None else None

    async def _watch(self) -> None:
        assert self._request.receive is not None
        while True:
            message = await self._request.receive()
            if message["type"] == "http.disconnect":
                self.gone = True
                if self._request.record is not None:
                    self._request.record.client_gone_at = time.time()
                return

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
