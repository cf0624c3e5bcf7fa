"""Attempts, retries and fallbacks across candidate models and their deployments.

A request walks a plan: its candidates in policy order, each model's deployments in load-balancing
order. Round one tries every deployment once, moving on at once after a failure (another deployment
needs no backoff); later rounds come back to those that failed with something a second try can fix
(429, 5xx, 529, timeouts, resets), after an exponential, jittered pause. Around that:

- a deployment whose breaker is open, or that is inside a Retry-After (or quota) window, is skipped and
  the skip is noted in the request's attempts;
- a 4xx that will fail again ends the request after exactly one attempt, with no fallback;
- a quota 429 is tried once and that deployment is left alone for `quota_cooldown_s`;
- every attempt after a request's first spends from the retry budget (router/retry.py);
- no attempt starts after the request's deadline, and each is cut at it.

A stream is only committed to once its first frame is in hand, which must come within the first-byte
deadline: until then a failure falls back silently; after it, the client gets an error event and no
second attempt (the caller logs where it broke).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from router.breaker import BREAKER_OPEN, PROBE_BUSY, QUOTA, RETRY_AFTER, DeploymentHealth, HealthBook
from router.catalog import Deployment, Model
from router.errors import AllProvidersFailed, AttemptFailure, UpstreamError
from router.providers.base import Call, Decoded, StreamTranslator
from router.retry import RetryBudget, backoff_s
from router.settings import BreakerConfig, RetryConfig, Timeouts
from router.upstream import TransportError, UpstreamClient, UpstreamRequest, UpstreamResponse

BUDGET_EXHAUSTED = "retry_budget_exhausted"


@dataclass(slots=True)
class Attempt:
    model: str
    provider: str
    deployment: str
    status: int | None = None
    latency_ms: float = 0.0
    error_type: str | None = None
    skipped: bool = False  # not sent (breaker open, Retry-After window, budget); error_type says why
    failure: UpstreamError | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "provider": self.provider,
            "deployment": self.deployment,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "error_type": self.error_type,
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class Completed:
    model: Model
    deployment: Deployment
    decoded: Decoded
    attempts: list[Attempt]


def _breaks_deployment(error: UpstreamError) -> bool:
    """Does this failure count against the deployment's breaker? Server-side trouble does; a 4xx (even a
    429) means the deployment is up and answering."""
    return error.upstream_status is None or error.upstream_status >= 500


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
    health: DeploymentHealth
    clock: HealthBook
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
        if self.finished:  # the upstream ended within the first frames
            self.close()
            return
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
        if self.closed:
            return
        self.closed = True
        if self.finished:
            self.response.release()
        else:
            self.response.close()
        # A break after the first frame counts against the deployment; a client going away does not.
        ok = None if self.error is None and not self.finished else self.error is None
        self.health.finish(ok, self.clock.clock())


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


def _timeout_error(provider: str, what: str) -> UpstreamError:
    return UpstreamError(
        f"provider {provider!r} timeout error: {what}", provider=provider, error_type="timeout", status=504
    )


Step = tuple[Model, Deployment, DeploymentHealth, Attempt]


class _Walk:
    """One request's way through its plan; `next()` gives the next attempt to send, or None."""

    __slots__ = ("again", "attempts", "d", "deadline", "failures", "queue", "round", "sent", "stopped")

    def __init__(self, dispatcher: Dispatcher, candidates: list[Model]) -> None:
        self.d = dispatcher
        self.queue: list[tuple[Model, Deployment]] = dispatcher.plan(candidates)
        self.queue.reverse()  # popped from the end
        self.again: list[tuple[Model, Deployment]] = []
        self.attempts: list[Attempt] = []
        self.failures: list[AttemptFailure] = []
        self.round = 0
        self.sent = 0
        self.stopped = False
        self.deadline = dispatcher.health.clock() + dispatcher.retry.deadline_s
        dispatcher.budget.deposit()

    async def next(self) -> Step | None:
        retry = self.d.retry
        book = self.d.health
        while not self.stopped and self.sent < retry.max_attempts:
            if not self.queue and not await self._next_round():
                return None
            model, deployment = self.queue.pop()
            health = book.get(deployment.key)
            now = book.clock()
            if now >= self.deadline:
                return None
            reason = health.blocked(now)
            if reason is not None:
                self._note(model, deployment, reason)
                continue
            if self.sent and not self.d.budget.spend():
                self._note(model, deployment, BUDGET_EXHAUSTED)
                return None
            self.sent += 1
            attempt = Attempt(model.name, deployment.provider_name, deployment.key)
            self.attempts.append(attempt)
            health.start()
            return model, deployment, health, attempt
        return None

    def _note(self, model: Model, deployment: Deployment, reason: str) -> None:
        self.attempts.append(
            Attempt(model.name, deployment.provider_name, deployment.key, error_type=reason, skipped=True)
        )

    async def _next_round(self) -> bool:
        """Start the next round over the deployments that failed retryably; False when there is none."""
        self.round += 1
        retry = self.d.retry
        if not self.again or self.round >= retry.attempts_per_deployment:
            return False
        book = self.d.health
        now = book.clock()
        pause = backoff_s(retry, self.round)
        ready = [e for e in self.again if book.get(e[1].key).available_at(now) <= now + pause]
        if not ready:
            # Everything left is held back. Wait only for a Retry-After window that ends soon, never for
            # an open breaker.
            windows = [w for e in self.again if (w := book.get(e[1].key).window_ends()) is not None]
            if not windows or min(windows) - now > retry.max_retry_after_s:
                return False
            soonest = min(windows)
            # A few ms past the window: uvloop's timers have millisecond granularity and may fire a little
            # early, which would find the deployment still held back and end the request.
            pause = max(pause, soonest - now + 0.005)
            ready = [e for e in self.again if book.get(e[1].key).available_at(now) <= now + pause]
        if now + pause >= self.deadline:
            return False
        ready.reverse()
        self.queue, self.again = ready, []
        await asyncio.sleep(pause)
        return True

    def failed(self, step: Step, error: UpstreamError, started: float) -> None:
        model, deployment, health, attempt = step
        now = self.d.health.clock()
        attempt.error_type = error.error_type
        attempt.failure = error
        attempt.latency_ms = (now - started) * 1000
        health.finish(not _breaks_deployment(error), now)
        self.failures.append(AttemptFailure(model.name, deployment.provider_name, error))
        if error.error_type == "quota_exceeded":
            health.cool(now + self.d.retry.quota_cooldown_s, QUOTA)
        elif error.retry_after is not None:
            health.cool(now + error.retry_after, RETRY_AFTER)
        if not error.retryable and not error.fallback:
            self.stopped = True  # a 4xx that will fail again, wherever it is sent
        elif error.retryable:
            self.again.append((model, deployment))

    def succeeded(self, step: Step, started: float) -> None:
        now = self.d.health.clock()
        step[3].latency_ms = (now - started) * 1000
        step[2].finish(True, now)

    def cancelled(self, step: Step) -> None:
        step[2].finish(None, self.d.health.clock())

    def exhausted(self) -> AllProvidersFailed:
        book = self.d.health
        now = book.clock()
        keys = {a.deployment for a in self.attempts}
        soonest = min((book.get(k).available_at(now) for k in keys), default=now)
        wait = max(1, math.ceil(soonest - now))
        if self.failures:
            detail = ""
        elif any(a.error_type == BUDGET_EXHAUSTED for a in self.attempts):
            detail = "the gateway's retry budget is spent while upstreams fail"
        elif any(a.error_type == BREAKER_OPEN for a in self.attempts):
            detail = "every adequate deployment is failing (circuit open) or rate limited"
        else:
            detail = "every adequate deployment is busy or rate limited"
        return AllProvidersFailed(self.failures, self.attempts, retry_after=wait, detail=detail)


