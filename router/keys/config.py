"""Settings of keys, limits, budgets and the response cache (the `keys:` section of the config).

Backends are chosen here: `memory` keeps counters and the cache in this process (microseconds, one
process only); `redis` shares them between processes. What happens when Redis is unreachable is a
choice, never an accident: `closed` answers 503 (nothing passes unmetered), `local` meters in this
process only until Redis returns (limits then hold per process, not across them).
"""

from __future__ import annotations

from typing import Literal

import msgspec

Backend = Literal["memory", "redis"]
RedisDown = Literal["closed", "local"]


class RedisConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "tiergate:"
    # Every Redis call is bounded by this; a blackholed Redis adds at most this much to a request. It
    # includes event-loop queueing, so it cannot be much tighter than a busy process's loop delay.
    timeout_s: float = 1.0
    max_connections: int = 32
    # Consecutive failures that open the breaker; while open, no request calls Redis.
    breaker_failures: int = 5
    breaker_cooldown_s: float = 5.0


class CacheConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool = False
    ttl_s: float = 3600.0
    max_entries: int = 10_000  # in-process backend only (Redis evicts by TTL)
    max_entry_bytes: int = 1_000_000
    semantic_threshold: float = 0.95
    semantic_max_entries: int = 2_000


class KeysConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    backend: Backend = "memory"
    redis: RedisConfig = RedisConfig()
    on_redis_down: RedisDown = "closed"
    # A cached key is re-read from the key store after this long (the revocation bound without Redis).
    key_cache_ttl_s: float = 30.0
    store_timeout_s: float = 2.0
    # A reservation a crashed process never settled lapses after this long.
    reservation_ttl_s: float = 900.0
    # The rate-limit window; 60 s is what "per minute" means. Tests may shorten it.
    window_s: float = 60.0
    cache: CacheConfig = CacheConfig()
