"""send_sse and send_whole_sse: the ASGI messages an SSE response is sent as."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from router.api.streaming import send_sse, send_whole_sse


async def _frames(*frames: bytes) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


async def test_a_stream_is_sent_frame_by_frame_and_ends_with_a_message_of_its_own() -> None:
    sent: list[dict[str, Any]] = []
    complete = asyncio.Event()

    async def receive() -> dict[
        str, Any
    ]:  # a client that stays: disconnect only once the response is complete
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message["more_body"]:
            complete.set()

    ok = await send_sse(receive, send, [("x-request-id", "r1")], _frames(b"data: 1\n\n", b"data: 2\n\n"), [])
    assert ok and sent[0]["type"] == "http.response.start"
    assert (b"content-type", b"text/event-stream") in sent[0]["headers"]
    bodies = [(m["body"], m["more_body"]) for m in sent[1:]]
    assert bodies == [(b"data: 1\n\n", True), (b"data: 2\n\n", True), (b"", False)]


async def test_a_whole_stream_in_hand_is_one_body_with_its_end() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await send_whole_sse(send, [("x-request-id", "r1")], b"data: 1\n\ndata: [DONE]\n\n")
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert (b"x-request-id", b"r1") in sent[0]["headers"] and (b"cache-control", b"no-cache") in sent[0][
        "headers"
    ]
    assert sent[1]["body"] == b"data: 1\n\ndata: [DONE]\n\n" and sent[1]["more_body"] is False
