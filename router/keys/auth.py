"""Who is calling: `Authorization: Bearer <key>` or `x-api-key: <key>` -> a VirtualKey.

A key seen recently is answered from memory (no SQL on the request path). A cached key is re-read
after `key_cache_ttl_s`; if the key store is down then, the cached answer stands (valid keys keep
working through an outage) and the store is asked again a second later, not on every request. An
unknown key while the store is down is refused (401): it cannot be verified. Revocation in this
process is immediate; in others it is immediate with Redis (checked in the same round trip as the
rate limit, see limits.py) and within `key_cache_ttl_s` without it.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from router.errors import AuthenticationFailed
from router.keys.model import MASTER, VirtualKey, hash_secret
from router.keys.store import KeyStore

_MAX_CACHED = 100_000
_NEGATIVE_TTL_S = 2.0
_STORE_RETRY_S = 1.0


def presented_secret(headers: dict[str, str]) -> str:
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise AuthenticationFailed(
                "Malformed Authorization header: expected `Authorization: Bearer <key>`.",
                code="invalid_authorization_header",
            )
    else:
        token = (headers.get("x-api-key") or "").strip()
        if not token:
            raise AuthenticationFailed(
                "Missing API key: send `Authorization: Bearer <key>` or an `x-api-key` header.",
                code="missing_api_key",
            )
    if len(token) > 512 or not token.isascii() or not token.isprintable():
        raise AuthenticationFailed("Malformed API key.", code="invalid_api_key")
    return token


@dataclass(slots=True)
class Cached:
    key: VirtualKey
    checked_at: float


class Authenticator:
    def __init__(self, store: KeyStore, master_key: str | None, ttl_s: float, timeout_s: float) -> None:
        self.store = store
        self.master = master_key.encode() if master_key else None
        self.ttl = ttl_s
        self.timeout = timeout_s
        self.cache: dict[str, Cached] = {}
        self.by_id: dict[str, str] = {}
        self.unknown: dict[str, float] = {}
        self.pending: dict[str, asyncio.Future[VirtualKey | None]] = {}
        self.store_errors = 0
        self.store_healthy = True

    async def authenticate(self, headers: dict[str, str]) -> VirtualKey:
        secret = presented_secret(headers)
        if self.master is not None and hmac.compare_digest(secret.encode(), self.master):
            return MASTER
        digest = hash_secret(secret)
        now = time.monotonic()
        cached = self.cache.get(digest)
        if cached is not None and now - cached.checked_at < self.ttl:
            key = cached.key
        else:
            key = await self._lookup(digest, cached, now)
        if key.revoked_at is not None:
            raise AuthenticationFailed(f"API key {key.prefix} has been revoked.", code="key_revoked")
        if key.expired(datetime.now(UTC)):
            raise AuthenticationFailed(f"API key {key.prefix} has expired.", code="key_expired")
        return key

    async def _lookup(self, digest: str, cached: Cached | None, now: float) -> VirtualKey:
        if cached is None and self.unknown.get(digest, 0.0) > now:
            raise AuthenticationFailed("Incorrect API key provided.")
        try:
            key = await self._fetch(digest)
        except Exception:
            self.store_errors += 1
            self.store_healthy = False
            if cached is not None:
                # The store is down: keep trusting what we knew, and ask again in a second.
                cached.checked_at = now - self.ttl + _STORE_RETRY_S
                return cached.key
            self._remember_unknown(digest, now)
            raise AuthenticationFailed(
                "This API key cannot be verified right now (the key store is unavailable).",
                code="key_store_unavailable",
            ) from None
        self.store_healthy = True
        if key is None:
            self.cache.pop(digest, None)
            self._remember_unknown(digest, now)
            raise AuthenticationFailed("Incorrect API key provided.")
        if len(self.cache) >= _MAX_CACHED:
            self.cache.clear()
            self.by_id.clear()
        self.cache[digest] = Cached(key, now)
        self.by_id[key.id] = digest
        return key

    async def _fetch(self, digest: str) -> VirtualKey | None:
        """One store read per hash at a time, however many requests are waiting on it."""
        waiting = self.pending.get(digest)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future: asyncio.Future[VirtualKey | None] = asyncio.get_running_loop().create_future()
        self.pending[digest] = future
        try:
            key = await asyncio.wait_for(asyncio.to_thread(self.store.by_hash, digest), self.timeout)
            future.set_result(key)
            return key
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self.pending[digest]

    def _remember_unknown(self, digest: str, now: float) -> None:
        if len(self.unknown) >= _MAX_CACHED:
            self.unknown.clear()
        self.unknown[digest] = now + _NEGATIVE_TTL_S

    def revoked(self, key_id: str) -> None:
        """Mark a key revoked in this process at once (whoever revoked it)."""
        digest = self.by_id.get(key_id)
        cached = self.cache.get(digest) if digest else None
        if cached is not None and cached.key.revoked_at is None:
            cached.key = replace(cached.key, revoked_at=datetime.now(UTC))
