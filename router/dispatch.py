"""Attempts, retries and fallbacks across candidate models and their deployments.

A request walks its candidates in policy order. On one deployment it retries
what can succeed on a second try (429, 5xx, timeouts, resets) with exponential
backoff and jitter, honouring Retry-After when it is short; then it falls back
to the next candidate. A 4xx that will fail again is never retried. A stream is
only committed to once its first frame is in hand: until then a failure falls
back silently; after it, the client gets an error event and no second attempt.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from router.catalog import Deployment, Model
from router.errors import AllProvidersFailed, AttemptFailure, UpstreamError
from router.providers.base import Call, Decoded, StreamTranslator
from router.settings import RetryConfig
from router.upstream import TransportError, UpstreamClient, UpstreamRequest, UpstreamResponse


@dataclass(slots=True)
class Attempt:
    model: str
    provider: str
    deployment: str
    status: int | None = None
    latency_ms: float = 0.0
    error_type: str | None = None
    failure: UpstreamError | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "provider": self.provider,
            "deployment": self.deployment,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "error_type": self.error_type,
        }


@dataclass(slots=True)
class Completed:
    model: Model
    deployment: Deployment
    decoded: Decoded
    attempts: list[Attempt]


@dataclass(slots=True)
class OpenStream:
    """A stream whose first frames are in hand; `rest()` yields the remaining ones."""

    model: Model
    deployment: Deployment
    response: UpstreamResponse
    translator: StreamTranslator
    first_frames: list[bytes]
    chunks: AsyncIterator[bytes]
    attempts: list[Attempt]
    error: UpstreamError | None = None
    finished: bool = False
    closed: bool = field(default=False)

    async def rest(self) -> AsyncIterator[bytes]:
        """The remaining frames one by one (for ingresses that convert each event)."""
        async for frames in self.batches():
            for frame in frames:
                yield frame

    async def batches(self) -> AsyncIterator[list[bytes]]:
        """The remaining frames, grouped as they came off the socket: a pass-through ingress sends each
        group with one write instead of one per event."""
        try:
            async for data in self.chunks:
                frames = self.translator.feed(data)
                if frames:
                    yield frames
                if self.translator.error is not None:
                    self.error = self.translator.error
                    return
            self.finished = True
            last = self.translator.finish()
            if last:
                yield last
        except TransportError as exc:
            self.error = UpstreamError(
                f"provider {self.deployment.provider_name!r} stream broke: {exc.kind}",
                provider=self.deployment.provider_name,
                error_type=f"stream_{exc.kind}",
            )
        finally:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.finished:
                self.response.release()
            else:
                self.response.close()


class Codec(Protocol):
    """How a non-chat call (embeddings) is written for, and read from, one deployment."""

    def encode(self, deployment: Deployment, call: Call) -> UpstreamRequest: ...

    def decode(self, deployment: Deployment, body: bytes, call: Call) -> Decoded: ...

    def map_error(
        self, deployment: Deployment, status: int, headers: Mapping[str, str], body: bytes
    ) -> UpstreamError: ...


def _transport_error(exc: TransportError, provider: str) -> UpstreamError:
    return UpstreamError(
        f"provider {provider!r} {exc.kind} error: {exc.detail}",
        provider=provider,
        error_type=exc.kind,
        status=504 if exc.kind == "timeout" else 502,
    )


class Dispatcher:
    def __init__(self, client: UpstreamClient, retry: RetryConfig) -> None:
        self._client = client
        self._retry = retry
        self._in_flight: dict[str, int] = {}

    def _order(self, model: Model) -> list[Deployment]:
        """Weighted choice among deployments, fewest in flight first."""
        deployments = list(model.deployments)
        if len(deployments) == 1:
            return deployments
        weighted = sorted(
            deployments,
            key=lambda d: (self._in_flight.get(d.key, 0) / max(d.weight, 1e-9), random.random()),
        )
        return weighted

    def _backoff(self, attempt_no: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retrying the same deployment, or None to move on."""
        if retry_after is not None:
            return retry_after if retry_after <= self._retry.max_retry_after_s else None
        ceiling = min(self._retry.backoff_max_s, self._retry.backoff_base_s * (2**attempt_no))
        return random.uniform(ceiling / 2, ceiling)

    async def _attempts(
        self, candidates: list[Model], call: Call
    ) -> AsyncGenerator[tuple[Model, Deployment, Attempt], None]:
        """Yields (model, deployment, attempt) to try; the caller reports failures via `attempt.error_type`."""
        total = 0
        for model in candidates:
            for deployment in self._order(model):
                for tries in range(self._retry.attempts_per_deployment):
                    if total >= self._retry.max_attempts:
                        return
                    total += 1
                    attempt = Attempt(model.name, deployment.provider_name, deployment.key)
                    yield model, deployment, attempt
                    error = attempt.failure
                    if error is None:
                        return
                    if not error.fallback and not error.retryable:
                        return
                    if not error.retryable or tries + 1 >= self._retry.attempts_per_deployment:
                        break
                    delay = self._backoff(tries, error.retry_after)
                    if delay is None:
                        break
                    await asyncio.sleep(delay)

    async def _open(
        self, deployment: Deployment, call: Call, attempt: Attempt, codec: Codec | None = None
    ) -> UpstreamResponse:
        call.upstream_model = deployment.upstream
        if codec is not None:
            request = codec.encode(deployment, call)
        else:
            request = deployment.adapter.encode_request(call, deployment.provider)
        try:
            response = await self._client.send(request, deployment.provider.timeouts)
        except TransportError as exc:
            raise _transport_error(exc, deployment.provider_name) from None
        attempt.status = response.status
        if response.status >= 400:
            body = await response.read()
            if codec is not None:
                raise codec.map_error(deployment, response.status, response.headers, body)
            raise deployment.adapter.map_error(
                response.status, response.headers, body, deployment.provider_name
            )
        return response

    async def complete(self, candidates: list[Model], call: Call, codec: Codec | None = None) -> Completed:
        """One whole answer; `codec` is for calls other than chat (embeddings), else the adapter's chat."""
        failures: list[AttemptFailure] = []
        attempts: list[Attempt] = []
        plan = self._attempts(candidates, call)
        async for model, deployment, attempt in plan:
            attempts.append(attempt)
            started = time.perf_counter()
            self._in_flight[deployment.key] = self._in_flight.get(deployment.key, 0) + 1
            try:
                response = await self._open(deployment, call, attempt, codec)
                try:
                    body = await response.read()
                except TransportError as exc:
                    raise _transport_error(exc, deployment.provider_name) from None
                if codec is not None:
                    decoded = codec.decode(deployment, body, call)
                else:
                    decoded = deployment.adapter.decode_response(body, call, deployment.provider_name)
            except UpstreamError as error:
                attempt.error_type = error.error_type
                attempt.failure = error
                failures.append(AttemptFailure(model.name, deployment.provider_name, error))
                continue
            finally:
                attempt.latency_ms = (time.perf_counter() - started) * 1000
                self._in_flight[deployment.key] -= 1
            # Closed here: an async generator left to the collector costs a task and a loop wake-up.
            await plan.aclose()
            return Completed(model, deployment, decoded, attempts)
        raise AllProvidersFailed(failures, attempts)

    async def open_stream(self, candidates: list[Model], call: Call) -> OpenStream:
        failures: list[AttemptFailure] = []
        attempts: list[Attempt] = []
        plan = self._attempts(candidates, call)
        async for model, deployment, attempt in plan:
            attempts.append(attempt)
            started = time.perf_counter()
            response: UpstreamResponse | None = None
            try:
                response = await self._open(deployment, call, attempt)
                translator = deployment.adapter.stream_translator(call, deployment.provider_name)
                chunks = response.iter_chunks()
                frames: list[bytes] = []
                finished = False
                try:
                    while not frames:
                        try:
                            data = await chunks.__anext__()
                        except StopAsyncIteration:
                            finished = True
                            frames = translator.finish()
                            break
                        frames = translator.feed(data)
                        if translator.error is not None:
                            raise translator.error
                except TransportError as exc:
                    raise _transport_error(exc, deployment.provider_name) from None
            except UpstreamError as error:
                if response is not None:
                    response.close()
                attempt.error_type = error.error_type
                attempt.failure = error
                failures.append(AttemptFailure(model.name, deployment.provider_name, error))
                continue
            finally:
                attempt.latency_ms = (time.perf_counter() - started) * 1000
            stream = OpenStream(model, deployment, response, translator, frames, chunks, attempts)
            stream.finished = finished
            await plan.aclose()
            return stream
        raise AllProvidersFailed(failures, attempts)
