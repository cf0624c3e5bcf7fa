"""`GET /metrics` in Prometheus text format, fed by one on_finish hook.

Our own small registry rather than `prometheus_client`: the hot path pays one
dict lookup per series and a bisect per histogram, with no locks (everything
runs on the event loop), and gauges that already exist elsewhere (log-writer
queue, breaker states) are read at scrape time instead of being pushed. Money
counters sum Decimals so the scrape matches the request log to the last digit.
Each process has its own registry; with `--workers N` scrape each or sum them.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from litestar import Litestar, Request, Response, get

from router.gateway import Gateway
from router.pipeline import Pipeline, RequestContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Labels, values: Labels, extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float | int | Decimal) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


class Counter:
    def __init__(self, name: str, help_text: str, labels: Labels = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, labels
        self.values: dict[Labels, Any] = {}  # int, float or Decimal (money), never mixed in one counter

    def inc(self, labels: Labels = (), amount: float | int | Decimal = 1) -> None:
        values = self.values
        values[labels] = values.get(labels, 0) + amount

    def get(self, labels: Labels = ()) -> float | int | Decimal:
        value: float | int | Decimal = self.values.get(labels, 0)
        return value

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Histogram:
    def __init__(
        self, name: str, help_text: str, labels: Labels = (), buckets: tuple[float, ...] = LATENCY_BUCKETS
    ) -> None:
        self.name, self.help, self.label_names, self.buckets = name, help_text, labels, buckets
        # per series: counts per bucket (not cumulative; +Inf last), then [sum]
        self.series: dict[Labels, tuple[list[int], list[float]]] = {}

    def observe(self, labels: Labels, value: float) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = ([0] * (len(self.buckets) + 1), [0.0])
        series[0][bisect_left(self.buckets, value)] += 1
        series[1][0] += value

    def count(self, labels: Labels) -> int:
        series = self.series.get(labels)
        return sum(series[0]) if series else 0

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for labels, (counts, total) in sorted(self.series.items()):
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else _number(bound)
                bucket = _labels(self.label_names, labels, 'le="' + le + '"')
                yield f"{self.name}_bucket{bucket} {running}"
            yield f"{self.name}_sum{_labels(self.label_names, labels)} {_number(total[0])}"
            yield f"{self.name}_count{_labels(self.label_names, labels)} {running}"


class Gauge:
    """Read at scrape time from a callback returning {labels: value}."""

    def __init__(
        self,
        name: str,
        help_text: str,
        read: Callable[[], dict[Labels, float]],
        labels: Labels = (),
        kind: str = "gauge",
    ) -> None:
        self.name, self.help, self.read, self.label_names, self.kind = name, help_text, read, labels, kind

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in sorted(self.read().items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


BREAKER_STATES = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}


def breaker_states(gateway: Gateway) -> dict[Labels, float]:
    """Breaker state per deployment (0 closed, 1 half-open, 2 open), from whatever the dispatcher exposes."""
    source = getattr(gateway.dispatcher, "breaker_states", None) or gateway.extras.get("breaker_states")
    if source is None:
        return {}
    states: dict[str, Any] = source() if callable(source) else source
    return {(str(name),): float(BREAKER_STATES.get(str(state), 0)) for name, state in states.items()}


class GatewayMetrics:
    """Every series the gateway exports; `observe` is the on_finish hook (hot path: keep it lean)."""

    def __init__(self, gateway: Gateway) -> None:
        writer = gateway.writer
        self.requests = Counter(
            "tiergate_requests_total",
            "Finished requests by endpoint, model, tier, outcome and HTTP status.",
            ("endpoint", "model", "tier", "status", "code"),
        )
        self.latency = Histogram(
            "tiergate_request_duration_seconds",
            "Request latency, receipt to last byte.",
            ("endpoint", "model"),
        )
        self.ttft = Histogram(
            "tiergate_time_to_first_token_seconds", "Streamed requests: receipt to first frame.", ("model",)
        )
        self.decision = Histogram(
            "tiergate_routing_decision_seconds",
            "Time to pick a tier for `auto` requests, by how it was picked.",
            ("source",),
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self.tokens = Counter("tiergate_tokens_total", "Tokens by model and kind.", ("model", "kind"))
        self.cost = Counter("tiergate_cost_usd_total", "Spend in USD by model.", ("model",))
        self.saved = Counter("tiergate_cache_saved_usd_total", "USD saved by cache hits.", ("model",))
        self.cache_hits = Counter(
            "tiergate_cache_hits_total", "Requests answered from the cache.", ("model",)
        )
        self.upstream_errors = Counter(
            "tiergate_upstream_errors_total",
            "Failed upstream attempts by provider, model and error type.",
            ("provider", "model", "error_type"),
        )
        self.retries = Counter(
            "tiergate_retries_total", "Upstream attempts that retried the same model.", ("model",)
        )
        self.fallbacks = Counter(
            "tiergate_fallbacks_total",
            "Switches to another model after a failure.",
            ("from_model", "to_model"),
        )
        self.series: list[Counter | Histogram | Gauge] = [
            self.requests,
            self.latency,
            self.ttft,
            self.decision,
            self.tokens,
            self.cost,
            self.saved,
            self.cache_hits,
            self.upstream_errors,
            self.retries,
            self.fallbacks,
            Gauge(
                "tiergate_breaker_state",
                "Circuit breaker per deployment: 0 closed, 1 half-open, 2 open.",
                lambda: breaker_states(gateway),
                ("deployment",),
            ),
            Gauge(
                "tiergate_log_queue_depth",
                "Request-log rows waiting to be written.",
                lambda: {(): writer.queued},
            ),
            Gauge(
                "tiergate_log_rows_dropped_total",
                "Request-log rows dropped because the buffer was full.",
                lambda: {(): writer.stats.dropped},
                kind="counter",
            ),
            Gauge(
                "tiergate_log_rows_written_total",
                "Request-log rows written.",
                lambda: {(): writer.stats.written},
                kind="counter",
            ),
            Gauge(
                "tiergate_log_rows_refused_total",
                "Request-log rows the database refused (a value or a constraint), not written.",
                lambda: {(): writer.stats.refused},
                kind="counter",
            ),
            Gauge(
                "tiergate_log_write_failures_total",
                "Failed request-log batch writes.",
                lambda: {(): writer.stats.failures},
                kind="counter",
            ),
        ]

    def observe(self, ctx: RequestContext) -> None:
        outcome, route = ctx.outcome, ctx.route
        model = outcome.model.name if outcome.model is not None else ""
        tier = (route.tier or "") if route is not None else ""
        self.requests.inc((ctx.endpoint, model, tier, outcome.status, str(outcome.http_status)))
        self.latency.observe((ctx.endpoint, model), time.perf_counter() - outcome.started)
        if route is not None and route.decision_ms is not None:
            self.decision.observe((route.tier_source,), route.decision_ms / 1000)
        if outcome.ttft_ms is not None:
            self.ttft.observe((model,), outcome.ttft_ms / 1000)
        usage = outcome.usage
        if usage is not None and model:
            tokens = self.tokens
            tokens.inc((model, "prompt"), usage.prompt_tokens)
            tokens.inc((model, "completion"), usage.completion_tokens)
            if usage.cached_tokens:
                tokens.inc((model, "cached"), usage.cached_tokens)
            if usage.reasoning_tokens:
                tokens.inc((model, "reasoning"), usage.reasoning_tokens)
        if outcome.cost:
            self.cost.inc((model,), outcome.cost)
        if outcome.cache_hit:
            self.cache_hits.inc((model,))
            if outcome.cost_saved:
                self.saved.inc((model,), outcome.cost_saved)
        attempts = outcome.attempts
        if len(attempts) > 1 or (attempts and attempts[0].error_type is not None):
            self._attempts(attempts)

    def _attempts(self, attempts: list[Any]) -> None:
        previous = None
        for attempt in attempts:
            if getattr(attempt, "skipped", False):
                continue  # not sent: a breaker or Retry-After window skipped that deployment
            if previous is not None:
                if attempt.model == previous.model:
                    self.retries.inc((attempt.model,))
                else:
                    self.fallbacks.inc((previous.model, attempt.model))
            if attempt.error_type is not None:
                self.upstream_errors.inc((attempt.provider, attempt.model, attempt.error_type))
            previous = attempt

    def render(self) -> bytes:
        lines: list[str] = []
        for series in self.series:
            lines.extend(series.render())
        return ("\n".join(lines) + "\n").encode()


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    registry: GatewayMetrics | None = getattr(request.app.state, "metrics", None)
    body = registry.render() if registry is not None else b"# metrics are off (observability.metrics)\n"
    return Response(body, media_type=CONTENT_TYPE)


route_handlers = [metrics_endpoint]


async def install(app: Litestar, gateway: Gateway, pipeline: Pipeline) -> None:
    if not gateway.settings.observability.metrics:
        return
    registry = GatewayMetrics(gateway)
    app.state.metrics = registry
    pipeline.hooks.on_finish.append(registry.observe)
