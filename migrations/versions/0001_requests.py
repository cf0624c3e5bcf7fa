"""Request log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MONEY = sa.Numeric(18, 10)


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("endpoint", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64)),
        sa.Column("requested_model", sa.String(200)),
        sa.Column("tier", sa.String(16)),
        sa.Column("tier_source", sa.String(16)),
        sa.Column("difficulty", sa.Float),
        sa.Column("reasoning", sa.Float),
        sa.Column("decision_ms", sa.Float),
        sa.Column("model", sa.String(200)),
        sa.Column("provider", sa.String(100)),
        sa.Column("deployment", sa.String(300)),
        sa.Column("attempts", sa.JSON),
        sa.Column("attempt_count", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False),
        sa.Column("error_type", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("reasoning_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", MONEY, nullable=False),
        sa.Column("cost_estimated", sa.Boolean, nullable=False),
        sa.Column("cost_saved_usd", MONEY, nullable=False),
        sa.Column("latency_ms", sa.Float),
        sa.Column("ttft_ms", sa.Float),
        sa.Column("streamed", sa.Boolean, nullable=False),
        sa.Column("cache_hit", sa.Boolean, nullable=False),
        sa.Column("stream_broke_at", sa.Integer),
        sa.Column("prompt_hash", sa.String(64)),
        sa.Column("policy_version", sa.String(64)),
        sa.Column("classifier_version", sa.String(64)),
        sa.Column("prompt_text", sa.Text),
        sa.Column("completion_text", sa.Text),
    )
    op.create_index("ix_requests_created_at", "requests", ["created_at"])
    op.create_index("ix_requests_key_id", "requests", ["key_id"])


def downgrade() -> None:
    op.drop_table("requests")
