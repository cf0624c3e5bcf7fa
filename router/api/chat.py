"""`POST /v1/chat/completions` as a raw ASGI handler: parse -> prepare -> dispatch -> respond -> finish.

Raw ASGI because this is the path every token pays for: the framework's request
and response objects cost ~23% of throughput here (README, "Performance").
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from random import getrandbits

from router.api.asgi import Exchange, Receive, Scope, Send, read_body, send_bytes
from router.api.streaming import send_sse, send_whole_sse
from router.dispatch import OpenStream
from router.errors import render_error
from router.log.schema import ID_LENGTH
from router.pipeline import Pipeline, RequestContext, Shortcut, parse_chat_body, route_headers
from router.wire.text import plain_id


def new_request_id() -> str:
    """`req_`, 12 hex digits of Unix milliseconds, 20 random ones: unique and time-ordered. The order is for the
    request log, whose primary key this is: random ids made every insert a walk to a random B-tree page, 40 us
    of writer CPU a row against 19 at the right edge in a 330k-row SQLite log, and the writer thread's page reads
    took the GIL from the event loop (-20% req/s at c=64). The random part comes from `random`, not the kernel: an
    id is a name, not a secret (rating a request takes the key that made it, or the master key), and urandom cost
    a system call per request. `random` reseeds itself in a forked child, so workers never share a sequence."""
    return f"req_{time.time_ns() // 1_000_000:012x}{getrandbits(80):020x}"


def request_context(scope: Scope, endpoint: str) -> RequestContext:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    given = headers.get("x-request-id")
    if given is not None and not plain_id(given, ID_LENGTH):
        # Not an id the log can keep as it is (the log's id column): the request gets one of ours, as a request
        # without the header does; the response's x-request-id says which.
        given = None
    return RequestContext(
        request_id=given or new_request_id(), endpoint=endpoint, headers=headers, id_from_client=bool(given)
    )


async def openai_frames(pipeline: Pipeline, ctx: RequestContext, opened: OpenStream) -> AsyncIterator[bytes]:
    """The stream as OpenAI SSE frames; an upstream break after the first byte ends it with an error event."""
    captured: list[bytes] | None = ctx.state.get("cache_frames")  # the response cache keeps a copy
    try:
        if opened.first_frames:
            if captured is not None:
                captured.extend(opened.first_frames)
            yield b"".join(opened.first_frames)
        async for frames in opened.batches():
            if captured is not None:
                captured.extend(frames)
            yield frames[0] if len(frames) == 1 else b"".join(frames)
        if opened.error is not None:
            # The first byte is out: no silent switch to another model. Tell the client and stop.
            pipeline.fail(ctx, opened.error)
            ctx.outcome.http_status = 200
            ctx.outcome.broke_at = opened.translator.events  # all it returned was sent before the break
            _, _, payload = render_error(opened.error)
            yield b"data: " + payload + b"\n\n"
    finally:
        opened.close()


class ChatHandler:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.limit = pipeline.gateway.settings.server.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pipeline = self.pipeline
        ctx = request_context(scope, "chat")
        base = [("x-request-id", ctx.request_id)]
        async with Exchange(pipeline, ctx, send, base):
            await pipeline.authenticate(ctx)
            ctx.body, ctx.request = parse_chat_body(await read_body(scope, receive, self.limit))
            shortcut = await pipeline.prepare(ctx)
            if ctx.stream:
                await self._stream(receive, send, ctx, base, shortcut)
            elif shortcut is not None and shortcut.body is not None:
                headers = [
                    *base,
                    *ctx.response_headers,
                    *route_headers(ctx.route, shortcut.model, ctx.outcome.cost),
                ]
                await send_bytes(send, 200, shortcut.body, [*headers, ("x-tiergate-cache", "hit")])
            else:
                completed = await pipeline.complete(ctx)
                headers = [
                    *base,
                    *ctx.response_headers,
                    *route_headers(ctx.route, completed.model, ctx.outcome.cost),
                ]
                await send_bytes(send, 200, completed.decoded.body, headers)

    async def _stream(
        self,
        receive: Receive,
        send: Send,
        ctx: RequestContext,
        base: list[tuple[str, str]],
        shortcut: Shortcut | None,
    ) -> None:
        pipeline = self.pipeline
        if shortcut is not None and shortcut.frames is not None:
            headers = [*base, *ctx.response_headers, *route_headers(ctx.route, shortcut.model, None)]
            await send_whole_sse(send, [*headers, ("x-tiergate-cache", "hit")], b"".join(shortcut.frames))
            return
        opened = await pipeline.open_stream(ctx)
        headers = [*base, *ctx.response_headers, *route_headers(ctx.route, opened.model, None)]
        if opened.finished:  # the whole stream came with its first read (a short answer): one write
            captured: list[bytes] | None = ctx.state.get("cache_frames")
            if captured is not None:
                captured.extend(opened.first_frames)
            ctx.outcome.ttft_ms = (time.perf_counter() - ctx.outcome.started) * 1000
            try:
                await send_whole_sse(send, headers, b"".join(opened.first_frames))
            finally:
                opened.close()
            pipeline.stream_ended(ctx, opened)
            return
        first: list[float] = []
        completed = await send_sse(receive, send, headers, openai_frames(pipeline, ctx, opened), first)
        if first:
            ctx.outcome.ttft_ms = (first[0] - ctx.outcome.started) * 1000
        if not completed:
            ctx.outcome.status, ctx.outcome.http_status = "cancelled", 499
        pipeline.stream_ended(ctx, opened)
