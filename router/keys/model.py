"""A virtual key: what a team holds instead of provider keys.

The secret is shown once, at creation. The store keeps only its SHA-256: keys are 256 random bits,
so a fast unsalted hash is enough (no dictionary to guess from) and lets auth look a key up by
hash. Logs and listings show `prefix`, never the secret.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

Period = Literal["day", "month", "total"]
KEY_PREFIX = "tg-"
SHOWN_CHARS = 10


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def shown_prefix(secret: str) -> str:
    return secret[:SHOWN_CHARS] + "..."


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class VirtualKey:
    id: str
    name: str
    prefix: str
    created_at: datetime
    budget_usd: Decimal | None = None
    budget_period: Period = "month"
    rpm: int | None = None
    tpm: int | None = None
    models: tuple[str, ...] = ()
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    scope: str | None = None  # cache partition; keys sharing a scope share cached answers
    is_master: bool = field(default=False)

    @property
    def cache_scope(self) -> str:
        return self.scope or self.id

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or datetime.now(UTC)) >= self.expires_at

    def allows(self, model: str) -> bool:
        return not self.models or model in self.models


MASTER = VirtualKey(
    id="master",
    name="master key",
    prefix="master",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    is_master=True,
)


def period_start(period: Period, now: datetime) -> datetime:
    if period == "day":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return datetime(1970, 1, 1, tzinfo=UTC)


def period_id(period: Period, now: datetime) -> str:
    if period == "day":
        return now.strftime("%Y-%m-%d")
    if period == "month":
        return now.strftime("%Y-%m")
    return "total"
