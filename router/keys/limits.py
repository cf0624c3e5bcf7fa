"""Requests and tokens per minute, per key, with OpenAI's `x-ratelimit-*` headers.

Requests: a sliding log (exact: never more than `rpm` admitted in any window, across processes when
the log lives in Redis). Tokens: a bucket refilled at `tpm` per window; a request reserves its estimate
before dispatch and the difference to its real usage is settled after.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from router.errors import AuthenticationFailed, RateLimited
from router.keys.redisguard import RedisGuard


@dataclass(slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    revoked: bool = False


def duration(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `1s`, `6m0s`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds == int(seconds) else f"{seconds:.3g}s"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{rest}s"


def headers(kind: str, decision: Decision) -> list[tuple[str, str]]:
    return [
        (f"x-ratelimit-limit-{kind}", str(decision.limit)),
        (f"x-ratelimit-remaining-{kind}", str(max(0, decision.remaining))),
        (f"x-ratelimit-reset-{kind}", duration(decision.reset_s)),
    ]


def refuse(kind: str, decision: Decision, key_prefix: str) -> RateLimited:
    extra = dict(headers(kind, decision))
    extra["retry-after"] = str(max(1, math.ceil(decision.reset_s)))
    unit = "requests" if kind == "requests" else "tokens"
    return RateLimited(
        f"Rate limit reached for key {key_prefix} on {unit} per minute: limit {decision.limit}. "
        f"Try again in {duration(decision.reset_s)}.",
        code="rate_limit_exceeded",
        headers=extra,
    )


class LocalLimits:
    """In-process counters: a deque per key; microseconds per call."""

    def __init__(self, window_s: float) -> None:
        self.window = window_s
        self._logs: dict[str, deque[float]] = {}
        self._buckets: dict[str, list[float]] = {}

    def admit(self, key_id: str, limit: int, now: float) -> Decision:
        log = self._logs.get(key_id)
        if log is None:
            log = self._logs[key_id] = deque()
        edge = now - self.window
        while log and log[0] <= edge:
            log.popleft()
        if len(log) >= limit:
            return Decision(False, limit, 0, log[0] + self.window - now)
        log.append(now)
        return Decision(True, limit, limit - len(log), log[0] + self.window - now)

    def _level(self, key_id: str, limit: int, now: float) -> list[float]:
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = [float(limit), now]
        bucket[0] = min(float(limit), bucket[0] + (now - bucket[1]) * limit / self.window)
        bucket[1] = now
        return bucket

    def take_tokens(self, key_id: str, limit: int, tokens: int, now: float, force: bool) -> Decision:
        bucket = self._level(key_id, limit, now)
        if not force and bucket[0] < tokens:
            return Decision(False, limit, int(bucket[0]), (tokens - bucket[0]) * self.window / limit)
        bucket[0] -= tokens
        return Decision(True, limit, int(bucket[0]), max(0.0, limit - bucket[0]) * self.window / limit)


_ADMIT = """
if redis.call('SISMEMBER', KEYS[2], ARGV[5]) == 1 then return {-1, 0, 0} end
local limit = tonumber(ARGV[3])
if limit <= 0 then return {1, 0, 0} end
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, 0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {1, limit - n - 1, tonumber(first[2]) + window - now}
"""

_TOKENS = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(state[1]) or limit
local ts = tonumber(state[2]) or now
level = math.min(limit, level + (now - ts) * limit / window)
if ARGV[5] == '0' and level < tokens then
  redis.call('HSET', KEYS[1], 'level', level, 'ts', now)
  return {0, math.floor(level), math.ceil((tokens - level) * window / limit)}
end
level = level - tokens
redis.call('HSET', KEYS[1], 'level', level, 'ts', now)
redis.call('PEXPIRE', KEYS[1], window * 2)
return {1, math.floor(level), math.ceil(math.max(0, limit - level) * window / limit)}
"""


class Limits:
    """Per-key limits on the configured backend (`guard` None: in-process only)."""

    def __init__(self, window_s: float, guard: RedisGuard | None) -> None:
        self.window = window_s
        self.local = LocalLimits(window_s)
        self.guard = guard
        if guard is not None:
            self._admit = guard.register(_ADMIT)
            self._tokens = guard.register(_TOKENS)

    async def admit(self, key_id: str, rpm: int | None, key_prefix: str) -> Decision | None:
        """Count one request (and, with Redis, check revocation in the same round trip)."""
        now = time.time()
        guard = self.guard
        if guard is None:
            return self.local.admit(key_id, rpm, now) if rpm else None
        p = guard.prefix
        member = f"{now:.6f}-{secrets.token_hex(4)}"

        async def shared(client: Redis) -> Decision | None:
            keys = [f"{p}rpm:{key_id}", f"{p}revoked"]
            args: list[Any] = [int(now * 1000), int(self.window * 1000), rpm or 0, member, key_id]
            allowed, remaining, reset_ms = await self._admit(keys=keys, args=args, client=client)
            if allowed == -1:
                raise AuthenticationFailed(f"API key {key_prefix} has been revoked.", code="key_revoked")
            if not rpm:
                return None
            return Decision(allowed == 1, rpm, int(remaining), int(reset_ms) / 1000)

        return await guard.run(
            "rate-limit",
            shared,
            lambda: self.local.admit(key_id, rpm, now) if rpm else None,
        )

    async def take_tokens(self, key_id: str, tpm: int, tokens: int, force: bool = False) -> Decision:
        """Reserve `tokens` (or, with force, settle a difference that may be negative)."""
        now = time.time()
        guard = self.guard
        if guard is None:
            return self.local.take_tokens(key_id, tpm, tokens, now, force)

        async def shared(client: Redis) -> Decision:
            args: list[Any] = [int(now * 1000), int(self.window * 1000), tpm, tokens, "1" if force else "0"]
            allowed, remaining, reset_ms = await self._tokens(
                keys=[f"{guard.prefix}tpm:{key_id}"], args=args, client=client
            )
            return Decision(allowed == 1, tpm, int(remaining), int(reset_ms) / 1000)

        return await guard.run(
            "rate-limit", shared, lambda: self.local.take_tokens(key_id, tpm, tokens, now, force)
        )

    async def revoke(self, key_id: str) -> None:
        if self.guard is not None:
            await self.guard.call(lambda client: client.sadd(f"{self.guard.prefix}revoked", key_id))  # type: ignore[union-attr]