class Dispatcher:
    def __init__(self, client: UpstreamClient, retry: RetryConfig, breaker: BreakerConfig) -> None:
        self._client = client
        self.retry = retry
        self.health = HealthBook(breaker)
        self.budget = RetryBudget(retry)

    def reconfigure(self, retry: RetryConfig, breaker: BreakerConfig) -> None:
        """A config reload: new limits apply to the next request; breaker states are kept."""
        if retry != self.retry:
            self.retry = retry
            self.budget = RetryBudget(retry)
        self.health.reconfigure(breaker)

    def breaker_states(self) -> dict[str, str]:
        """Deployment key -> closed / half_open / open (for /metrics)."""
        return {key: snap["state"] for key, snap in self.health.snapshot().items()}

    def penalty(self, model: Model) -> int:
        """The policy's health tie-break for a model: 0 if some deployment may be tried now, 1 if only a
        half-open probe is possible, 2 if every deployment is open or cooling."""
        now = self.health.clock()
        best = 2
        for deployment in model.deployments:
            reason = self.health.get(deployment.key).blocked(now)
            if reason is None:
                return 0
            if reason == PROBE_BUSY:
                best = 1
        return best

    def plan(self, candidates: list[Model]) -> list[tuple[Model, Deployment]]:
        plan: list[tuple[Model, Deployment]] = []
        for model in candidates:
            if len(model.deployments) == 1:
                plan.append((model, model.deployments[0]))
            else:
                plan.extend((model, d) for d in self._order(model))
        return plan

    def _order(self, model: Model) -> list[Deployment]:
        """Weighted random order, discounted by load: each deployment draws u ** ((in_flight + 1) / weight)
        and the largest goes first. Idle, a deployment leads in proportion to its weight; busy, in
        proportion to weight / (in_flight + 1), so the fewest in flight (per unit of weight) win. One that
        may not be tried now (breaker open, Retry-After) goes last."""
        book = self.health
        now = book.clock()

        def key(d: Deployment) -> float:
            health = book.get(d.key)
            if health.blocked(now) is not None:
                return -1.0
            return float(random.random() ** ((health.in_flight + 1) / max(d.weight, 1e-9)))

        return sorted(model.deployments, key=key, reverse=True)

    def _timeouts(self, deployment: Deployment, walk: _Walk) -> Timeouts:
        timeouts = deployment.provider.timeouts
        left = walk.deadline - self.health.clock()
        if left < timeouts.total_s:
            timeouts = Timeouts(
                connect_s=min(timeouts.connect_s, left),
                first_byte_s=min(timeouts.first_byte_s, left),
                total_s=max(left, 0.001),
            )
        return timeouts

    async def _open(
        self,
        deployment: Deployment,
        call: Call,
        attempt: Attempt,
        timeouts: Timeouts,
        codec: Codec | None = None,
    ) -> UpstreamResponse:
        call.upstream_model = deployment.upstream
        if codec is not None:
            request = codec.encode(deployment, call)
        else:
            request = deployment.adapter.encode_request(call, deployment.provider)
        try:
            response = await self._client.send(request, timeouts)
        except TransportError as exc:
            raise _transport_error(exc, deployment.provider_name) from None
        attempt.status = response.status
        if response.status >= 400:
            try:
                body = await response.read()
            except TransportError:
                body = b""
            if codec is not None:
                raise codec.map_error(deployment, response.status, response.headers, body)
            raise deployment.adapter.map_error(
                response.status, response.headers, body, deployment.provider_name
            )
        return response

    async def complete(self, candidates: list[Model], call: Call, codec: Codec | None = None) -> Completed:
        """One whole answer; `codec` is for calls other than chat (embeddings), else the adapter's chat."""
        walk = _Walk(self, candidates)
        while (step := await walk.next()) is not None:
            model, deployment, _, attempt = step
            started = self.health.clock()
            try:
                timeouts = self._timeouts(deployment, walk)
                response = await self._open(deployment, call, attempt, timeouts, codec)
                try:
                    body = await response.read()
                except TransportError as exc:
                    raise _transport_error(exc, deployment.provider_name) from None
                if codec is not None:
                    decoded = codec.decode(deployment, body, call)
                else:
                    decoded = deployment.adapter.decode_response(body, call, deployment.provider_name)
            except UpstreamError as error:
                walk.failed(step, error, started)
                continue
            except BaseException:
                walk.cancelled(step)
                raise
            walk.succeeded(step, started)
            return Completed(model, deployment, decoded, walk.attempts)
        raise walk.exhausted()

    async def open_stream(self, candidates: list[Model], call: Call) -> OpenStream:
        walk = _Walk(self, candidates)
        while (step := await walk.next()) is not None:
            model, deployment, health, attempt = step
            started = self.health.clock()
            timeouts = self._timeouts(deployment, walk)
            response: UpstreamResponse | None = None
            translator = deployment.adapter.stream_translator(call, deployment.provider_name)
            frames: list[bytes] = []
            finished = False
            try:
                # The first-byte deadline bounds everything up to the first *frame*: headers, then any
                # keep-alive comments or empty events a stalled provider might send.
                async with asyncio.timeout(timeouts.first_byte_s):
                    response = await self._open(deployment, call, attempt, timeouts)
                    chunks = response.iter_chunks()
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
                        if not finished and response.at_eof():
                            # The whole stream came with the reads already made, every byte fed above (a short
                            # answer): finished now, so the client's response can leave whole, in one write.
                            await chunks.aclose()
                            finished = True
                            frames.extend(translator.finish())
                    except TransportError as exc:
                        raise _transport_error(exc, deployment.provider_name) from None
            except (UpstreamError, TimeoutError) as exc:
                if response is not None:
                    response.close()
                error = (
                    exc
                    if isinstance(exc, UpstreamError)
                    else _timeout_error(deployment.provider_name, "no first stream frame before the deadline")
                )
                walk.failed(step, error, started)
                continue
            except BaseException:
                if response is not None:
                    response.close()
                walk.cancelled(step)
                raise
            attempt.latency_ms = (self.health.clock() - started) * 1000
            stream = OpenStream(
                model, deployment, response, translator, frames, chunks, walk.attempts, health, self.health
            )
            stream.finished = finished
            return stream
        raise walk.exhausted()
