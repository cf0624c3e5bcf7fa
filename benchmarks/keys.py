"""Per-request cost of keys, limits, budgets and the cache on the hot path.

    python benchmarks/keys.py [--iterations N] [--redis redis://127.0.0.1:6379/0]

Measures, per request: the auth hook for a cached key, the requests-per-minute check, a token
reservation, a budget reserve + settle, and the exact cache key plus a lookup; first with the
in-process backends (the default), then on Redis if `--redis` is given. Prints a table and writes JSON
under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.keys.auth import Authenticator, Cached  # noqa: E402
from router.keys.budgets import Ledger  # noqa: E402
from router.keys.cache import ResponseCache, exact_key  # noqa: E402
from router.keys.config import CacheConfig, RedisConfig  # noqa: E402
from router.keys.limits import Limits  # noqa: E402
from router.keys.model import VirtualKey, hash_secret  # noqa: E402
from router.keys.redisguard import RedisGuard, make_client  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What does a cache do? " * 20}]}


async def _time(n: int, step: Callable[[int], Awaitable[Any]]) -> float:
    for i in range(min(n, 200)):
        await step(i)
    started = time.perf_counter()
    for i in range(n):
        await step(i)
    return (time.perf_counter() - started) / n * 1e6


async def measure(n: int, guard: RedisGuard | None) -> dict[str, float]:
    secret = "tg-benchmark-secret"
    key = VirtualKey(id="key_bench", name="bench", prefix="tg-bench...", created_at=datetime.now(UTC))
    auth = Authenticator(store=None, master_key=None, ttl_s=3600, timeout_s=1)  # type: ignore[arg-type]
    auth.cache[hash_secret(secret)] = Cached(key, time.monotonic())
    headers = {"authorization": f"Bearer {secret}"}
    limits = Limits(60.0, guard)

    async def seed() -> int:
        return 0

    ledger = Ledger(guard, 900.0)
    cache = ResponseCache(CacheConfig(enabled=True), guard)

    async def budget(i: int) -> None:
        reservation, _ = await ledger.reserve("key_bench", "2026-11", 1000, 10**15, seed)
        await ledger.settle(reservation, 900)

    async def cache_lookup(i: int) -> None:
        await cache.get(exact_key("key_bench", "gpt-4o-mini", BODY))

    return {
        "auth (cached key)": await _time(n, lambda i: auth.authenticate(headers)),
        "rpm check": await _time(n, lambda i: limits.admit(f"k{i % 64}", 10**9, "p")),
        "tpm reserve": await _time(n, lambda i: limits.take_tokens(f"k{i % 64}", 10**12, 500)),
        "budget reserve + settle": await _time(n, budget),
        "cache key + lookup": await _time(n, cache_lookup),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--redis")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {"in-process": await measure(args.iterations, None)}
    if args.redis:
        config = RedisConfig(url=args.redis, prefix="tiergate-bench:", timeout_s=5.0)
        guard = RedisGuard(make_client(config), config)
        results["redis"] = await measure(min(args.iterations, 5_000), guard)
        await guard.aclose()
    steps = list(next(iter(results.values())))
    print(f"{'step (µs per request)':<26}" + "".join(f"{name:>14}" for name in results))
    for step in steps:
        print(f"{step:<26}" + "".join(f"{results[name][step]:>14.1f}" for name in results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "keys.json"
    out.write_text(json.dumps({"machine": platform.platform(), "us_per_request": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
