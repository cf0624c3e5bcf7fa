"""Structured JSON process logs, each line carrying the request id of the request that wrote it.

The request id lives in a context variable set by the first on_request hook,
so any log call made while serving a request (dispatch, hooks, tasks it spawns)
is tagged without passing the id around. Lines are one JSON object each:
`ts`, `level`, `logger`, `msg`, `request_id`, and any `extra=` fields.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from litestar import Litestar

from router.gateway import Gateway
from router.pipeline import Pipeline, RequestContext

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tiergate_request_id", default=None
)

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at emit time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


_MARK = "_tiergate_json"


def configure_logging(level: str = "INFO") -> None:
    """Route the root logger (and uvicorn's) to one JSON handler on stderr; idempotent per process."""
    root = logging.getLogger()
    if any(getattr(handler, _MARK, False) for handler in root.handlers):
        return
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    # The level goes on our own logger: third-party chatter stays at the root's level (WARNING by default).
    logging.getLogger("tiergate").setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own text handlers would print the same events a second time, unstructured.
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True


async def tag_request(ctx: RequestContext) -> None:
    request_id_var.set(ctx.request_id)


def access_logger(log: logging.Logger) -> Any:
    def access(ctx: RequestContext) -> None:
        outcome, route = ctx.outcome, ctx.route
        log.info(
            "request finished",
            extra={
                "request_id": ctx.request_id,
                "endpoint": ctx.endpoint,
                "model": outcome.model.name if outcome.model else None,
                "tier": route.tier if route else None,
                "status": outcome.status,
                "http_status": outcome.http_status,
                "attempts": len(outcome.attempts),
                "latency_ms": round((time.perf_counter() - outcome.started) * 1000, 2),
                "cost_usd": str(outcome.cost),
            },
        )

    return access


async def install(app: Litestar, gateway: Gateway, pipeline: Pipeline) -> None:
    config = gateway.settings.observability
    if config.log_format == "json":
        configure_logging(config.log_level)
    elif config.log_format == "text":
        logging.basicConfig()
        logging.getLogger("tiergate").setLevel(config.log_level.upper())
    # First, so that even an auth failure's log lines carry the id.
    pipeline.hooks.on_request.insert(0, tag_request)
    if config.access_log:
        pipeline.hooks.on_finish.append(access_logger(logging.getLogger("tiergate.access")))
