"""Send an SSE body while watching for the client going away.

When the client disconnects the frame source is cancelled at once, which closes
the upstream response (no leaked connection or task); the caller logs a partial
row with what was seen so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from router.api.asgi import Receive, Send, encode_headers


async def send_sse(
    receive: Receive,
    send: Send,
    headers: list[tuple[str, str]],
    frames: AsyncIterator[bytes],
    first_frame_at: list[float],
) -> bool:
    """Stream `frames`; returns False when the client disconnected before the end."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": encode_headers(
                [("content-type", "text/event-stream"), ("cache-control", "no-cache"), *headers]
            ),
        }
    )

    async def pump() -> None:
        async for frame in frames:
            if not first_frame_at:
                first_frame_at.append(time.perf_counter())
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    pump_task = asyncio.ensure_future(pump())
    watch_task = asyncio.ensure_future(watch())
    try:
        done, _ = await asyncio.wait({pump_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
        if pump_task in done:
            pump_task.result()
            return True
        pump_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump_task
        return False
    finally:
        watch_task.cancel()
        if not pump_task.done():
            pump_task.cancel()
        with contextlib.suppress(BaseException):
            await frames.aclose()  # type: ignore[attr-defined]
