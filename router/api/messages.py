"""`POST /v1/messages`: Anthropic's Messages API in front of every provider.

The request becomes an OpenAI chat body (router/messages/convert.py), runs the
same pipeline as `/v1/chat/completions` (auth hooks, `auto` routing, dispatch to
any provider with fallbacks, one log row with endpoint "messages"), and the
answer or stream is turned back into Anthropic's format (router/messages/events.py).
Errors use Anthropic's body `{"type": "error", "error": {"type", "message"}}`
with the same HTTP status and headers (Retry-After) the chat endpoint would send.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, asgi

from router.api.asgi import Exchange, Receive, Scope, Send, read_body, send_bytes
from router.api.chat import request_context
from router.api.streaming import deliver, open_source, translated
from router.errors import GatewayError, InvalidRequest, render_error
from router.gateway import Gateway
from router.messages.convert import (
    from_completion,
    new_message_id,
    parse_messages_body,
    to_chat,
    usage_from_openai,
)
from router.messages.events import MessageEvents, error_event
from router.pipeline import Pipeline, RequestContext, Shortcut, route_headers, validate_chat_body
from router.providers.base import Usage
from router.tokens import estimate_prompt_tokens, estimate_text_tokens

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


_FORWARDED = ("anthropic-beta", "anthropic-version")


def error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


async def send_anthropic_error(send: Send, error: GatewayError, headers: list[tuple[str, str]]) -> None:
    status, extra, _ = render_error(error)
    body = _encode({"type": "error", "error": {"type": error_type(status), "message": error.message}})
    await send_bytes(send, status, body, [*headers, *extra.items()])


class MessagesHandler:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.limit = pipeline.gateway.settings.server.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pipeline = self.pipeline
        ctx = request_context(scope, "messages")
        base = [("x-request-id", ctx.request_id), ("request-id", ctx.request_id)]
        async with Exchange(pipeline, ctx, send, base, send_anthropic_error):
            await pipeline.authenticate(ctx)
            raw, _ = parse_messages_body(await read_body(scope, receive, self.limit))
            # Claude Code's betas and API version reach Anthropic upstreams (other dialects drop them).
            ctx.upstream_headers = {k: ctx.headers[k] for k in _FORWARDED if k in ctx.headers}
            ctx.body = to_chat(raw)
            ctx.request = validate_chat_body(ctx.body)
            shortcut = await pipeline.prepare(ctx)
            message_id = new_message_id()
            if ctx.stream:
                await self._stream(receive, send, ctx, base, message_id, shortcut)
                return
            if shortcut is not None and shortcut.body is not None:
                completion, model = _decode(shortcut.body), shortcut.model
                usage = ctx.outcome.usage or usage_from_openai(completion.get("usage"))
            else:
                completed = await pipeline.complete(ctx)
                completion, model = _decode(completed.decoded.body), completed.model
                usage = ctx.outcome.usage
            message = from_completion(completion, message_id, model.name, usage)
            headers = [*base, *ctx.response_headers, *route_headers(ctx.route, model, ctx.outcome.cost)]
            if shortcut is not None:
                headers.append(("x-tiergate-cache", "hit"))
            await send_bytes(send, 200, _encode(message), headers)

    async def _stream(
        self,
        receive: Receive,
        send: Send,
        ctx: RequestContext,
        base: list[tuple[str, str]],
        message_id: str,
        shortcut: Shortcut | None,
    ) -> None:
        pipeline = self.pipeline
        stream = await open_source(pipeline, ctx, shortcut)
        model = stream.model
        events = MessageEvents(message_id, model.name)

        def on_break(error: GatewayError, _: Usage | None) -> list[bytes]:
            return [] if events.failed else [error_event(error_type(error.status), error.message)]

        async def on_end(usage: Usage | None) -> list[bytes]:
            return [] if events.failed else list(events.finish(usage))

        headers = [*base, *ctx.response_headers, *route_headers(ctx.route, model, None)]
        frames = translated(pipeline, ctx, stream, events, on_break, on_end)
        await deliver(pipeline, ctx, receive, send, headers, frames, stream)


@asgi("/v1/messages", copy_scope=False)
async def create_message(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await send_anthropic_error(send, InvalidRequest("use POST for /v1/messages"), [])
        return
    handler: MessagesHandler = scope["app"].state.messages_handler
    await handler(scope, receive, send)


@asgi("/v1/messages/count_tokens", copy_scope=False)
async def count_tokens(scope: Scope, receive: Receive, send: Send) -> None:
    """Anthropic's token count, estimated locally (router/tokens.py, within ~10-15% of a BPE tokenizer): no
    provider round trip, no cost, no log row, as Anthropic does not bill it either. Tools count by their schema."""
    handler: MessagesHandler = scope["app"].state.messages_handler
    ctx = request_context(scope, "count_tokens")
    base = [("x-request-id", ctx.request_id), ("request-id", ctx.request_id)]
    try:
        if scope["method"] != "POST":
            raise InvalidRequest("use POST for /v1/messages/count_tokens")
        await handler.pipeline.authenticate(ctx)
        try:
            body = _decode(await read_body(scope, receive, handler.limit))
        except msgspec.DecodeError as exc:
            raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise InvalidRequest("request body must be a JSON object")
        # A count request has no max_tokens and is never streamed.
        chat = to_chat(parse_messages_body(_encode({**body, "max_tokens": 1, "stream": False}))[0])
        tokens = estimate_prompt_tokens(chat["messages"])
        for tool in chat.get("tools") or ():
            tokens += estimate_text_tokens(_encode(tool["function"]).decode())
        await send_bytes(send, 200, _encode({"input_tokens": tokens}), [*base, *ctx.response_headers])
    except GatewayError as error:
        await send_anthropic_error(send, error, [*base, *ctx.response_headers])
    except ConnectionResetError:
        return


route_handlers = [create_message, count_tokens]


async def install(app: Litestar, gateway: Gateway, pipeline: Pipeline) -> None:
    app.state.messages_handler = MessagesHandler(pipeline)
