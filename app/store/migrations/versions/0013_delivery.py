"""Delivery: the outbox dispatcher's lease and retries, and what the provider said.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

Messages gain `attempts`, a lease (`claim`, `lease_until`) held while `sending`,
the provider's id for the message (SMTP Message-ID, Twilio SID, Meta wamid, to
match statuses, bounces and replies), the provider's error code, a Reply-To, a
WhatsApp template (name, language, rendered variables) and the time of the
last status poll. Existing rows keep their status; nothing to backfill.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("claim", sa.String(36), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("provider_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("error_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("reply_to", sa.String(320), nullable=True))
        batch.add_column(sa.Column("whatsapp_template", sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql"),
                                    nullable=True))
        batch.add_column(sa.Column("status_checked_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_messages_provider_id"), ["provider_id"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index(batch.f("ix_messages_provider_id"))
        for name in ("status_checked_at", "whatsapp_template", "reply_to", "error_code", "provider_id",
                     "lease_until", "claim", "attempts"):
            batch.drop_column(name)
