"""SQL tables of the request log. Alembic migrations in `migrations/` create them;
this module is the one description the code reads and writes through."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Money is Numeric(18, 10): a single cheap request costs fractions of a micro-dollar.
MONEY = Numeric(18, 10)
# The longest id the log keeps (requests, stored responses): a longer x-request-id is not used (router/api/chat.py).
ID_LENGTH = 64

requests = Table(
    "requests",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("endpoint", String(32), nullable=False, default="chat"),
    Column("key_id", String(64)),
    Column("requested_model", String(200)),
    Column("tier", String(16)),
    Column("tier_source", String(16)),
    Column("difficulty", Float),
    Column("reasoning", Float),
    Column("decision_ms", Float),
    Column("model", String(200)),
    Column("provider", String(100)),
    Column("deployment", String(300)),
    Column("attempts", JSON),
    Column("attempt_count", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("error_type", String(64)),
    Column("error_message", Text),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("cached_tokens", Integer, nullable=False, default=0),
    Column("reasoning_tokens", Integer, nullable=False, default=0),
    Column("cache_creation_tokens", Integer, nullable=False, default=0),
    Column("cost_usd", MONEY, nullable=False, default=0),
    Column("cost_estimated", Boolean, nullable=False, default=False),
    Column("cost_saved_usd", MONEY, nullable=False, default=0),
    Column("latency_ms", Float),
    Column("ttft_ms", Float),
    Column("streamed", Boolean, nullable=False, default=False),
    Column("cache_hit", Boolean, nullable=False, default=False),
    Column("stream_broke_at", Integer),
    Column("prompt_hash", String(64)),
    Column("policy_version", String(64)),
    Column("classifier_version", String(64)),
    Column("prompt_text", Text),
    Column("completion_text", Text),
    Index("ix_requests_created_at", "created_at"),
    Index("ix_requests_key_id", "key_id"),
)

# Responses API conversations kept for `previous_response_id` (router/responses/store.py); rows past
# `expires_at` are never served and are purged in the background.
stored_responses = Table(
    "stored_responses",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(64)),
    Column("model", String(200)),
    Column("history", JSON, nullable=False),
    Column("response", JSON, nullable=False),
    Index("ix_stored_responses_expires_at", "expires_at"),
)
