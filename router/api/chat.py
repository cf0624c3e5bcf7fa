"""`POST /v1/chat/completions` as a raw ASGI handler: parse -> route -> dispatch -> respond -> log.

Raw ASGI because this is the path every token pays for: the framework's request
and response objects cost ~23% of throughput here (README, "Performance").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from pricing.cost import request_cost
from router.api.asgi import Receive, Scope, Send, header, read_body, send_bytes, send_error
from router.catalog import Model
from router.dispatch import Attempt, OpenStream
from router.errors import AllProvidersFailed, GatewayError, InvalidRequest, UpstreamError, render_error
from router.gateway import Gateway, Route
from router.providers.base import Call, Usage
from router.tokens import estimate_prompt_tokens

_decode_any = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def parse_chat_body(raw: bytes) -> tuple[dict[str, Any], Any]:
    from router.wire.chat import ChatRequest

    try:
        body = _decode_any.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    try:
        request = msgspec.convert(body, ChatRequest)
    except msgspec.ValidationError as exc:
        text = str(exc)
        param = text.rsplit("at `$.", 1)[1].rstrip("`") if "at `$." in text else None
        raise InvalidRequest(f"invalid request: {text}", param=param) from None
    return body, request


class Outcome:
    """What one request did, accumulated as it goes and logged once at the end."""

    __slots__ = (
        "attempts",
        "broke_at",
        "completion_text",
        "error",
        "estimated",
        "http_status",
        "model",
        "started",
        "status",
        "ttft_ms",
        "usage",
    )

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.model: Model | None = None
        self.attempts: list[Attempt] = []
        self.usage: Usage | None = None
        self.estimated = False
        self.status = "ok"
        self.http_status = 200
        self.error: GatewayError | None = None
        self.ttft_ms: float | None = None
        self.completion_text: str | None = None
        self.broke_at: int | None = None


def _cost(outcome: Outcome, messages: list[dict[str, Any]], text_chars: int = 0) -> Decimal:
    if outcome.model is None:
        return Decimal(0)
    if outcome.usage is None:
        # No usage from the provider: count locally and say the figure is an estimate.
        outcome.usage = Usage(
            prompt_tokens=estimate_prompt_tokens(messages), completion_tokens=text_chars // 4
        )
        outcome.estimated = True
    return request_cost(outcome.model.price, outcome.usage)


class ChatHandler:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = header(scope, b"x-request-id") or f"req_{uuid.uuid4().hex}"
        base_headers = [("x-request-id", request_id)]
        outcome = Outcome()
        route: Route | None = None
        body: dict[str, Any] = {}
        messages: list[dict[str, Any]] = []
        stream = False
        cost = Decimal(0)
        try:
            raw = await read_body(scope, receive, self.gateway.settings.server.max_body_bytes)
            body, request = parse_chat_body(raw)
            body.pop("tiergate", None)
            messages = body["messages"]
            stream = bool(request.stream)
            route = await self.gateway.route(request, messages, header(scope, b"x-tiergate-tier"))
            wants_usage = bool(request.stream_options and request.stream_options.include_usage)
            call = Call(body, "", stream, wants_usage, request_id)
            if stream:
                cost = await self._stream(scope, receive, send, call, route, outcome, base_headers, messages)
            else:
                completed = await self.gateway.dispatcher.complete(route.candidates, call)
                outcome.model = completed.model
                outcome.attempts = completed.attempts
                outcome.usage = completed.decoded.usage
                outcome.completion_text = completed.decoded.completion_text
                cost = _cost(outcome, messages, len(completed.decoded.completion_text or ""))
                headers = [*base_headers, *self._route_headers(route, outcome.model, cost)]
                await send_bytes(send, 200, completed.decoded.body, headers)
        except AllProvidersFailed as failed:
            outcome.attempts = failed.attempts
            await self._fail(send, failed.to_gateway_error(), outcome, base_headers, route)
        except GatewayError as error:
            await self._fail(send, error, outcome, base_headers, route)
        except ConnectionResetError:
            outcome.status, outcome.http_status = "cancelled", 499
        finally:
            self._log(request_id, route, body, messages, stream, outcome, cost)

    def _route_headers(
        self, route: Route, model: Model | None, cost: Decimal | None
    ) -> list[tuple[str, str]]:
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

    async def _fail(
        self,
        send: Send,
        error: GatewayError,
        outcome: Outcome,
        headers: list[tuple[str, str]],
        route: Route | None,
    ) -> None:
        outcome.status = "error"
        outcome.http_status = error.status
        outcome.error = error
        extra = self._route_headers(route, None, None) if route is not None else []
        await send_error(send, error, [*headers, *extra])

    async def _stream(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        call: Call,
        route: Route,
        outcome: Outcome,
        base_headers: list[tuple[str, str]],
        messages: list[dict[str, Any]],
    ) -> Decimal:
        opened = await self.gateway.dispatcher.open_stream(route.candidates, call)
        outcome.model = opened.model
        outcome.attempts = opened.attempts
        headers = [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
            *base_headers,
            *self._route_headers(route, opened.model, None),
        ]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.encode(), v.encode()) for k, v in headers],
            }
        )
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        watcher = asyncio.create_task(watch())
        pump = asyncio.create_task(self._pump(send, opened, outcome))
        try:
            done, _ = await asyncio.wait({pump, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if pump not in done:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
                outcome.status, outcome.http_status = "cancelled", 499
            else:
                pump.result()
        finally:
            watcher.cancel()
            opened.close()
        outcome.usage = opened.translator.usage
        return _cost(outcome, messages, opened.translator.text_chars)

    async def _pump(self, send: Send, opened: OpenStream, outcome: Outcome) -> None:
        frames_sent = 0
        for frame in opened.first_frames:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            frames_sent += 1
        outcome.ttft_ms = (time.perf_counter() - outcome.started) * 1000
        rest: AsyncIterator[bytes] = opened.rest()
        async for frame in rest:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            frames_sent += 1
        if opened.error is not None:
            # The first byte is out: no silent switch to another model. Tell the client and stop.
            error = opened.error
            outcome.status, outcome.http_status, outcome.error = "error", 200, error
            outcome.broke_at = frames_sent
            _, _, payload = render_error(error)
            await send(
                {"type": "http.response.body", "body": b"data: " + payload + b"\n\n", "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _log(
        self,
        request_id: str,
        route: Route | None,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        stream: bool,
        outcome: Outcome,
        cost: Decimal,
    ) -> None:
        usage = outcome.usage or Usage()
        model = outcome.model
        last = outcome.attempts[-1] if outcome.attempts else None
        store_text = self.gateway.settings.log.store_text
        error = outcome.error
        row = {
            "id": request_id,
            "created_at": datetime.now(UTC),
            "endpoint": "chat",
            "key_id": None,
            "requested_model": str(body.get("model")) if body else None,
            "tier": route.tier if route else None,
            "tier_source": route.tier_source if route else None,
            "difficulty": route.difficulty if route else None,
            "reasoning": route.reasoning if route else None,
            "decision_ms": route.decision_ms if route else None,
            "model": model.name if model else None,
            "provider": last.provider if last else None,
            "deployment": last.deployment if last else None,
            "attempts": [a.as_dict() for a in outcome.attempts],
            "attempt_count": len(outcome.attempts),
            "status": outcome.status,
            "http_status": outcome.http_status,
            "error_type": (error.error_type if isinstance(error, UpstreamError) else error.type)
            if error
            else None,
            "error_message": error.message[:1000] if error else None,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cached_tokens": usage.cached_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cost_usd": cost,
            "cost_estimated": outcome.estimated,
            "cost_saved_usd": Decimal(0),
            "latency_ms": (time.perf_counter() - outcome.started) * 1000,
            "ttft_ms": outcome.ttft_ms,
            "streamed": stream,
            "cache_hit": False,
            "stream_broke_at": outcome.broke_at,
            "prompt_hash": hashlib.sha256(_encoder.encode(messages)).hexdigest() if messages else None,
            "policy_version": self.gateway.policy_version,
            "classifier_version": self.gateway.scorer.version if self.gateway.scorer else None,
            "prompt_text": _encoder.encode(messages).decode() if store_text and messages else None,
            "completion_text": outcome.completion_text if store_text else None,
        }
        self.gateway.writer.submit(row)
