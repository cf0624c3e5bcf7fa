"""Tables for quality signals: client feedback on a request, and evaluation outcomes."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Index, Integer, String, Table, Text, UniqueConstraint

from router.log.schema import metadata

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("label", String(200)),
    Column("comment", Text),
    Column("key_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("request_id", "source", name="uq_feedback_request_source"),
    Index("ix_feedback_request_id", "request_id"),
)

# An outcome says how well `model` answered a prompt: from an offline eval (`tiergate outcomes import`),
# or a shadow judge. `request_id` links it to a logged request when there is one; `prompt_hash` matches
# the request log's hash of the messages.
outcomes = Table(
    "outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64)),
    Column("prompt_hash", String(64)),
    Column("prompt", Text),
    Column("model", String(200), nullable=False),
    Column("score", Float, nullable=False),
    Column("source", String(64), nullable=False),
    Column("domain", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_outcomes_request_id", "request_id"),
    Index("ix_outcomes_prompt_hash", "prompt_hash"),
)
