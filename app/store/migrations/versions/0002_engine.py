"""Engine support: trigger-scan cursors, revenue on the run log, lookup indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Frozen like 0001: spells out its own column types.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Where each journey's time-based trigger scan got to, so a scan reads only what changed.
    op.create_table(
        "scan_cursors",
        sa.Column("journey_id", sa.String(36), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], ondelete="CASCADE", name=op.f("fk_scan_cursors_journey_id_journeys")
        ),
        sa.PrimaryKeyConstraint("journey_id", name=op.f("pk_scan_cursors")),
    )
    # A numeric column (not JSON) so revenue sums are plain SQL on every dialect.
    with op.batch_alter_table("run_log") as batch:
        batch.add_column(sa.Column("revenue", sa.Numeric(14, 2), nullable=True))
    op.create_index(op.f("ix_runs_contact_id_status"), "runs", ["contact_id", "status"])
    op.create_index(op.f("ix_messages_run_id"), "messages", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_run_id"), table_name="messages")
    op.drop_index(op.f("ix_runs_contact_id_status"), table_name="runs")
    with op.batch_alter_table("run_log") as batch:
        batch.drop_column("revenue")
    op.drop_table("scan_cursors")
