"""send_sse: the ASGI messages an SSE response is sent as."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from router.api.streaming import send_sse


async def _frames(*frames: bytes) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


async def _sent(frames: AsyncIterator[bytes], ended: Any = None) -> tuple[bool, list[dict[str, Any]]]:
    """What send_sse sends, with a client that stays (its `receive` says disconnect only once the response is
    complete, as uvicorn's does)."""
    sent: list[dict[str, Any]] = []
    complete = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            complete.set()
            await asyncio.sleep(0)  # the watcher runs here, as it may on a real server

    ok = await send_sse(receive, send, [], frames, [], ended=ended)
    return ok, sent


async def test_without_an_end_known_the_body_ends_with_a_message_of_its_own() -> None:
    ok, sent = await _sent(_frames(b"data: 1\n\n", b"data: 2\n\n"))
    bodies = [(m["body"], m["more_body"]) for m in sent[1:]]
    assert ok and bodies == [(b"data: 1\n\n", True), (b"data: 2\n\n", True), (b"", False)]


async def test_a_frame_known_to_be_the_last_carries_the_end() -> None:
    # One write for a short answer's whole stream; the response's end wakes the disconnect watcher, which must
    # not take it for a client that left.
    ok, sent = await _sent(_frames(b"data: 1\n\ndata: [DONE]\n\n"), ended=lambda: True)
    bodies = [(m["body"], m["more_body"]) for m in sent[1:]]
    assert ok and bodies == [(b"data: 1\n\ndata: [DONE]\n\n", False)]
