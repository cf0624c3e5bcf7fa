"""Small raw-ASGI helpers for the hot-path handlers (no framework per request)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from types import TracebackType
from typing import Any

from router.errors import GatewayError, PayloadTooLarge, render_error
from router.pipeline import Pipeline, RequestContext, route_headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client went away while sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def encode_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[str, str]],
    content_type: str = "application/json",
) -> None:
    raw = encode_headers([("content-type", content_type), ("content-length", str(len(body))), *headers])
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: GatewayError, headers: list[tuple[str, str]]) -> None:
    status, extra, body = render_error(error)
    await send_bytes(send, status, body, [*headers, *extra.items()])


ErrorSender = Callable[[Send, GatewayError, list[tuple[str, str]]], Awaitable[None]]


class Exchange:
    """The end of every ingress request, whatever happened: a GatewayError becomes the endpoint's own error
    response, a client that went away is logged as cancelled (499), and the request is always finished (finish
    hooks, one log row). `async with Exchange(...):` around the handler's work."""

    __slots__ = ("base", "ctx", "pipeline", "send", "send_error")

    def __init__(
        self,
        pipeline: Pipeline,
        ctx: RequestContext,
        send: Send,
        base: list[tuple[str, str]],
        send_error: ErrorSender = send_error,
    ) -> None:
        self.pipeline, self.ctx, self.send, self.base, self.send_error = pipeline, ctx, send, base, send_error

    async def __aenter__(self) -> Exchange:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool:
        ctx = self.ctx
        try:
            if isinstance(error, GatewayError):
                self.pipeline.fail(ctx, error)
                headers = [*self.base, *ctx.response_headers, *route_headers(ctx.route, None, None)]
                await self.send_error(self.send, error, headers)
                return True
            if isinstance(error, ConnectionResetError):
                ctx.outcome.status, ctx.outcome.http_status = "cancelled", 499
                return True
            return False
        finally:
            await self.pipeline.finish(ctx)
