"""The `api_keys` table (migration 0004). Only the secret's hash is stored."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, Integer, String, Table

from router.log.schema import MONEY, metadata
from router.wire.text import NAME_LENGTH

KEY_ID_LENGTH = 64  # `key_` + 16 hex today; an id longer than the column is no key's

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(KEY_ID_LENGTH), primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("budget_usd", MONEY),
    Column("budget_period", String(16), nullable=False, default="month"),
    Column("rpm", Integer),
    Column("tpm", Integer),
    Column("models", JSON),
    Column("scope", String(NAME_LENGTH)),
    Index("ix_api_keys_name", "name"),
)
