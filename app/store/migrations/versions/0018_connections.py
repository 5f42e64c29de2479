"""Pull connectors: the shops polled for orders, customers and checkouts, and where each poll stands.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30

`connections` holds one row per connected shop (Shopify or WooCommerce): its address, whether its
first import (history: nothing starts) is done, and the last poll's time and error. Its token or API
keys are kept in the operating system's keyring, never here. `connection_cursors` holds, per shop
and resource (orders, customers, checkouts), where the poll stands; it is written in the same
transaction as the events it covers. Nothing to backfill.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> Any:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("options", _json(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.CheckConstraint("kind IN ('shopify', 'woocommerce')", name=op.f("ck_connections_kind")),
        sa.CheckConstraint("phase IN ('history', 'live')", name=op.f("ck_connections_phase")),
    )
    op.create_table(
        "connection_cursors",
        sa.Column("connection_id", sa.String(200), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("cursor", _json(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name=op.f("fk_connection_cursors_connection_id_connections")),
        sa.PrimaryKeyConstraint("connection_id", "resource", name=op.f("pk_connection_cursors")),
    )


def downgrade() -> None:
    op.drop_table("connection_cursors")
    op.drop_table("connections")
