"""Reading the request log for reports: the rows and columns the savings figures are made of."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, select

from pricing.cost import Tokens
from router.log.schema import requests

_SPAN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class SinceError(ValueError):
    pass


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`7d`, `24h`, `30m`, `2w` back from now, or an ISO date/time (UTC when no zone is given)."""
    now = now or datetime.now(UTC)
    match = _SPAN.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SinceError(f"--since {text!r}: expected e.g. 7d, 24h, 30m, 2w or an ISO date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LogRow:
    id: str
    created_at: datetime
    key_id: str | None
    tier: str | None
    tier_source: str | None
    model: str | None
    status: str
    difficulty: float | None
    reasoning: float | None
    streamed: bool
    tokens: Tokens
    cost_usd: Decimal
    cost_estimated: bool
    cost_saved_usd: Decimal
    cache_hit: bool
    latency_ms: float | None

    @property
    def routed_by_scores(self) -> bool:
        """`auto` requests routed by stored scores (classifier or placeholder), which a what-if can re-route."""
        return self.difficulty is not None and self.reasoning is not None


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the gateway always writes UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def fetch_rows(engine: Engine, since: datetime | None = None, limit: int = 5_000_000) -> list[LogRow]:
    c = requests.c
    query = select(
        c.id,
        c.created_at,
        c.key_id,
        c.tier,
        c.tier_source,
        c.model,
        c.status,
        c.difficulty,
        c.reasoning,
        c.streamed,
        c.prompt_tokens,
        c.completion_tokens,
        c.cached_tokens,
        c.reasoning_tokens,
        c.cache_creation_tokens,
        c.cost_usd,
        c.cost_estimated,
        c.cost_saved_usd,
        c.cache_hit,
        c.latency_ms,
    ).order_by(c.created_at, c.id)
    if since is not None:
        query = query.where(c.created_at >= since)
    rows: list[LogRow] = []
    with engine.connect() as connection:
        for r in connection.execute(query.limit(limit)):
            rows.append(
                LogRow(
                    id=r.id,
                    created_at=_utc(r.created_at),
                    key_id=r.key_id,
                    tier=r.tier,
                    tier_source=r.tier_source,
                    model=r.model,
                    status=r.status,
                    difficulty=r.difficulty,
                    reasoning=r.reasoning,
                    streamed=bool(r.streamed),
                    tokens=Tokens(
                        prompt_tokens=r.prompt_tokens or 0,
                        completion_tokens=r.completion_tokens or 0,
                        cached_tokens=r.cached_tokens or 0,
                        reasoning_tokens=r.reasoning_tokens or 0,
                        cache_creation_tokens=r.cache_creation_tokens or 0,
                    ),
                    cost_usd=Decimal(r.cost_usd or 0),
                    cost_estimated=bool(r.cost_estimated),
                    cost_saved_usd=Decimal(r.cost_saved_usd or 0),
                    cache_hit=bool(r.cache_hit),
                    latency_ms=r.latency_ms,
                )
            )
    return rows
