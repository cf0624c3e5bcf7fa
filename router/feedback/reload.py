"""Reload policy and classifier without a restart: `POST /admin/reload` (master key) or SIGHUP.

The new settings are loaded and validated first; a bad file leaves the running
policy untouched and says why. Every log row records the policy and classifier
versions that routed it, so a reload is visible in the log and the report.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar, Request, post

from router.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from router.gateway import Gateway
from router.pipeline import Pipeline
from router.settings import ConfigError, load_settings

log = logging.getLogger("tiergate")


def require_master(headers: Any) -> None:
    master = os.environ.get("TIERGATE_MASTER_KEY")
    if not master:
        raise PermissionDenied("admin endpoints need TIERGATE_MASTER_KEY to be set on the gateway")
    auth = headers.get("authorization") or ""
    token = auth[7:] if auth.lower().startswith("bearer ") else headers.get("x-api-key") or ""
    if not token:
        raise AuthenticationFailed("missing master key")
    if not hmac.compare_digest(token.encode(), master.encode()):
        raise PermissionDenied("this endpoint needs the master key")


async def reload_gateway(app: Litestar) -> dict[str, Any]:
    gateway: Gateway = app.state.gateway
    source = gateway.settings.source
    path = source if source and not source.startswith("<") else None
    try:
        settings = await asyncio.to_thread(load_settings, path)
    except ConfigError as exc:
        raise InvalidRequest(f"reload refused, the running policy is unchanged: {exc}") from None
    loader: Callable[[Any], Any] | None = getattr(app.state, "scorer_loader", None)
    scorer = await asyncio.to_thread(loader, settings) if loader is not None else gateway.scorer
    old_policy = gateway.policy_version
    await gateway.reload(settings, scorer)
    log.warning("reloaded: policy %s -> %s", old_policy, gateway.policy_version)
    return {
        "policy_version": gateway.policy_version,
        "previous_policy_version": old_policy,
        "classifier_version": gateway.scorer.version if gateway.scorer else None,
    }


@post("/admin/reload", status_code=200)
async def admin_reload(request: Request[Any, Any, Any]) -> dict[str, Any]:
    require_master(request.headers)
    return await reload_gateway(request.app)


route_handlers = [admin_reload]


async def install(
    app: Litestar, gateway: Gateway, pipeline: Pipeline
) -> Callable[[], Awaitable[None]] | None:
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Future[None]] = set()

    def on_hangup() -> None:
        async def run() -> None:
            try:
                await reload_gateway(app)
            except Exception as exc:
                log.error("SIGHUP reload failed: %s", exc)

        task = asyncio.ensure_future(run())
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    except (RuntimeError, ValueError, NotImplementedError):
        return None  # not the main thread (tests, embedded servers): the admin endpoint still works

    async def remove() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return remove
