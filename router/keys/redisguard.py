"""Every Redis call goes through here: bounded by a timeout, behind a breaker.

After `breaker_failures` consecutive failures the breaker opens and calls fail at once with
`RedisDown` (no network, no waiting) for `breaker_cooldown_s`; then one call probes, and its result
closes or re-opens the breaker. So a blackholed Redis costs at most one timeout per request until the
breaker opens, and nothing per request after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
from redis.retry import Retry

from router.errors import ServiceUnavailable
from router.keys.config import RedisConfig
from router.keys.config import RedisDown as DownPolicy

T = TypeVar("T")


class RedisDown(Exception):
    """Redis did not answer (or the breaker is open)."""


def unavailable(what: str, retry_after: float) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the shared {what} store (Redis) is unavailable and this gateway is configured to fail closed "
        "(keys.on_redis_down: closed); try again shortly",
        code="limits_unavailable",
        headers={"retry-after": str(max(1, round(retry_after)))},
    )


def make_client(config: RedisConfig) -> Redis:
    # A bounded pool: a burst queues on a few warm connections instead of opening one per request
    # (new connections under a burst were what timed out first). No CLIENT SETINFO round trips.
    pool = BlockingConnectionPool.from_url(
        config.url,
        max_connections=config.max_connections,
        timeout=config.timeout_s,
        socket_timeout=config.timeout_s,
        socket_connect_timeout=config.timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        lib_name=None,
        lib_version=None,
    )
    return Redis(connection_pool=pool)


class RedisGuard:
    def __init__(self, client: Redis, config: RedisConfig, on_down: DownPolicy = "closed") -> None:
        self.client = client
        self.config = config
        self.on_down = on_down
        self.prefix = config.prefix
        self.failures = 0
        self.open_until = 0.0
        self.probing = False
        self.calls = 0  # calls that reached the network (tests check the breaker with it)
        self.last_error: str | None = None
        self.scripts: list[str] = []

    def register(self, source: str) -> AsyncScript:
        self.scripts.append(source)
        return self.client.register_script(source)

    async def warm(self) -> bool:
        """Load the scripts and open a few connections before traffic arrives (a failure is not fatal)."""
        try:

            async def load(client: Redis) -> None:
                for source in self.scripts:
                    await client.script_load(source)

            await self.call(load)
            await asyncio.gather(*(self.call(lambda client: client.ping()) for _ in range(4)))
        except RedisDown:
            return False
        return True

    @property
    def is_open(self) -> bool:
        return self.failures >= self.config.breaker_failures

    async def call(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        probe = False
        if self.is_open:
            if self.probing or time.monotonic() < self.open_until:
                raise RedisDown("breaker open")
            self.probing = probe = True
        self.calls += 1
        try:
            result = await asyncio.wait_for(operation(self.client), self.config.timeout_s)
        except (RedisError, OSError, TimeoutError) as exc:
            self.failures += 1
            self.last_error = type(exc).__name__
            if self.is_open:
                self.open_until = time.monotonic() + self.config.breaker_cooldown_s
            raise RedisDown(self.last_error) from None
        finally:
            if probe:
                self.probing = False
        self.failures = 0
        return result

    async def run(self, what: str, shared: Callable[[Redis], Awaitable[T]], local: Callable[[], T]) -> T:
        """`shared` on Redis; when Redis is down, `local` (policy `local`) or a 503 (policy `closed`)."""
        try:
            return await self.call(shared)
        except RedisDown:
            if self.on_down == "local":
                return local()
            raise unavailable(what, max(1.0, self.open_until - time.monotonic())) from None

    def status(self) -> dict[str, Any]:
        if not self.is_open:
            return {"state": "ok" if self.failures == 0 else f"failing ({self.last_error})"}
        return {
            "state": "unavailable",
            "degraded": True,
            "on_redis_down": self.on_down,
            "breaker": "open",
            "last_error": self.last_error,
            "retry_in_s": round(max(0.0, self.open_until - time.monotonic()), 2),
        }

    async def aclose(self) -> None:
        await self.client.aclose()
