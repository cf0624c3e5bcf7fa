"""The key store: the `api_keys` table through SQLAlchemy (SQLite or PostgreSQL), synchronous.

Async callers run these in a thread with a deadline (see auth.py); the request path reaches here only
for a key it has not seen recently, never for a cached one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from router.keys.model import (
    Period,
    VirtualKey,
    hash_secret,
    new_key_id,
    new_secret,
    period_start,
    shown_prefix,
)
from router.keys.schema import KEY_ID_LENGTH, api_keys
from router.log.schema import requests
from router.wire.text import plain_id


def _key_of(row: Any) -> VirtualKey:
    def aware(value: datetime | None) -> datetime | None:
        # SQLite hands datetimes back naive; they were written in UTC.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    created = aware(row.created_at)
    assert created is not None
    return VirtualKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=created,
        budget_usd=Decimal(row.budget_usd) if row.budget_usd is not None else None,
        budget_period=row.budget_period,
        rpm=row.rpm,
        tpm=row.tpm,
        models=tuple(row.models or ()),
        expires_at=aware(row.expires_at),
        revoked_at=aware(row.revoked_at),
        scope=row.scope,
    )


class KeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        name: str,
        *,
        budget_usd: Decimal | None = None,
        budget_period: Period = "month",
        rpm: int | None = None,
        tpm: int | None = None,
        models: Sequence[str] = (),
        expires_at: datetime | None = None,
        scope: str | None = None,
    ) -> tuple[VirtualKey, str]:
        """A new key and its secret; the secret is not kept anywhere and cannot be shown again."""
        secret = new_secret()
        values = {
            "id": new_key_id(),
            "name": name,
            "secret_hash": hash_secret(secret),
            "prefix": shown_prefix(secret),
            "created_at": datetime.now(UTC),
            "expires_at": expires_at,
            "revoked_at": None,
            "budget_usd": budget_usd,
            "budget_period": budget_period,
            "rpm": rpm,
            "tpm": tpm,
            "models": list(models) or None,
            "scope": scope,
        }
        with self.engine.begin() as connection:
            connection.execute(api_keys.insert().values(**values))
            row = connection.execute(select(api_keys).where(api_keys.c.id == values["id"])).one()
        return _key_of(row), secret

    def by_hash(self, secret_hash: str) -> VirtualKey | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(api_keys).where(api_keys.c.secret_hash == secret_hash)).first()
        return _key_of(row) if row is not None else None

    def get(self, key_id: str) -> VirtualKey | None:
        if not plain_id(key_id, KEY_ID_LENGTH):
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return _key_of(row) if row is not None else None

    def list(self, include_revoked: bool = True) -> list[VirtualKey]:
        query = select(api_keys).order_by(api_keys.c.created_at)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as connection:
            return [_key_of(row) for row in connection.execute(query)]

    def revoke(self, key_id: str) -> VirtualKey | None:
        if not plain_id(key_id, KEY_ID_LENGTH):
            return None
        with self.engine.begin() as connection:
            connection.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return _key_of(row) if row is not None else None

    def count_active(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
                ).scalar_one()
            )

    def spent(self, key_id: str, period: Period, now: datetime | None = None) -> Decimal:
        """What the request log says this key spent in the current period (rows already written)."""
        start = period_start(period, now or datetime.now(UTC))
        query = select(func.coalesce(func.sum(requests.c.cost_usd), 0)).where(
            requests.c.key_id == key_id, requests.c.created_at >= start
        )
        with self.engine.connect() as connection:
            return Decimal(str(connection.execute(query).scalar_one()))
