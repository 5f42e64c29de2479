"""An index on the run log by journey and time, for statistics over a time range.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

The canvas polls per-node statistics for a chosen range every few seconds;
with this index the query reads only that range of the journey's log instead
of all of it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_run_log_journey_id_at"), "run_log", ["journey_id", "at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_run_log_journey_id_at"), table_name="run_log")
