"""create_app(settings): routes, and a lifespan that owns every long-lived resource."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, asgi
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig

from router.api.asgi import Receive, Scope, Send, send_error
from router.api.chat import ChatHandler
from router.api.health import health, ready
from router.api.models import list_models, retrieve_model
from router.errors import GatewayError, InvalidRequest, NotFound, render_error
from router.gateway import Gateway, Scorer
from router.pipeline import Pipeline
from router.settings import Settings, load_settings

log = logging.getLogger("tiergate")

# Features that plug into the app: each module may expose `route_handlers` (a list of litestar handlers) and
# `async def install(app, gateway, pipeline) -> Callable[[], Awaitable[None]] | None`, called in the lifespan
# to add hooks and resources; what it returns is awaited at shutdown.
FEATURE_MODULES: tuple[str, ...] = (
    "router.feedback.api",
    "router.feedback.reload",
    "router.observability",
    "router.metrics",
    "router.tracing",
    "router.console",
    "router.api.responses",
    "router.keys.feature",
    "router.api.messages",
    "router.api.embeddings",
)


def _features() -> list[Any]:
    return [importlib.import_module(name) for name in FEATURE_MODULES]


def load_scorer(settings: Settings) -> Scorer | None:
    """The classifier for `auto`, or None for the documented placeholder."""
    if not settings.classifier.enabled:
        return None
    try:
        from classifier import RoutingClassifier  # type: ignore[attr-defined]
    except ImportError:
        log.warning("classifier package has no RoutingClassifier; `auto` uses the placeholder")
        return None
    scorer: Scorer = RoutingClassifier.load(settings.classifier.path, backend=settings.classifier.backend)
    return scorer


@asgi("/v1/chat/completions", copy_scope=False)
async def chat_completions(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await send_error(send, InvalidRequest("use POST for /v1/chat/completions"), [])
        return
    handler: ChatHandler = scope["app"].state.chat_handler
    await handler(scope, receive, send)


def _gateway_error(_: Request[Any, Any, Any], error: GatewayError) -> Response[bytes]:
    status, headers, body = render_error(error)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    wrapped: GatewayError
    if error.status_code == 404:
        wrapped = NotFound(str(error.detail))
    else:
        wrapped = InvalidRequest(str(error.detail))
        wrapped.status = error.status_code  # type: ignore[misc]
    status, headers, body = render_error(wrapped)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def create_app(settings: Settings, *, scorer: Scorer | None = None, load_classifier: bool = True) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        chosen = scorer if scorer is not None or not load_classifier else load_scorer(settings)
        gateway = await Gateway.start(settings, scorer=chosen)
        if scorer is None and load_classifier:
            app.state.scorer_loader = load_scorer
        app.state.gateway = gateway
        pipeline = Pipeline(gateway)
        app.state.pipeline = pipeline
        app.state.chat_handler = ChatHandler(pipeline)
        cleanups = []
        try:
            for feature in features:
                install = getattr(feature, "install", None)
                if install is not None:
                    cleanup = await install(app, gateway, pipeline)
                    if cleanup is not None:
                        cleanups.append(cleanup)
            yield
        finally:
            for cleanup in reversed(cleanups):
                await cleanup()
            await gateway.close()

    features = _features()
    extra_routes = [handler for feature in features for handler in getattr(feature, "route_handlers", [])]
    return Litestar(
        route_handlers=[chat_completions, list_models, retrieve_model, health, ready, *extra_routes],
        lifespan=[lifespan],
        exception_handlers={GatewayError: _gateway_error, HTTPException: _http_error},
        openapi_config=OpenAPIConfig(title="tiergate", version="0.1.0", path="/openapi"),
        debug=False,
    )


def app_from_environment() -> Litestar:
    """Factory for `uvicorn --factory` worker processes: settings from $TIERGATE_CONFIG."""
    return create_app(load_settings(os.environ.get("TIERGATE_CONFIG")))
