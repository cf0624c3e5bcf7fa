"""The writer's compiled batch insert stores exactly what SQLAlchemy's own insert stores (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from router.log.bulk import SLICE, BulkInsert
from router.log.inserter import insert_ignoring_duplicates
from router.log.schema import requests
from router.log.store import make_engine, upgrade
from tests.conftest import migrated_database


def _row(row_id: str) -> dict[str, Any]:
    return {
        "id": row_id,
        "created_at": datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=UTC),
        "requested_model": "auto",
        "tier": "reasoning",
        "tier_source": "classifier",
        "difficulty": 0.42,
        "reasoning": 0.91,
        "decision_ms": 3.5,
        "model": "deepseek-r1",
        "provider": "deepseek",
        "deployment": "deepseek/deepseek-r1",
        "attempts": [{"model": "deepseek-r1", "status": 429, "error_type": "upstream_429"}, {"status": 200}],
        "attempt_count": 2,
        "status": "ok",
        "http_status": 200,
        "prompt_tokens": 1234,
        "completion_tokens": 56,
        "cost_usd": Decimal("0.0000012345"),
        "cost_estimated": True,
        "latency_ms": 12.25,
        "streamed": True,
        "prompt_hash": "ab" * 32,
        "prompt_text": 'say "hi" \u00e9\u00e8',
        # endpoint, key_id, cached_tokens, ... left out: column defaults (or NULL) apply, as with SQLAlchemy
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bulk_insert_matches_sqlalchemy_insert(
    backend: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(migrated_database(backend, tmp_path, request))
    statement = insert_ignoring_duplicates(engine, requests)
    bulk = BulkInsert(engine, requests, statement)
    with engine.begin() as connection:
        connection.execute(statement, [_row("via-sqlalchemy")])
        bulk.execute(connection, [_row("via-bulk"), _row("via-bulk")])  # a duplicate id is skipped
    with engine.connect() as connection:
        rows = {r.id: dict(r._mapping) for r in connection.execute(select(requests))}
    assert set(rows) == {"via-sqlalchemy", "via-bulk"}
    mine, theirs = rows.pop("via-bulk"), rows.pop("via-sqlalchemy")
    mine.pop("id"), theirs.pop("id")
    assert mine == theirs
    assert mine["endpoint"] == "chat" and mine["cached_tokens"] == 0 and mine["key_id"] is None
    assert mine["attempts"][0]["status"] == 429
    assert Decimal(mine["cost_usd"]) == Decimal("0.0000012345")
    engine.dispose()


def test_a_batch_of_several_slices_inserts_every_row_once(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'slices.db'}"
    upgrade(url)
    engine = make_engine(url)
    bulk = BulkInsert(engine, requests, insert_ignoring_duplicates(engine, requests))
    ids = [f"row-{i:03d}" for i in range(3 * SLICE + 5)]
    with engine.begin() as connection:
        bulk.execute(connection, [_row(i) for i in ids])
        bulk.execute(connection, [_row(i) for i in ids[: SLICE + 1]])  # a retried part: skipped, not doubled
    with engine.connect() as connection:
        stored = sorted(connection.execute(select(requests.c.id)).scalars())
    engine.dispose()
    assert stored == ids


def test_sqlite_datetimes_are_stored_as_sqlalchemy_writes_them(tmp_path: Any) -> None:
    from datetime import date, timedelta, timezone

    url = f"sqlite:///{tmp_path / 'dates.db'}"
    engine = make_engine(url)
    bulk = BulkInsert(engine, requests, insert_ignoring_duplicates(engine, requests))
    ours = bulk.processors["created_at"]
    # the fast path is the one in use
    assert ours is not None and ours.__qualname__.startswith("sqlite_datetime")
    impl = requests.c.created_at.type.dialect_impl(engine.dialect)
    theirs = impl.bind_processor(engine.dialect)
    assert theirs is not None
    values: list[Any] = [
        datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),  # offset dropped
        datetime(2026, 6, 30, 23, 59, 59, 1),  # naive
        datetime(999, 12, 31, 0, 0, 0, 10),  # year below 1000: zero-padded
        date(2026, 11, 27),  # not a datetime: SQLAlchemy's own processor answers
        None,
    ]
    assert [ours(value) for value in values] == [theirs(value) for value in values]
    engine.dispose()
