"""Budgets that hold under concurrency: reserve before dispatch, settle after.

A request reserves its estimated cost; it is admitted only if committed + reserved + estimate stays
within the budget, checked and recorded atomically (one lock-free step in process, one Lua script
in Redis). After the call the reservation is replaced by the real cost (0 for a failed call). So
parallel requests overspend by at most what in-flight requests cost beyond their estimates.

Money is held as integer nano-dollars (exact, and Redis-friendly). Committed spend is seeded once
per key and period from the request log, so restarts do not reset a budget. A reservation that a
crashed process never settles lapses after `reservation_ttl_s`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from redis.asyncio import Redis

from router.keys.redisguard import RedisGuard

NANO = Decimal(1_000_000_000)


def to_nano(usd: Decimal, up: bool = False) -> int:
    return int((usd * NANO).to_integral_value(rounding=ROUND_CEILING if up else None))


def to_usd(nano: int) -> Decimal:
    return Decimal(nano) / NANO


@dataclass(slots=True)
class Account:
    committed: int = 0
    reserved: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (amount, lapses at)

    def reserved_total(self, now: float) -> int:
        lapsed = [rid for rid, (_, until) in self.reserved.items() if until <= now]
        for rid in lapsed:
            del self.reserved[rid]
        return sum(amount for amount, _ in self.reserved.values())


@dataclass(slots=True)
class Reservation:
    key_id: str
    period: str
    id: str
    amount: int


@dataclass(slots=True)
class Standing:
    allowed: bool
    committed: int
    reserved: int


class LocalLedger:
    def __init__(self, ttl_s: float) -> None:
        self.ttl = ttl_s
        self.accounts: dict[tuple[str, str], Account] = {}

    def reserve(self, r: Reservation, limit: int, seed: int | None) -> Standing:
        account = self.accounts.get((r.key_id, r.period))
        if account is None:
            account = self.accounts[(r.key_id, r.period)] = Account(committed=seed or 0)
        now = time.time()
        reserved = account.reserved_total(now)
        if account.committed + reserved + r.amount > limit:
            return Standing(False, account.committed, reserved)
        account.reserved[r.id] = (r.amount, now + self.ttl)
        return Standing(True, account.committed, reserved + r.amount)

    def settle(self, r: Reservation, actual: int) -> None:
        account = self.accounts.setdefault((r.key_id, r.period), Account())
        account.reserved.pop(r.id, None)
        account.committed += actual

    def standing(self, key_id: str, period: str) -> Standing:
        account = self.accounts.get((key_id, period), Account())
        return Standing(True, account.committed, account.reserved_total(time.time()))


_RESERVE = """
local now = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
if tonumber(ARGV[6]) >= 0 then redis.call('HSETNX', KEYS[1], 'committed', ARGV[6]) end
local committed = tonumber(redis.call('HGET', KEYS[1], 'committed') or '0')
local reserved = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local a, u = string.match(all[i + 1], '(%d+):(%d+)')
  if tonumber(u) <= now then redis.call('HDEL', KEYS[2], all[i]) else reserved = reserved + tonumber(a) end
end
if committed + reserved + amount > limit then return {0, committed, reserved} end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[2] .. ':' .. ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return {1, committed, reserved + amount}
"""

_SETTLE = """
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'committed', ARGV[2])
"""

_STANDING = """
local now = tonumber(ARGV[1])
local committed = tonumber(redis.call('HGET', KEYS[1], 'committed') or '0')
local reserved = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local a, u = string.match(all[i + 1], '(%d+):(%d+)')
  if tonumber(u) > now then reserved = reserved + tonumber(a) end
end
return {committed, reserved}
"""

Seeder = Callable[[], Awaitable[int]]  # committed spend so far, from the request log


class Ledger:
    """Budget accounts on the configured backend, seeded once per key and period from the request log."""

    def __init__(self, guard: RedisGuard | None, ttl_s: float) -> None:
        self.guard = guard
        self.ttl = ttl_s
        self.local = LocalLedger(ttl_s)
        self.seeded: set[tuple[str, str]] = set()
        if guard is not None:
            self._reserve = guard.register(_RESERVE)
            self._settle = guard.register(_SETTLE)
            self._standing = guard.register(_STANDING)

    def _keys(self, key_id: str, period: str) -> list[str]:
        assert self.guard is not None
        p = self.guard.prefix
        return [f"{p}budget:{key_id}:{period}", f"{p}reserved:{key_id}:{period}"]

    async def reserve(
        self, key_id: str, period: str, amount: int, limit: int, seeder: Seeder
    ) -> tuple[Reservation, Standing]:
        r = Reservation(key_id, period, secrets.token_hex(8), amount)
        seed: int | None = None
        if (key_id, period) not in self.seeded:
            seed = await seeder()
            self.seeded.add((key_id, period))
        guard = self.guard
        if guard is None:
            return r, self.local.reserve(r, limit, seed)
        now_ms = int(time.time() * 1000)
        lapse_ms = now_ms + int(self.ttl * 1000)

        async def shared(client: Redis) -> Standing:
            args: list[Any] = [now_ms, amount, limit, r.id, lapse_ms, -1 if seed is None else seed]
            args.append(int(self.ttl) + 40 * 86400)
            ok, committed, reserved = await self._reserve(
                keys=self._keys(key_id, period), args=args, client=client
            )
            return Standing(ok == 1, int(committed), int(reserved))

        return r, await guard.run("budget", shared, lambda: self.local.reserve(r, limit, seed))

    async def settle(self, r: Reservation, actual: int) -> None:
        guard = self.guard
        if guard is None:
            self.local.settle(r, actual)
            return

        async def shared(client: Redis) -> None:
            await self._settle(keys=self._keys(r.key_id, r.period), args=[r.id, actual], client=client)

        # Settling never fails a request: if Redis is gone, the reservation lapses on its own and the
        # real cost is in the request log, which seeds the next period.
        try:
            await guard.run("budget", shared, lambda: self.local.settle(r, actual))
        except Exception:
            self.local.settle(r, actual)

    async def standing(self, key_id: str, period: str) -> Standing:
        guard = self.guard
        if guard is None:
            return self.local.standing(key_id, period)

        async def shared(client: Redis) -> Standing:
            committed, reserved = await self._standing(
                keys=self._keys(key_id, period), args=[int(time.time() * 1000)], client=client
            )
            return Standing(True, int(committed), int(reserved))

        return await guard.run("budget", shared, lambda: self.local.standing(key_id, period))
