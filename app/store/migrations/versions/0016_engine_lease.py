"""The engine lease: one engine per database, whether the app's window or the background service.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30

One row (`name` = "engine") says which process runs the engine's jobs (tick, scan, outbox, polls)
and until when: the holder renews `expires_at` with a heartbeat; another process takes over only
once it has passed (app/store/lease.py). Nothing to backfill: no row means nobody holds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engine_lease",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_engine_lease")),
    )


def downgrade() -> None:
    op.drop_table("engine_lease")
