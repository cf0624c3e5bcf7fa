"""`POST /v1/embeddings`: passed to a provider that offers embeddings, priced and logged.

The model must be named: `auto` routes by how hard a question is, which means
nothing for embeddings. A configured model must carry the `embeddings`
capability; an ad-hoc `provider/model` name is passed on (priced at zero until
the catalog knows it). Auth hooks run as for chat; the on_routed hooks (cache,
budgets of chat answers) do not, since they expect a chat body. One log row,
endpoint "embeddings", cost = input tokens x the model's input price.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Litestar, asgi

from router.api.asgi import Exchange, Receive, Scope, Send, read_body, send_bytes, send_error
from router.api.chat import request_context
from router.errors import AllProvidersFailed, InvalidRequest, ModelNotFound
from router.gateway import Gateway, Route
from router.pipeline import Pipeline, RequestContext, route_headers
from router.providers.base import Call, Usage
from router.providers.embeddings import EMBEDDING_ADAPTERS, EmbeddingsCodec
from router.tokens import estimate_text_tokens
from router.wire.json import decode_body

_codec = EmbeddingsCodec()

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class EmbeddingsRequest(msgspec.Struct):
    model: str
    # a string, or a list of strings, of token ids, or of token-id lists (one kind: checked in `parse`)
    input: NonEmpty | Annotated[list[NonEmpty | int | list[int]], msgspec.Meta(min_length=1, max_length=2048)]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int, msgspec.Meta(ge=1)] | None = None
    user: str | None = None

    def estimated_tokens(self) -> int:
        items = self.input if isinstance(self.input, list) else [self.input]
        if items and isinstance(items[0], int):
            return len(items)
        return sum(len(item) if isinstance(item, list) else estimate_text_tokens(str(item)) for item in items)


def parse(raw: bytes) -> tuple[dict[str, object], EmbeddingsRequest]:
    body, request = decode_body(raw, EmbeddingsRequest)
    if isinstance(request.input, list) and len({type(item) for item in request.input}) > 1:
        raise InvalidRequest("`input` must not mix strings, token ids and token lists", param="input")
    return body, request


class EmbeddingsHandler:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.limit = pipeline.gateway.settings.server.max_body_bytes

    def _route(self, name: str) -> Route:
        gateway = self.pipeline.gateway
        if name == "auto":
            raise InvalidRequest("name an embedding model: `auto` routing is for chat", param="model")
        model = gateway.index.resolve(name)
        if model is None:
            raise ModelNotFound(f"The model `{name}` does not exist", param="model")
        configured = gateway.index.models.get(model.name) is model
        if configured and not model.supports("embeddings"):
            raise InvalidRequest(f"the model `{name}` is not an embedding model", param="model")
        if not any(d.provider.kind in EMBEDDING_ADAPTERS for d in model.deployments):
            raise InvalidRequest(f"the provider of `{name}` offers no embeddings", param="model")
        return Route(name, model.tier, "explicit", [model])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pipeline = self.pipeline
        ctx = request_context(scope, "embeddings")
        base = [("x-request-id", ctx.request_id)]
        async with Exchange(pipeline, ctx, send, base):
            await pipeline.authenticate(ctx)
            ctx.body, request = parse(await read_body(scope, receive, self.limit))
            ctx.route = self._route(request.model)
            body = await self._dispatch(ctx, request)
            headers = [
                *base,
                *ctx.response_headers,
                *route_headers(ctx.route, ctx.outcome.model, ctx.outcome.cost),
            ]
            await send_bytes(send, 200, body, headers)

    async def _dispatch(self, ctx: RequestContext, request: EmbeddingsRequest) -> bytes:
        assert ctx.route is not None
        candidates = [
            m
            for m in ctx.route.candidates
            if all(d.provider.kind in EMBEDDING_ADAPTERS for d in m.deployments)
        ]
        call = Call(ctx.body, "", False, False, ctx.request_id)
        try:
            completed = await self.pipeline.gateway.dispatcher.complete(candidates, call, codec=_codec)
        except AllProvidersFailed as failed:
            ctx.outcome.attempts = failed.attempts
            raise failed.to_gateway_error() from None
        outcome = ctx.outcome
        outcome.model, outcome.attempts = completed.model, completed.attempts
        outcome.usage = completed.decoded.usage
        if outcome.usage is None:
            outcome.usage, outcome.estimated = Usage(prompt_tokens=request.estimated_tokens()), True
        self.pipeline.settle_cost(ctx)
        return completed.decoded.body


@asgi("/v1/embeddings", copy_scope=False)
async def create_embeddings(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await send_error(send, InvalidRequest("use POST for /v1/embeddings"), [])
        return
    handler: EmbeddingsHandler = scope["app"].state.embeddings_handler
    await handler(scope, receive, send)


route_handlers = [create_embeddings]


async def install(app: Litestar, gateway: Gateway, pipeline: Pipeline) -> None:
    app.state.embeddings_handler = EmbeddingsHandler(pipeline)
