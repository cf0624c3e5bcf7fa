"""One request's life, shared by every ingress (chat completions, Anthropic messages, responses).

An ingress parses its own wire format into an OpenAI chat body, then calls
`prepare` (hooks, routing), `complete` or `open_stream` (dispatch), and always
`finish` (cost, hooks, one log row). Cross-cutting features (auth, limits,
budgets, cache, metrics) plug in as hooks on the gateway, so no ingress knows
about them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from pricing.cost import request_cost
from router.catalog import Model
from router.controls import parse_controls
from router.dispatch import Attempt, Completed, OpenStream
from router.errors import AllProvidersFailed, GatewayError, UpstreamError
from router.gateway import Gateway, Route
from router.providers.base import Call, Usage
from router.tokens import estimate_prompt_tokens
from router.wire.chat import ChatRequest
from router.wire.json import convert_body, decode_body

_encoder = msgspec.json.Encoder()
_NO_USAGE = Usage()  # read only

log = logging.getLogger("tiergate.request")


def parse_chat_body(raw: bytes) -> tuple[dict[str, Any], ChatRequest]:
    return decode_body(raw, ChatRequest)


def validate_chat_body(body: dict[str, Any]) -> ChatRequest:
    return convert_body(body, ChatRequest)


@dataclass(slots=True)
class Outcome:
    """What one request did, accumulated as it goes and logged once at the end."""

    started: float = field(default_factory=time.perf_counter)
    model: Model | None = None
    attempts: list[Attempt] = field(default_factory=list)
    usage: Usage | None = None
    estimated: bool = False
    status: str = "ok"
    http_status: int = 200
    error: GatewayError | None = None
    ttft_ms: float | None = None
    completion_text: str | None = None
    broke_at: int | None = None
    cost: Decimal = Decimal(0)
    cache_hit: bool = False
    cost_saved: Decimal = Decimal(0)
    text_chars: int = 0


@dataclass(slots=True)
class RequestContext:
    request_id: str
    endpoint: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)
    request: ChatRequest | None = None
    stream: bool = False
    route: Route | None = None
    key: Any = None  # the authenticated principal, set by an auth hook
    outcome: Outcome = field(default_factory=Outcome)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # hooks' own per-request data
    finished: bool = False
    # client headers passed on to the provider (e.g. anthropic-beta); adapters keep what their dialect knows
    upstream_headers: dict[str, str] = field(default_factory=dict)
    # the id came from the client's x-request-id: it may repeat, so the log writer checks it (router/log/writer.py)
    id_from_client: bool = False
    prompt_tokens_estimated: int | None = None  # the prompt's local estimate once counted (prompt_estimate)

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    def prompt_estimate(self) -> int:
        """The prompt's local token estimate: routing's when it counted it (`auto` and a cost cap do), else
        counted now, once."""
        needs = self.route.needs if self.route is not None else None
        if needs is not None:
            return needs.prompt_tokens
        if self.prompt_tokens_estimated is None:
            self.prompt_tokens_estimated = estimate_prompt_tokens(self.messages)
        return self.prompt_tokens_estimated


@dataclass(slots=True)
class Shortcut:
    """A hook's answer in place of dispatch (a cache hit): an OpenAI body, or OpenAI SSE frames."""

    model: Model
    body: bytes | None = None
    frames: list[bytes] | None = None
    usage: Usage | None = None
    cost_saved: Decimal = Decimal(0)


Hook = Callable[[RequestContext], Awaitable[None]]
ShortcutHook = Callable[[RequestContext], Awaitable[Shortcut | None]]
FinishHook = Callable[[RequestContext], Awaitable[None] | None]


@dataclass
class Hooks:
    on_request: list[Hook] = field(default_factory=list)  # after parsing: auth, rate limits
    on_routed: list[ShortcutHook] = field(default_factory=list)  # before dispatch: budgets, cache
    on_finish: list[FinishHook] = field(
        default_factory=list
    )  # after the outcome: settle, metrics, cache store


def route_headers(route: Route | None, model: Model | None, cost: Decimal | None) -> list[tuple[str, str]]:
    if route is None:
        return []
    headers = [("x-tiergate-tier", route.tier or ""), ("x-tiergate-router", route.tier_source)]
    if model is not None:
        headers.append(("x-tiergate-model", model.name))
    if cost is not None:
        headers.append(("x-tiergate-cost-usd", f"{cost:.8f}"))
    if route.difficulty is not None and route.reasoning is not None:
        headers.append(
            ("x-tiergate-scores", f"difficulty={route.difficulty:.3f};reasoning={route.reasoning:.3f}")
        )
    return headers


