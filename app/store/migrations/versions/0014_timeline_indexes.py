"""Indexes for a contact's timeline, "Who is here?" and "Who went this way?".

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30

- run_log (contact_id, at): a contact's timeline across all journeys reads one
  page of its log in time order instead of scanning the journeys' logs.
- run_log (journey_id, node_id, outcome, at): the contacts that took an outcome
  of a step (or passed it), newest first, one page at a time.
- runs (journey_id, status, node_id, due_at) replaces (journey_id, status,
  node_id): the contacts waiting at a step, in the order they move on, come
  from the index a page at a time (100,000 waiting, first page in
  milliseconds); the per-step "waiting now" count still reads the same prefix,
  and the engine keeps the same number of indexes on runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_run_log_contact_id_at"), "run_log", ["contact_id", "at"])
    op.create_index(op.f("ix_run_log_journey_id_node_id_outcome_at"), "run_log",
                    ["journey_id", "node_id", "outcome", "at"])
    op.drop_index(op.f("ix_runs_journey_id_status_node_id"), table_name="runs")
    op.create_index(op.f("ix_runs_journey_id_status_node_id_due_at"), "runs",
                    ["journey_id", "status", "node_id", "due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_journey_id_status_node_id_due_at"), table_name="runs")
    op.create_index(op.f("ix_runs_journey_id_status_node_id"), "runs", ["journey_id", "status", "node_id"])
    op.drop_index(op.f("ix_run_log_journey_id_node_id_outcome_at"), table_name="run_log")
    op.drop_index(op.f("ix_run_log_contact_id_at"), table_name="run_log")
