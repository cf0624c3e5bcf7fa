"""create_app(settings): routes, and a lifespan that owns every long-lived resource."""

from __future__ import annotations

import contextlib
import gc
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
from router.api.openapi import document_raw_routes, post_operation
from router.errors import GatewayError, InvalidRequest, NotFound, render_error
from router.gateway import Gateway, Scorer
from router.pipeline import Pipeline
from router.settings import Settings, load_settings
from router.wire.chat import ChatRequest

log = logging.getLogger("tiergate")

# Features that plug into the app: each module may expose `route_handlers` (a list of litestar handlers) and
# `async def install(app, gateway, pipeline) -> Callable[[], Awaitable[None]] | None`, called in the lifespan
# to add hooks and resources; what it returns is awaited at shutdown.
FEATURE_MODULES: tuple[str, ...] = (
    "router.feedback.api",
    "router.feedback.reload",
    "router.feedback.shadow",
    "router.observability",
    "router.metrics",
    "router.tracing",
    "router.console",
    "router.api.responses",
    "router.keys.feature",
    "router.api.messages",
    "router.api.embeddings",
    "router.api.messages_extras",
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


CHAT_PATH = "/v1/chat/completions"


@asgi(CHAT_PATH, copy_scope=False)
async def chat_completions(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await send_error(send, InvalidRequest("use POST for /v1/chat/completions"), [])
        return
    handler: ChatHandler = scope["app"].state.chat_handler
    await handler(scope, receive, send)


class TiergateApp(Litestar):
    """Litestar, with `POST /v1/chat/completions` served before litestar's router and middleware.

    Every token pays for this path: routing, the exception middleware and the
    wrapped `send` cost ~0.1 ms of CPU per request on this machine, a third of what
    the whole gateway may add (README, "Performance"). Everything else, and any
    other method on the path, still goes through litestar.
    """

    chat_handler: ChatHandler | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        handler = self.chat_handler
        if (
            handler is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == CHAT_PATH
        ):
            scope["app"] = scope["litestar_app"] = self
            try:
                await handler(scope, receive, send)
            except Exception as exc:  # a bug: answer in OpenAI's shape as litestar's middleware would
                log.exception("unhandled error in chat completions")
                with contextlib.suppress(Exception):
                    await send_error(send, GatewayError(f"internal error: {type(exc).__name__}"), [])
            return
        await super().__call__(scope, receive, send)


CHAT_DOC = post_operation(
    "Create a chat completion",
    ChatRequest,
    "OpenAI's chat completions API. `model` may be `auto` (routed by the classifier and policy), a configured "
    "name or alias, or `provider/upstream-model`. Any other OpenAI field is passed on unchanged.",
    "chat",
)


def _gateway_error(_: Request[Any, Any, Any], error: GatewayError) -> Response[bytes]:
    status, headers, body = render_error(error)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _internal_error(_: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    log.exception("unhandled error", exc_info=error)
    wrapped = GatewayError("the gateway hit an internal error; it has been logged")
    status, headers, body = render_error(wrapped)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    wrapped: GatewayError
    if error.status_code == 404:
        wrapped = NotFound(str(error.detail))
    else:
        # litestar's body validation names the field and what is wrong in `extra`; the client gets both
        problems = [p for p in error.extra if isinstance(p, dict)] if isinstance(error.extra, list) else []
        detail = "; ".join(f"{p.get('key') or 'body'}: {p.get('message')}" for p in problems)
        param = str(problems[0]["key"]) if len(problems) == 1 and problems[0].get("key") else None
        wrapped = InvalidRequest(f"{error.detail}: {detail}" if detail else str(error.detail), param=param)
        wrapped.status = error.status_code  # type: ignore[misc]
    status, headers, body = render_error(wrapped)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def tune_collector() -> None:
    """For a server process, once it is ready: what start-up built (framework, classifier, tables) lives
    for the whole process, so freeze it out of the collector's scans, and collect the young generation
    less often. Measured: about -0.1 ms of CPU per request at c=64 (README, "Performance")."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 20, 20)


def create_app(
    settings: Settings,
    *,
    scorer: Scorer | None = None,
    load_classifier: bool = True,
    tune_gc: bool = False,
) -> Litestar:
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
            if isinstance(app, TiergateApp):
                app.chat_handler = app.state.chat_handler
            if tune_gc:
                tune_collector()
            yield
        finally:
            if isinstance(app, TiergateApp):
                app.chat_handler = None
            for cleanup in reversed(cleanups):
                await cleanup()
            await gateway.close()

    features = _features()
    extra_routes = [handler for feature in features for handler in getattr(feature, "route_handlers", [])]
    app = TiergateApp(
        route_handlers=[chat_completions, list_models, retrieve_model, health, ready, *extra_routes],
        lifespan=[lifespan],
        exception_handlers={
            GatewayError: _gateway_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        openapi_config=OpenAPIConfig(title="tiergate", version="0.1.0", path="/openapi"),
        debug=False,
        # Logging is ours (router/observability.py); litestar's default would set the root logger to INFO.
        logging_config=None,
    )
    raw_docs = {"/v1/chat/completions": CHAT_DOC}
    for feature in features:
        raw_docs.update(getattr(feature, "openapi_paths", {}))
    document_raw_routes(app, raw_docs)
    return app


def app_from_environment() -> Litestar:
    """Factory for `uvicorn --factory` worker processes: settings from $TIERGATE_CONFIG."""
    return create_app(load_settings(os.environ.get("TIERGATE_CONFIG")), tune_gc=True)
