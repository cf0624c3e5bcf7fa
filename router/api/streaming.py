"""Send an SSE body while watching for the client going away.

When the client disconnects the frame source is cancelled at once, which closes
the upstream response (no leaked connection or task); the caller logs a partial
row with what was seen so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from router.api.asgi import Receive, Send, encode_headers
from router.catalog import Model
from router.dispatch import OpenStream
from router.errors import GatewayError
from router.pipeline import Pipeline, RequestContext, Shortcut
from router.providers.base import Usage


def sse_start(headers: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": encode_headers(
            [("content-type", "text/event-stream"), ("cache-control", "no-cache"), *headers]
        ),
    }


async def send_whole_sse(send: Send, headers: list[tuple[str, str]], body: bytes) -> None:
    """An SSE response whose every frame is in hand (a cache replay, a stream whose end came with its first
    read): head, frames and the body's end in one write, with no watcher task or frame pump; there is nothing
    left to stop if the client goes away."""
    await send(sse_start(headers))
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_sse(
    receive: Receive,
    send: Send,
    headers: list[tuple[str, str]],
    frames: AsyncIterator[bytes],
    first_frame_at: list[float],
) -> bool:
    """Stream `frames`; returns False when the client disconnected before the end."""
    await send(sse_start(headers))

    # The frames are sent from this task; one watcher task cancels it when the client goes away. (A pump
    # task plus asyncio.wait cost two tasks and a wait per stream: measurably more CPU per stream.)
    task = asyncio.current_task()
    assert task is not None
    state = {"gone": False, "done": False}

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not state["done"]:
                    state["gone"] = True
                    task.cancel()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        async for frame in frames:
            if not first_frame_at:
                first_frame_at.append(time.perf_counter())
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        state["done"] = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True
    except asyncio.CancelledError:
        if not state["gone"]:
            raise
        task.uncancel()
        return False
    finally:
        state["done"] = True
        watcher.cancel()
        with contextlib.suppress(BaseException):
            await frames.aclose()  # type: ignore[attr-defined]


@dataclass(slots=True)
class StreamSource:
    """Where a translated stream's OpenAI frames come from: an upstream stream, or a cache replay."""

    model: Model
    frames: AsyncIterator[bytes]
    opened: OpenStream | None  # None for a cache replay


async def _replay(frames: list[bytes]) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


async def _tee(opened: OpenStream, captured: list[bytes] | None) -> AsyncIterator[bytes]:
    """The upstream's OpenAI frames; the response cache, when on, keeps a copy (replayed on a hit)."""
    for frame in opened.first_frames:
        if captured is not None:
            captured.append(frame)
        yield frame
    async for frame in opened.rest():
        if captured is not None:
            captured.append(frame)
        yield frame


async def open_source(pipeline: Pipeline, ctx: RequestContext, shortcut: Shortcut | None) -> StreamSource:
    if shortcut is not None and shortcut.frames is not None:
        return StreamSource(shortcut.model, _replay(shortcut.frames), None)
    opened = await pipeline.open_stream(ctx)
    return StreamSource(opened.model, _tee(opened, ctx.state.get("cache_frames")), opened)


async def deliver(
    pipeline: Pipeline,
    ctx: RequestContext,
    receive: Receive,
    send: Send,
    headers: list[tuple[str, str]],
    frames: AsyncIterator[bytes],
    source: StreamSource,
) -> None:
    """Send a translated stream and account for it: time to first byte, and a client that left early."""
    if source.opened is None:
        headers = [*headers, ("x-tiergate-cache", "hit")]
    first: list[float] = []
    completed = await send_sse(receive, send, headers, frames, first)
    if first:
        ctx.outcome.ttft_ms = (first[0] - ctx.outcome.started) * 1000
    if not completed:
        ctx.outcome.status, ctx.outcome.http_status = "cancelled", 499
        if source.opened is not None and ctx.outcome.usage is None:
            pipeline.stream_ended(ctx, source.opened)


class EventTranslator(Protocol):
    """Turns OpenAI stream frames into another API's events (Anthropic messages, OpenAI responses)."""

    usage: Usage | None

    def start(self) -> Iterable[bytes]: ...

    def feed(self, frame: bytes) -> Iterable[bytes]: ...


async def translated(
    pipeline: Pipeline,
    ctx: RequestContext,
    source: StreamSource,
    events: EventTranslator,
    on_break: Callable[[GatewayError, Usage | None], Iterable[bytes]],
    on_end: Callable[[Usage | None], Awaitable[Iterable[bytes]]],
) -> AsyncIterator[bytes]:
    """The translated stream, and its accounting: usage when the upstream ends, and an upstream break after the
    first byte logged as an error with the number of upstream events that got through (`on_break` says it in
    the API's own words; no silent switch to another model once bytes are out)."""
    for event in events.start():
        yield event
    opened = source.opened
    try:
        async for frame in source.frames:
            for event in events.feed(frame):
                yield event
    finally:
        if opened is not None:
            opened.close()
    if opened is not None:
        pipeline.stream_ended(ctx, opened)
    usage = ctx.outcome.usage or events.usage
    if opened is not None and opened.error is not None:
        pipeline.fail(ctx, opened.error)
        ctx.outcome.http_status = 200
        ctx.outcome.broke_at = opened.translator.events  # every frame it returned was read before the break
        for event in on_break(opened.error, usage):
            yield event
        return
    for event in await on_end(usage):
        yield event
