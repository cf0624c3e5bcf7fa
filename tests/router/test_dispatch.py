"""Dispatch against a real upstream on loopback: how a stream is opened and committed to."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from router.catalog import ModelIndex
from router.dispatch import Dispatcher
from router.providers.base import Call
from router.settings import Settings
from router.sim.config import sim_config
from router.upstream import UpstreamClient

EVENTS = [{"choices": [{"index": 0, "delta": {"content": word}}]} for word in ("one", " two", " three")]
SSE = b"".join(b"data: " + msgspec.json.encode(event) + b"\n\n" for event in EVENTS) + b"data: [DONE]\n\n"


def _chunked(body: bytes) -> bytes:
    return b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"


async def _upstream(writes: list[bytes]) -> tuple[asyncio.Server, int]:
    """An OpenAI-dialect upstream that answers every request with `writes`, one socket write each, a short
    pause between them."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        for at, data in enumerate(writes):
            if at:
                await asyncio.sleep(0.05)
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _dispatcher(port: int) -> tuple[Dispatcher, ModelIndex, UpstreamClient]:
    raw: dict[str, Any] = sim_config(f"http://127.0.0.1:{port}", "sqlite://")
    raw["source"] = "<test>"
    settings = msgspec.convert(raw, Settings)
    client = UpstreamClient()
    return Dispatcher(client, settings.routing.retry, settings.routing.breaker), ModelIndex(settings), client


HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


async def _open(writes: list[bytes]) -> tuple[bool, bytes, list[bytes]]:
    """(finished when opened, the first frames, every frame) of one stream from an upstream writing `writes`."""
    server, port = await _upstream(writes)
    dispatcher, index, client = _dispatcher(port)
    model = index.resolve("gpt-4o-mini")
    assert model is not None
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    try:
        opened = await dispatcher.open_stream([model], Call(body, "", True, False, "req_1"))
        finished, first = opened.finished, b"".join(opened.first_frames)
        rest = [frame async for frames in opened.batches() for frame in frames]
        return finished, first, [first, *rest]
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


async def test_a_stream_whole_in_the_first_read_is_finished_when_opened() -> None:
    # Head, every event and the body's end in one write: the gateway has the whole stream before it sends a byte,
    # so it is finished at once and the client's response can leave with its end in the same write.
    finished, first, frames = await _open([HEAD + _chunked(SSE)])
    assert finished and first == SSE and b"".join(frames) == SSE


async def test_a_stream_still_coming_is_not_finished_when_opened() -> None:
    # The end comes 50 ms after the events: the first frames go out at once, the end later.
    finished, first, frames = await _open([HEAD + b"%x\r\n" % len(SSE) + SSE + b"\r\n", b"0\r\n\r\n"])
    assert not finished and first == SSE and b"".join(frames) == SSE
