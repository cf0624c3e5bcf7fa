"""The simulated providers: one lean ASGI app, a dialect per path shape.

  /{provider}/v1/chat/completions      OpenAI chat (any OpenAI-compatible provider)
  /{provider}/v1/embeddings            OpenAI embeddings (deterministic unit vectors)
  /{provider}/v1/messages              Anthropic Messages
  /{provider}/v1beta/models/{m}:generateContent | :streamGenerateContent   Gemini (streams as alt=sse)
  /_sim/faults   POST a FaultRule (JSON), DELETE to clear, GET to list
  /_sim/attempts GET (?request_id=...) the attempts seen, DELETE to clear

No framework: the sim must be much faster than the gateway it measures.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec

from router.api.asgi import Receive, Scope, Send
from router.sim import anthropic as anthropic_dialect
from router.sim import embeddings as embeddings_dialect
from router.sim import gemini as gemini_dialect
from router.sim import openai as openai_dialect
from router.sim.answers import text_of
from router.sim.common import SimContext, SimRequest, SimulatedReset, decode, header, read_all, send_json
from router.sim.faults import KEEP_ATTEMPTS, FaultBook, FaultRule

DialectHandler = Callable[[SimContext, SimRequest, Send], Awaitable[int]]


def _openai_request(provider: str, path: str, body: dict[str, Any], request_id: str | None) -> SimRequest:
    messages = body.get("messages") or []
    last_user = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
    return SimRequest(
        provider,
        "openai",
        str(body.get("model", "")),
        body,
        request_id,
        bool(body.get("stream")),
        text_of(last_user.get("content")),
    )


# suffix -> (dialect parser, handler). Other dialects register here.
DIALECTS: dict[str, tuple[Callable[[str, str, dict[str, Any], str | None], SimRequest], DialectHandler]] = {
    "/v1/chat/completions": (_openai_request, openai_dialect.handle),
    "/v1/messages": (anthropic_dialect.parse, anthropic_dialect.handle),
    ":generateContent": (gemini_dialect.parse, gemini_dialect.handle),
    ":streamGenerateContent": (gemini_dialect.parse, gemini_dialect.handle),
    "/v1/embeddings": (embeddings_dialect.parse, embeddings_dialect.handle),
    ":batchEmbedContents": (embeddings_dialect.gemini_parse, embeddings_dialect.gemini_handle),
}


class SimApp:
    def __init__(self, ctx: SimContext | None = None) -> None:
        self.ctx = ctx or SimContext()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_sim/"):
            await self._admin(scope, receive, send, path)
            return
        if scope["method"] == "GET" and path.endswith("/models"):
            await send_json(send, 200, {"object": "list", "data": []})
            return
        for suffix, (parse, handle) in DIALECTS.items():
            if suffix in path:
                prefix = path[: path.index(suffix)].strip("/")
                provider = prefix.split("/")[0] if prefix else "openai"
                await self._dialect(scope, receive, send, provider, path, parse, handle)
                return
        await send_json(
            send,
            404,
            {
                "error": {
                    "message": f"no route {path}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
        )

    async def _dialect(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        provider: str,
        path: str,
        parse: Callable[[str, str, dict[str, Any], str | None], SimRequest],
        handle: DialectHandler,
    ) -> None:
        raw = await read_all(receive)
        try:
            body = decode(raw)
            if not isinstance(body, dict):
                raise ValueError("body must be an object")
        except (msgspec.DecodeError, ValueError):
            await send_json(
                send,
                400,
                {
                    "error": {
                        "message": "invalid JSON body",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        request = parse(provider, path, body, header(scope, b"x-request-id"))
        record = self.ctx.faults.begin(
            request.request_id, provider, request.dialect, request.model, request.stream
        )
        request.receive, request.record = receive, record
        status = 0
        try:
            status = await handle(self.ctx, request, send)
        except SimulatedReset:
            status = -1
            raise
        finally:
            record.status, record.ended_at = status, time.time()

    async def _admin(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        method = scope["method"]
        faults = self.ctx.faults
        if path == "/_sim/faults":
            if method == "POST":
                raw = await read_all(receive)
                try:
                    rule = msgspec.json.decode(raw, type=FaultRule)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    await send_json(
                        send, 400, {"error": {"message": str(exc), "type": "invalid_request_error"}}
                    )
                    return
                await send_json(send, 200, {"id": faults.add(rule)})
            elif method == "DELETE":
                faults.clear()
                await send_json(send, 200, {"cleared": True})
            else:
                await send_json(send, 200, {"rules": [msgspec.to_builtins(r) for r in faults.rules]})
        elif path == "/_sim/attempts":
            if method == "DELETE":
                faults.attempts.clear()
                await send_json(send, 200, {"cleared": True})
            else:
                query = parse_qs(scope.get("query_string", b"").decode())
                request_id = query.get("request_id", [None])[0]
                await send_json(send, 200, {"attempts": faults.attempts_json(request_id)})
        elif path == "/_sim/health":
            await send_json(send, 200, {"status": "ok"})
        else:
            await send_json(send, 404, {"error": {"message": "unknown sim admin route"}})


def create_sim_app(
    latency_ms: float = 0.0, chunk_ms: float = 0.0, keep_attempts: int = KEEP_ATTEMPTS
) -> SimApp:
    return SimApp(
        SimContext(
            faults=FaultBook(max_attempts_kept=keep_attempts), latency_ms=latency_ms, chunk_ms=chunk_ms
        )
    )