class Pipeline:
    def __init__(self, gateway: Gateway, hooks: Hooks | None = None) -> None:
        self.gateway = gateway
        self.hooks = hooks or Hooks()

    async def authenticate(self, ctx: RequestContext) -> None:
        for hook in self.hooks.on_request:
            await hook(ctx)

    async def prepare(self, ctx: RequestContext) -> Shortcut | None:
        """Route the parsed request; a hook may answer it instead of dispatch."""
        assert ctx.request is not None
        # The `tiergate` body object is ours: read it, and never pass it to a provider.
        controls = parse_controls(ctx.headers, ctx.body.pop("tiergate", None), self.gateway.index)
        ctx.stream = bool(ctx.request.stream)
        ctx.route = await self.gateway.route(ctx.request, ctx.messages, controls)
        for hook in self.hooks.on_routed:
            shortcut = await hook(ctx)
            if shortcut is not None:
                ctx.outcome.model = shortcut.model
                ctx.outcome.usage = shortcut.usage
                ctx.outcome.cache_hit = True
                ctx.outcome.cost_saved = shortcut.cost_saved
                return shortcut
        return None

    def call_for(self, ctx: RequestContext) -> Call:
        assert ctx.request is not None
        options = ctx.request.stream_options
        return Call(
            ctx.body,
            "",
            ctx.stream,
            bool(options and options.include_usage),
            ctx.request_id,
            extra_headers=ctx.upstream_headers,
        )

    async def complete(self, ctx: RequestContext) -> Completed:
        assert ctx.route is not None
        try:
            completed = await self.gateway.dispatcher.complete(ctx.route.candidates, self.call_for(ctx))
        except AllProvidersFailed as failed:
            ctx.outcome.attempts = failed.attempts
            raise failed.to_gateway_error() from None
        outcome = ctx.outcome
        outcome.model = completed.model
        outcome.attempts = completed.attempts
        outcome.usage = completed.decoded.usage
        outcome.completion_text = completed.decoded.completion_text
        outcome.text_chars = len(completed.decoded.completion_text or "")
        if "cache_key" in ctx.state:
            ctx.state["cache_body"] = completed.decoded.body  # the response cache stores it at finish
        self.settle_cost(ctx)
        return completed

    async def open_stream(self, ctx: RequestContext) -> OpenStream:
        assert ctx.route is not None
        try:
            opened = await self.gateway.dispatcher.open_stream(ctx.route.candidates, self.call_for(ctx))
        except AllProvidersFailed as failed:
            ctx.outcome.attempts = failed.attempts
            raise failed.to_gateway_error() from None
        ctx.outcome.model = opened.model
        ctx.outcome.attempts = opened.attempts
        return opened

    def stream_ended(self, ctx: RequestContext, opened: OpenStream) -> None:
        ctx.outcome.usage = opened.translator.usage
        ctx.outcome.text_chars = opened.translator.text_chars
        self.settle_cost(ctx)

    def settle_cost(self, ctx: RequestContext) -> Decimal:
        outcome = ctx.outcome
        if outcome.model is None or outcome.cache_hit:
            return outcome.cost
        if outcome.usage is None:
            # No usage from the provider: count locally and say the figure is an estimate.
            outcome.usage = Usage(
                prompt_tokens=ctx.prompt_estimate(), completion_tokens=outcome.text_chars // 4
            )
            outcome.estimated = True
        outcome.cost = request_cost(outcome.model.price, outcome.usage)
        return outcome.cost

    def fail(self, ctx: RequestContext, error: GatewayError) -> None:
        ctx.outcome.status = "error"
        ctx.outcome.http_status = error.status
        ctx.outcome.error = error

    async def finish(self, ctx: RequestContext) -> None:
        if ctx.finished:
            return
        ctx.finished = True
        for hook in self.hooks.on_finish:
            result = hook(ctx)
            if result is not None:
                await result
        row = self.log_row(ctx)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request %s finished: %s %s via %s, attempts %s, error %s",
                ctx.request_id,
                row["status"],
                row["http_status"],
                row["model"],
                row["attempts"],
                row["error_message"],
            )
        self.gateway.writer.submit(row, client_id=ctx.id_from_client)

    def log_row(self, ctx: RequestContext) -> dict[str, Any]:
        # Built on the event loop for every request: locals and one pass over the attempts, not repeated lookups.
        outcome, route, gateway = ctx.outcome, ctx.route, self.gateway
        usage = outcome.usage or _NO_USAGE
        model = outcome.model
        last: Attempt | None = None
        attempts: list[dict[str, object]] = []
        sent = 0  # attempts sent (a skipped one was not)
        for attempt in outcome.attempts:
            attempts.append(attempt.as_dict())
            if not attempt.skipped:
                last = attempt
                sent += 1
        store_text = gateway.settings.log.store_text
        error = outcome.error
        messages = ctx.messages
        encoded = _encoder.encode(messages) if messages else None
        error_type = None
        if error is not None:
            error_type = error.error_type if isinstance(error, UpstreamError) else (error.code or error.type)
        requested = ctx.body.get("model")
        scorer = gateway.scorer
        return {
            "id": ctx.request_id,
            "created_at": datetime.now(UTC),
            "endpoint": ctx.endpoint,
            "key_id": getattr(ctx.key, "id", None),
            "requested_model": str(requested) if requested is not None else None,
            "tier": route.tier if route else None,
            "tier_source": route.tier_source if route else None,
            "difficulty": route.difficulty if route else None,
            "reasoning": route.reasoning if route else None,
            "decision_ms": route.decision_ms if route else None,
            "model": model.name if model else None,
            "provider": last.provider if last else None,
            "deployment": last.deployment if last else None,
            "attempts": attempts,
            "attempt_count": sent,
            "status": outcome.status,
            "http_status": outcome.http_status,
            "error_type": error_type,
            "error_message": error.message[:1000] if error else None,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cached_tokens": usage.cached_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cache_creation_tokens": usage.cache_creation_tokens,
            "cost_usd": outcome.cost,
            "cost_estimated": outcome.estimated,
            "cost_saved_usd": outcome.cost_saved,
            "latency_ms": (time.perf_counter() - outcome.started) * 1000,
            "ttft_ms": outcome.ttft_ms,
            "streamed": ctx.stream,
            "cache_hit": outcome.cache_hit,
            "stream_broke_at": outcome.broke_at,
            "prompt_hash": hashlib.sha256(encoded).hexdigest() if encoded else None,
            "policy_version": gateway.policy_version,
            "classifier_version": scorer.version if scorer else None,
            "prompt_text": encoded.decode() if store_text and encoded else None,
            "completion_text": outcome.completion_text if store_text else None,
        }
