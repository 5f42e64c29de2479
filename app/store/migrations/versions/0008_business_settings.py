"""App-wide settings: a key/value table, first for the business's time zone.

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-30

Every local-time rule (quiet hours, time-of-day waits, anniversaries, "N days")
judges a contact without a time zone in the journey's zone, else the business's
zone, which is set once (`journeys settings timezone ZONE`, or the app's
Settings dialog) and kept here so the engine, the CLI and the app agree.
Nothing to backfill: a database without a business zone behaves as before (UTC)
until one is set.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
