"""The pipeline hooks: authenticate and count (on_request), scope, cache and reserve (on_routed),
settle and store (on_finish). One KeyService per process, built by feature.install."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pricing.cost import request_cost
from router.catalog import Model
from router.errors import PermissionDenied, RateLimited
from router.keys import budgets, limits
from router.keys.auth import Authenticator
from router.keys.budgets import Ledger, Reservation, to_nano, to_usd
from router.keys.cache import Embedder, Entry, ResponseCache, bucket_key, conversation_text, exact_key
from router.keys.config import KeysConfig
from router.keys.model import Period, VirtualKey, period_id
from router.keys.redisguard import RedisGuard
from router.keys.store import KeyStore
from router.pipeline import RequestContext, Shortcut
from router.providers.base import Usage
from router.providers.openai_out import DONE_FRAME
from router.settings import Settings

log = logging.getLogger("tiergate.keys")

OPEN_SCOPE = "open"


def _period_end(period: str, now: datetime) -> datetime | None:
    if period == "day":
        return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return (first + timedelta(days=32)).replace(day=1)
    return None


class KeyService:
    def __init__(
        self,
        settings: Settings,
        store: KeyStore,
        auth: Authenticator | None,
        guard: RedisGuard | None,
        embedder: Embedder | None = None,
        resolve: Callable[[str], Model | None] | None = None,
    ) -> None:
        self.resolve = resolve
        self.settings = settings
        self.config: KeysConfig = settings.keys
        self.store = store
        self.auth = auth  # None: open mode (no master key, no keys)
        self.guard = guard
        self.limits = limits.Limits(self.config.window_s, guard)
        self.ledger = Ledger(guard, self.config.reservation_ttl_s)
        self.cache = ResponseCache(self.config.cache, guard) if self.config.cache.enabled else None
        self.embedder = embedder

    @property
    def open(self) -> bool:
        return self.auth is None

    async def _seed(self, key_id: str, period: Period) -> int:
        try:
            spent = await asyncio.wait_for(
                asyncio.to_thread(self.store.spent, key_id, period), self.config.store_timeout_s
            )
        except Exception:
            log.warning("could not read past spend of %s from the log; counting from zero", key_id)
            return 0
        return to_nano(spent)

    # --- on_request ---------------------------------------------------------------------------

    async def on_request(self, ctx: RequestContext) -> None:
        if self.auth is None:
            return
        key = await self.auth.authenticate(ctx.headers)
        ctx.key = key
        if key.is_master:
            return
        try:
            decision = await self.limits.admit(key.id, key.rpm, key.prefix)
        except Exception as exc:
            if getattr(exc, "code", None) == "key_revoked":  # seen in Redis: remember it here too
                self.auth.revoked(key.id)
            raise
        if decision is None:
            return
        ctx.response_headers.extend(limits.headers("requests", decision))
        if not decision.allowed:
            raise limits.refuse("requests", decision, key.prefix)

    # --- on_routed ----------------------------------------------------------------------------

    def _scope(self, ctx: RequestContext) -> str:
        key: VirtualKey | None = ctx.key
        return OPEN_SCOPE if key is None else key.cache_scope

    def check_models(self, ctx: RequestContext) -> None:
        key: VirtualKey | None = ctx.key
        if key is None or not key.models or ctx.route is None:
            return
        requested = ctx.route.requested
        allowed = [m for m in ctx.route.candidates if key.allows(m.name) or key.allows(requested)]
        if not allowed:
            raise PermissionDenied(
                f"API key {key.prefix} may not use model {requested!r} (allowed: {', '.join(key.models)})",
                code="model_not_allowed",
                param="model",
            )
        ctx.route.candidates = allowed

    async def on_routed_cache(self, ctx: RequestContext) -> Shortcut | None:
        self.check_models(ctx)
        cache = self.cache
        if cache is None or ctx.route is None or not ctx.route.candidates:
            return None
        control = ctx.headers.get("cache-control", "").lower()
        if "no-cache" in control or "no-store" in control:
            return None
        model = ctx.route.candidates[0].name
        scope = self._scope(ctx)
        key = exact_key(scope, model, ctx.body)
        ctx.state["cache_key"] = key
        if ctx.stream:
            ctx.state["cache_frames"] = []
        entry = await cache.get(key)
        if (
            entry is None
            and self.embedder is not None
            and "semantic" in ctx.headers.get("x-tiergate-cache", "")
        ):
            entry = await self._semantic_lookup(ctx, scope, model)
        if entry is None:
            return None
        resolved = next((m for m in ctx.route.candidates if m.name == entry.model), None)
        if resolved is None:
            resolved = (self.resolve(entry.model) if self.resolve else None) or ctx.route.candidates[0]
        usage = Usage(prompt_tokens=entry.prompt_tokens, completion_tokens=entry.completion_tokens)
        ctx.state.pop("cache_frames", None)
        return Shortcut(
            model=resolved,
            body=entry.body if not ctx.stream else None,
            frames=entry.frames if ctx.stream else None,
            usage=usage,
            cost_saved=Decimal(entry.cost),
        )

    async def _semantic_lookup(self, ctx: RequestContext, scope: str, model: str) -> Entry | None:
        assert self.cache is not None and self.embedder is not None
        try:
            vector = self.cache.semantic.unit(await self.embedder.embed(conversation_text(ctx.messages)))
        except Exception:
            log.exception("embedding for the semantic cache failed; treating as a miss")
            return None
        bucket = bucket_key(scope, model, ctx.body)
        ctx.state["cache_vector"] = (bucket, vector)
        similar = self.cache.semantic.nearest(bucket, vector)
        return await self.cache.get(similar) if similar is not None else None

    async def on_routed_reserve(self, ctx: RequestContext) -> None:
        key: VirtualKey | None = ctx.key
        if key is None or ctx.route is None or (key.tpm is None and key.budget_usd is None):
            return
        prompt = ctx.prompt_estimate()
        body = ctx.body
        out = body.get("max_completion_tokens") or body.get("max_tokens")
        if not isinstance(out, int) or out <= 0:
            out = self.settings.routing.expected_output_tokens.get(ctx.route.tier or "simple", 500)
        if key.tpm is not None:
            tokens = prompt + out
            decision = await self.limits.take_tokens(key.id, key.tpm, tokens)
            ctx.response_headers.extend(limits.headers("tokens", decision))
            if not decision.allowed:
                raise limits.refuse("tokens", decision, key.prefix)
            ctx.state["tpm_reserved"] = tokens
        if key.budget_usd is not None:
            # An upper estimate: prompts are counted locally (a provider's tokenizer may count more).
            usage = Usage(prompt_tokens=math.ceil(prompt * 1.25) + 8, completion_tokens=out)
            estimate = max(request_cost(m.price, usage) for m in ctx.route.candidates)
            now = datetime.now(UTC)
            period = period_id(key.budget_period, now)
            limit = to_nano(key.budget_usd)
            reservation, standing = await self.ledger.reserve(
                key.id,
                period,
                to_nano(estimate, up=True),
                limit,
                lambda: self._seed(key.id, key.budget_period),
            )
            if not standing.allowed:
                await self._release_tokens(ctx, key)
                raise self._over_budget(key, standing, estimate, now)
            ctx.state["reservation"] = reservation

    def _over_budget(
        self, key: VirtualKey, standing: budgets.Standing, estimate: Decimal, now: datetime
    ) -> RateLimited:
        end = _period_end(key.budget_period, now)
        headers = {"retry-after": str(max(1, int((end - now).total_seconds())))} if end else {}
        window = {"day": "today", "month": "this month", "total": "in total"}[key.budget_period]
        return RateLimited(
            f"Budget exceeded for API key {key.prefix}: ${to_usd(standing.committed):.4f} spent {window} "
            f"and ${to_usd(standing.reserved):.4f} reserved by requests in flight, of a "
            f"${key.budget_usd:.2f} budget; this request needs up to ${estimate:.6f}.",
            code="budget_exceeded",
            headers=headers,
        )

    async def _release_tokens(self, ctx: RequestContext, key: VirtualKey, used: int = 0) -> None:
        reserved = ctx.state.pop("tpm_reserved", None)
        if reserved is not None and key.tpm is not None:
            try:
                await self.limits.take_tokens(key.id, key.tpm, used - reserved, force=True)
            except Exception:
                log.warning("could not settle the token count of %s", key.prefix)

    # --- on_finish ----------------------------------------------------------------------------

    def on_finish(self, ctx: RequestContext) -> Awaitable[None] | None:
        """Settle the key's limits and budget, store the answer in the cache. Without a key or a cache entry to
        write there is nothing to do, and the hook returns no coroutine (the common open-mode request)."""
        if ctx.key is None and "cache_key" not in ctx.state:
            return None
        return self._settle(ctx)

    async def _settle(self, ctx: RequestContext) -> None:
        key: VirtualKey | None = ctx.key
        outcome = ctx.outcome
        try:
            if key is not None:
                usage = outcome.usage
                used = usage.prompt_tokens + usage.completion_tokens if usage and not outcome.cache_hit else 0
                await self._release_tokens(ctx, key, used)
                reservation: Reservation | None = ctx.state.pop("reservation", None)
                if reservation is not None:
                    # A failed call cost nothing; a partial stream costs what the provider billed.
                    await self.ledger.settle(reservation, to_nano(outcome.cost, up=True))
            await self._store(ctx)
        except Exception:
            log.exception("settling request %s failed", ctx.request_id)

    async def _store(self, ctx: RequestContext) -> None:
        cache, key = self.cache, ctx.state.get("cache_key")
        outcome = ctx.outcome
        if cache is None or key is None or outcome.cache_hit or outcome.model is None:
            return
        if outcome.status != "ok" or outcome.http_status != 200 or outcome.broke_at is not None:
            return  # failed, cancelled or partial: never cached
        body = ctx.state.get("cache_body")
        frames: list[bytes] | None = ctx.state.get("cache_frames")
        if ctx.stream:
            if not frames or not frames[-1].endswith(DONE_FRAME):  # complete: it ends with [DONE]
                return
        elif body is None:
            return
        usage = outcome.usage or Usage()
        entry = Entry(
            outcome.model.name,
            body if not ctx.stream else None,
            frames if ctx.stream else None,
            usage.prompt_tokens,
            usage.completion_tokens,
            str(outcome.cost),
        )
        if await cache.put(key, entry):
            vector = ctx.state.get("cache_vector")
            if vector is not None:
                cache.semantic.add(vector[0], vector[1], key)

    # --- readiness and admin ------------------------------------------------------------------

    def ready(self) -> dict[str, Any]:
        check: dict[str, Any] = {
            "auth": "open (no master key, no keys; loopback only)" if self.open else "keys",
            "backend": self.config.backend,
            "cache": "off" if self.cache is None else "on",
        }
        if self.auth is not None:
            check["key_store"] = "ok" if self.auth.store_healthy else "unavailable (cached keys still served)"
        if self.guard is not None:
            status = self.guard.status()
            check["redis"] = status
            check["on_redis_down"] = self.config.on_redis_down
            if status.get("degraded"):
                check["degraded"] = True
        return check

    async def revoke_everywhere(self, key_id: str) -> bool:
        """This process at once; others at once through Redis (if configured and up)."""
        if self.auth is not None:
            self.auth.revoked(key_id)
        if self.guard is None:
            return False
        try:
            await self.limits.revoke(key_id)
        except Exception:
            log.warning("could not publish the revocation of %s to Redis", key_id)
            return False
        return True
