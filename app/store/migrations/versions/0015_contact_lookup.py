"""Contacts found by email (any case) and by phone: indexes for the importer's identity lookups.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30

A contacts file without ids (Mailchimp, Klaviyo, WooCommerce) matches each row to a stored contact
by `lower(email)`, else by `phone` (E.164). Without these indexes every chunk of 500 rows would scan
the whole contacts table. Nothing to backfill.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contacts_email_lower", "contacts", [sa.text("lower(email)")])
    op.create_index("ix_contacts_phone", "contacts", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_contacts_phone", table_name="contacts")
    op.drop_index("ix_contacts_email_lower", table_name="contacts")
