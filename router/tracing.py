"""Optional OpenTelemetry traces: one span per request, one child span per upstream attempt.

Off by default, and never imported unless `observability.tracing` asks for it,
so the SDK is not a dependency of the hot path. Spans are recorded when the
request finishes, from what the outcome already holds: the request span has
its real start and end; attempt spans have their measured durations laid out
in order from the moment routing ended (the gaps between them, i.e. backoff
sleeps, are approximate). Recording at the end costs the request nothing while
it is in flight and needs no hook inside dispatch.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from litestar import Litestar

from router.gateway import Gateway
from router.pipeline import Pipeline, RequestContext

log = logging.getLogger("tiergate.tracing")


def _provider(mode: str, service_name: str) -> Any:
    """A TracerProvider for `mode`, or None when it cannot be built (the reason is logged)."""
    from opentelemetry import trace

    if mode == "global":
        return trace.get_tracer_provider()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    exporter: Any
    if mode == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning(
                "tracing=otlp needs `pip install opentelemetry-exporter-otlp-proto-http`; tracing is off"
            )
            return None
        exporter = OTLPSpanExporter()  # endpoint etc. from the standard OTEL_EXPORTER_OTLP_* variables
    else:
        exporter = ConsoleSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class RequestTracer:
    def __init__(self, tracer: Any) -> None:
        from opentelemetry import trace

        self._tracer = tracer
        self._trace = trace

    async def routed(self, ctx: RequestContext) -> None:
        ctx.state["trace_routed"] = time.perf_counter()

    def finish(self, ctx: RequestContext) -> None:
        trace = self._trace
        now_perf, now_ns = time.perf_counter(), time.time_ns()

        def wall(perf: float) -> int:
            return now_ns - int((now_perf - perf) * 1e9)

        outcome, route = ctx.outcome, ctx.route
        attributes: dict[str, Any] = {
            "tiergate.request_id": ctx.request_id,
            "tiergate.endpoint": ctx.endpoint,
            "tiergate.status": outcome.status,
            "http.response.status_code": outcome.http_status,
            "tiergate.attempts": len(outcome.attempts),
            "tiergate.cost_usd": float(outcome.cost),
            "tiergate.cache_hit": outcome.cache_hit,
        }
        if outcome.model is not None:
            attributes["gen_ai.response.model"] = outcome.model.name
        if route is not None:
            attributes["gen_ai.request.model"] = route.requested
            attributes["tiergate.tier"] = route.tier or ""
            attributes["tiergate.tier_source"] = route.tier_source
        if outcome.usage is not None:
            attributes["gen_ai.usage.input_tokens"] = outcome.usage.prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = outcome.usage.completion_tokens
        span = self._tracer.start_span(
            f"tiergate {ctx.endpoint}", start_time=wall(outcome.started), attributes=attributes
        )
        if outcome.status == "error":
            span.set_status(
                trace.Status(trace.StatusCode.ERROR, outcome.error.message if outcome.error else "")
            )
        parent = trace.set_span_in_context(span)
        cursor = wall(ctx.state.get("trace_routed", outcome.started))
        for number, attempt in enumerate(outcome.attempts, 1):
            duration = int(attempt.latency_ms * 1e6)
            child = self._tracer.start_span(
                f"upstream {attempt.provider}",
                context=parent,
                start_time=cursor,
                attributes={
                    "tiergate.attempt": number,
                    "gen_ai.system": attempt.provider,
                    "gen_ai.request.model": attempt.model,
                    "tiergate.deployment": attempt.deployment,
                    "http.response.status_code": attempt.status or 0,
                    "error.type": attempt.error_type or "",
                },
            )
            skipped = bool(getattr(attempt, "skipped", False))
            child.set_attribute("tiergate.skipped", skipped)  # not sent: breaker open, Retry-After window
            if attempt.error_type is not None and not skipped:
                child.set_status(trace.Status(trace.StatusCode.ERROR, attempt.error_type))
            cursor += duration
            child.end(end_time=cursor)
        span.end(end_time=now_ns)


def tracing_mode(configured: str, environ: dict[str, str] | None = None) -> str:
    """The config's mode; when it is off, the standard OTEL_TRACES_EXPORTER=otlp|console also turns it on."""
    if configured != "off":
        return configured
    exporter = (os.environ if environ is None else environ).get("OTEL_TRACES_EXPORTER", "").strip().lower()
    return exporter if exporter in ("otlp", "console") else "off"


async def install(app: Litestar, gateway: Gateway, pipeline: Pipeline) -> Any:
    config = gateway.settings.observability
    mode = tracing_mode(config.tracing)
    if mode == "off":
        return None
    try:
        provider = _provider(mode, config.service_name)
    except ImportError:
        log.warning("tracing=%s needs `pip install opentelemetry-sdk`; tracing is off", mode)
        return None
    if provider is None:
        return None
    tracer = RequestTracer(provider.get_tracer("tiergate"))
    pipeline.hooks.on_routed.append(tracer.routed)
    pipeline.hooks.on_finish.append(tracer.finish)
    if mode == "global":
        return None

    async def shutdown() -> None:
        provider.shutdown()

    return shutdown
