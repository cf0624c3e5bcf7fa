"""`POST /v1/responses` (OpenAI's Responses API), served through the chat pipeline.

The request becomes an OpenAI chat body (router/responses/convert.py), runs the
same pipeline as `/v1/chat/completions` (hooks, `auto` routing, dispatch to any
provider, one log row with endpoint "responses"), and the chat answer or stream
is turned back into a Response or its stream events. Errors before the stream
is committed are ordinary HTTP errors (OpenAI error body); a provider breaking
mid-stream ends the stream with `response.failed`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, asgi, delete, get

from router.api.asgi import Exchange, Receive, Scope, Send, read_body, send_bytes, send_error
from router.api.chat import request_context
from router.api.streaming import deliver, open_source, translated
from router.errors import GatewayError, InvalidRequest
from router.gateway import Gateway
from router.pipeline import Pipeline, RequestContext, route_headers, validate_chat_body
from router.providers.base import Usage
from router.responses.convert import (
    Conversion,
    assistant_message,
    custom_names,
    from_completion,
    new_id,
    parse_responses_body,
    shell,
    to_chat,
)
from router.responses.events import ResponseEvents
from router.responses.store import ResponseStore
from router.wire.responses import ResponseObject, ResponsesRequest

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
log = logging.getLogger("tiergate.responses")


class ResponsesHandler:
    def __init__(self, pipeline: Pipeline, store: ResponseStore) -> None:
        self.pipeline = pipeline
        self.store = store
        self.limit = pipeline.gateway.settings.server.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pipeline = self.pipeline
        ctx = request_context(scope, "responses")
        base = [("x-request-id", ctx.request_id)]
        async with Exchange(pipeline, ctx, send, base):
            await pipeline.authenticate(ctx)
            request = parse_responses_body(await read_body(scope, receive, self.limit))
            prior: list[dict[str, Any]] = []
            if request.previous_response_id:
                stored = await self.store.load(
                    request.previous_response_id, _key_id(ctx), "previous_response_id"
                )
                prior = stored.history
            conversion = to_chat(request, prior)
            ctx.body = conversion.body
            ctx.request = validate_chat_body(ctx.body)
            shortcut = await pipeline.prepare(ctx)
            response_id = new_id("resp")
            if ctx.stream:
                await self._stream(receive, send, ctx, base, request, conversion, response_id, shortcut)
                return
            hit = shortcut is not None and shortcut.body is not None
            if shortcut is not None and shortcut.body is not None:
                body, model = shortcut.body, shortcut.model
            else:
                completed = await pipeline.complete(ctx)
                body, model = completed.decoded.body, completed.model
            response = from_completion(request, response_id, _decode(body), ctx.outcome.usage)
            await self._keep(ctx, request, conversion, response)
            headers = [*base, *ctx.response_headers, *route_headers(ctx.route, model, ctx.outcome.cost)]
            if hit:
                headers.append(("x-tiergate-cache", "hit"))
            await send_bytes(send, 200, _encode(response), headers)

    async def _keep(
        self, ctx: RequestContext, request: ResponsesRequest, conversion: Conversion, response: ResponseObject
    ) -> None:
        if request.store is False or response.status == "failed":
            return
        reply = assistant_message(response.output)
        history = [*conversion.history, reply] if reply is not None else conversion.history
        try:
            await self.store.save(
                response.id, _key_id(ctx), response.model, history, msgspec.to_builtins(response)
            )
        except Exception as exc:
            # The answer is made and paid for: deliver it; only chaining on it will fail (404).
            log.warning("storing response %s failed: %s", response.id, type(exc).__name__)

    async def _stream(
        self,
        receive: Receive,
        send: Send,
        ctx: RequestContext,
        base: list[tuple[str, str]],
        request: ResponsesRequest,
        conversion: Conversion,
        response_id: str,
        shortcut: Any,
    ) -> None:
        pipeline = self.pipeline
        stream = await open_source(pipeline, ctx, shortcut)
        model = stream.model
        events = ResponseEvents(shell(request, response_id, model.name), custom_names(request))

        def on_break(error: GatewayError, usage: Usage | None) -> list[bytes]:
            return events.fail(error.message, usage)

        async def on_end(usage: Usage | None) -> list[bytes]:
            closing = events.finish(usage)
            await self._keep(ctx, request, conversion, events.response)
            return closing

        headers = [*base, *ctx.response_headers, *route_headers(ctx.route, model, None)]
        frames = translated(pipeline, ctx, stream, events, on_break, on_end)
        await deliver(pipeline, ctx, receive, send, headers, frames, stream)


def _key_id(ctx: RequestContext) -> str | None:
    key_id = getattr(ctx.key, "id", None)
    return str(key_id) if key_id is not None else None


@asgi("/v1/responses", copy_scope=False)
async def create_response(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await send_error(send, InvalidRequest("use POST for /v1/responses"), [])
        return
    handler: ResponsesHandler = scope["app"].state.responses_handler
    await handler(scope, receive, send)


async def _stored_context(request: Request[Any, Any, Any]) -> tuple[ResponsesHandler, RequestContext]:
    handler: ResponsesHandler = request.app.state.responses_handler
    headers = dict(request.headers)
    ctx = RequestContext(headers.get("x-request-id") or new_id("req"), "responses", headers)
    await handler.pipeline.authenticate(ctx)
    return handler, ctx


@get("/v1/responses/{response_id:str}", include_in_schema=False)
async def retrieve_response(request: Request[Any, Any, Any], response_id: str) -> Response[bytes]:
    """A stored response, as it was returned (only to the key that created it)."""
    handler, ctx = await _stored_context(request)
    stored = await handler.store.load(response_id, _key_id(ctx), "response_id")
    return Response(_encode(stored.response), media_type="application/json")


@delete("/v1/responses/{response_id:str}", status_code=200, include_in_schema=False)
async def delete_response(request: Request[Any, Any, Any], response_id: str) -> Response[bytes]:
    handler, ctx = await _stored_context(request)
    await handler.store.delete(response_id, _key_id(ctx))
    body = {"id": response_id, "object": "response", "deleted": True}
    return Response(_encode(body), media_type="application/json")


route_handlers = [create_response, retrieve_response, delete_response]


async def install(app: Litestar, gateway: Gateway, pipeline: Pipeline) -> Callable[[], Awaitable[None]]:
    store = ResponseStore.open(gateway.settings.database_url, gateway.settings.responses)
    app.state.responses_handler = ResponsesHandler(pipeline, store)
    return store.start()
