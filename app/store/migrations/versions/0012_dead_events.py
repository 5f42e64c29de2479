"""Dead-lettered events: events that could not be applied, kept with the reason.

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-30

An event whose application raised is not stored among the applied events (and
changed nothing); it is kept here whole (its JSON, escaped to ASCII, so any
value the sender gave can be stored on every database) with the one-line reason.
Its idempotency key is unique here too, so re-importing the same file skips it
("already present"), like an applied event. Nothing to backfill.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0012"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("contact_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_events")),
    )
    op.create_index(op.f("ix_dead_events_idempotency_key"), "dead_events", ["idempotency_key"], unique=True)
    op.create_index(op.f("ix_dead_events_received_at"), "dead_events", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dead_events_received_at"), table_name="dead_events")
    op.drop_index(op.f("ix_dead_events_idempotency_key"), table_name="dead_events")
    op.drop_table("dead_events")
