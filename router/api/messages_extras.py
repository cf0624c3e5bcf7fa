"""What Anthropic clients (Claude Code) call besides `POST /v1/messages`.

- `POST /v1/messages/count_tokens`: the prompt's input tokens, counted locally
  (router/tokens.py: within ~10-15% of a BPE tokenizer; no provider round trip,
  no cost, no log row, as Anthropic does not bill it either). Tools count by
  their JSON schema text.
- `HEAD /`: Claude Code probes the base URL before its first request.

Query strings (Claude Code sends `?beta=true`) never change routing: routes
match on the path alone.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Litestar, Response, asgi, head

from router.api.asgi import Receive, Scope, Send, read_body, send_bytes
from router.api.chat import request_context
from router.api.messages import send_anthropic_error
from router.errors import GatewayError, InvalidRequest
from router.gateway import Gateway
from router.messages.convert import to_chat
from router.pipeline import Pipeline
from router.tokens import estimate_prompt_tokens, estimate_text_tokens
from router.wire.anthropic import RequestMessage, RequestTool

_decode_any = msgspec.json.Decoder()
_encode = msgspec.json.Encoder().encode


class CountTokensRequest(msgspec.Struct):
    model: str
    messages: Annotated[list[RequestMessage], msgspec.Meta(min_length=1)]
    system: str | list[dict[str, Any]] | None = None
    tools: list[RequestTool] | None = None


def count_input_tokens(raw: bytes) -> int:
    try:
        body = _decode_any.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    try:
        msgspec.convert(body, CountTokensRequest)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"invalid request: {exc}") from None
    chat = to_chat({**body, "max_tokens": 1, "stream": False})
    tokens = estimate_prompt_tokens(chat["messages"])
    for tool in chat.get("tools") or ():
        tokens += estimate_text_tokens(_encode(tool["function"]).decode())
    return tokens


class CountTokensHandler:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.limit = pipeline.gateway.settings.server.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = request_context(scope, "count_tokens")
        base = [("x-request-id", ctx.request_id), ("request-id", ctx.request_id)]
        try:
            await self.pipeline.authenticate(ctx)
            tokens = count_input_tokens(await read_body(scope, receive, self.limit))
            await send_bytes(send, 200, _encode({"input_tokens": tokens}), [*base, *ctx.response_headers])
        except GatewayError as error:
            await send_anthropic_error(send, error, [*base, *ctx.response_headers])
        except ConnectionResetError:
            return


@asgi("/v1/messages/count_tokens", copy_scope=False)
async def count_tokens(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await send_anthropic_error(send, InvalidRequest("use POST for /v1/messages/count_tokens"), [])
        return
    handler: CountTokensHandler = scope["app"].state.count_tokens_handler
    await handler(scope, receive, send)


@head("/", include_in_schema=False)
async def root_probe() -> Response[None]:
    return Response(None, status_code=200)


route_handlers = [count_tokens, root_probe]


async def install(app: Litestar, gateway: Gateway, pipeline: Pipeline) -> None:
    app.state.count_tokens_handler = CountTokensHandler(pipeline)
