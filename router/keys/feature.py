"""The keys feature as the app plugs it in (listed in router.app.FEATURE_MODULES)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from router.gateway import Gateway
from router.keys.admin import MASTER_ENV
from router.keys.admin import route_handlers as route_handlers
from router.keys.auth import Authenticator
from router.keys.redisguard import RedisGuard, make_client
from router.keys.service import KeyService
from router.keys.store import KeyStore
from router.log.store import make_engine
from router.pipeline import Pipeline, RequestContext, Shortcut

log = logging.getLogger("tiergate")


async def install(app: Any, gateway: Gateway, pipeline: Pipeline) -> Callable[[], Awaitable[None]]:
    settings = gateway.settings
    config = settings.keys
    engine = make_engine(settings.database_url)
    store = KeyStore(engine)
    master = os.environ.get(MASTER_ENV) or None
    try:
        active = await asyncio.to_thread(store.count_active)
    except Exception:
        active = -1  # cannot tell: never fall open because the store is unreachable
    auth = None
    if master is not None or active != 0:
        auth = Authenticator(store, master, config.key_cache_ttl_s, config.store_timeout_s)
    else:
        log.warning(
            "tiergate: no master key ($%s) and no keys: serving OPEN, without authentication (loopback only)",
            MASTER_ENV,
        )
    guard = None
    if config.backend == "redis":
        guard = RedisGuard(make_client(config.redis), config.redis, config.on_redis_down)
    embedder: Any = gateway.scorer if hasattr(gateway.scorer, "embed") else None  # the classifier's embed()
    service = KeyService(settings, store, auth, guard, embedder, gateway.index.resolve)
    app.state.key_service = service
    if guard is not None and not await guard.warm():
        log.warning(
            "tiergate: Redis is unreachable at start; keys.on_redis_down=%s applies", config.on_redis_down
        )

    async def reserve(ctx: RequestContext) -> Shortcut | None:
        if ctx.key is not None:  # a request without a key reserves nothing: no coroutine for it
            await service.on_routed_reserve(ctx)
        return None

    # After the console and logging hooks (they insert themselves first): auth sees their headers.
    pipeline.hooks.on_request.append(service.on_request)
    pipeline.hooks.on_routed.extend([service.on_routed_cache, reserve])
    pipeline.hooks.on_finish.append(service.on_finish)
    gateway.extras.setdefault("ready_checks", {})["keys"] = service.ready

    async def cleanup() -> None:
        if guard is not None:
            await guard.aclose()
        engine.dispose()

    return cleanup
