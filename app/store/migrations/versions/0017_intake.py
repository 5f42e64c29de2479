"""The receiver's inbox: every request it accepted, stored before it answered 2xx.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30

One row per accepted delivery (a Segment call, a Shopify or WooCommerce webhook, a Twilio or Meta status
callback, an unsubscribe, click or open), keyed by the sender's idempotency key (Segment `messageId`,
`X-Shopify-Webhook-Id`, `X-WC-Webhook-Delivery-ID`, Twilio `MessageSid` + status, …): a repeated
delivery is one row. The intake job (app/intake/apply.py) applies `new` rows through the engine and
marks them `done`, or `dead` with the reason (the dead-letter list). Nothing to backfill.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('new', 'done', 'dead')", name=op.f("ck_intake_requests_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_requests")),
    )
    op.create_index(op.f("ix_intake_requests_idempotency_key"), "intake_requests", ["idempotency_key"], unique=True)
    op.create_index(op.f("ix_intake_requests_status_id"), "intake_requests", ["status", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_intake_requests_status_id"), table_name="intake_requests")
    op.drop_index(op.f("ix_intake_requests_idempotency_key"), table_name="intake_requests")
    op.drop_table("intake_requests")
