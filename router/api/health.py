"""Liveness and readiness. A log-store outage degrades readiness but never fails it:
the gateway keeps serving and buffers rows (taking it out would turn a DB blip into an outage)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, get
from sqlalchemy import text

from router.gateway import Gateway


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def _ping(gateway: Gateway) -> None:
    with gateway.writer.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@get("/ready")
async def ready(request: Request[Any, Any, Any]) -> dict[str, Any]:
    gateway: Gateway = request.app.state.gateway
    # One ping at a time: against a hung database, repeated probes must not pile up blocked threads.
    pending: asyncio.Future[None] | None = gateway.extras.get("db_ping")
    if pending is not None and not pending.done():
        database = "unreachable (previous ping still waiting)"
    else:
        ping = asyncio.ensure_future(asyncio.to_thread(_ping, gateway))
        gateway.extras["db_ping"] = ping
        # A ping that outlives its 2 s wait still finishes; retrieve its error so asyncio does not report it.
        ping.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            await asyncio.wait_for(asyncio.shield(ping), timeout=2.0)
            database = "ok"
        except Exception as exc:
            database = f"unreachable ({type(exc).__name__})"
    stats = gateway.writer.stats
    checks: dict[str, Any] = {
        "config": gateway.settings.source,
        "database": database,
        "log_writer": {
            "healthy": stats.healthy,
            "queued": gateway.writer.queued,
            "written": stats.written,
            "dropped": stats.dropped,
        },
        "classifier": gateway.scorer.version if gateway.scorer else "placeholder",
        "policy_version": gateway.policy_version,
    }
    degraded = database != "ok" or not stats.healthy
    for name, probe in gateway.extras.get("ready_checks", {}).items():
        checks[name] = probe()
        degraded = degraded or (isinstance(checks[name], dict) and bool(checks[name].get("degraded")))
    return {"status": "degraded" if degraded else "ready", "checks": checks}
