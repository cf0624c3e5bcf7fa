"""Feedback and outcomes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("label", sa.String(200)),
        sa.Column("comment", sa.Text),
        sa.Column("key_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("request_id", "source", name="uq_feedback_request_source"),
    )
    op.create_index("ix_feedback_request_id", "feedback", ["request_id"])
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64)),
        sa.Column("prompt_hash", sa.String(64)),
        sa.Column("prompt", sa.Text),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("domain", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outcomes_request_id", "outcomes", ["request_id"])
    op.create_index("ix_outcomes_prompt_hash", "outcomes", ["prompt_hash"])


def downgrade() -> None:
    op.drop_table("outcomes")
    op.drop_table("feedback")
