"""Initial schema: journeys, versions, contacts, events, runs, run log, outbox, catalog.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand and frozen: it spells out its own column types instead of
importing ``app.store.tables``, so later edits to the tables cannot change
what this migration did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), server_default=sa.text("'draft'"), nullable=False),
        sa.Column("draft", JSON_DOC, nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journeys")),
        sa.UniqueConstraint("name", name=op.f("uq_journeys_name")),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'paused', 'stopped')", name=op.f("ck_journeys_status")
        ),
    )
    op.create_table(
        "journey_versions",
        sa.Column("journey_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", JSON_DOC, nullable=False),
        _ts("published_at"),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], ondelete="CASCADE",
            name=op.f("fk_journey_versions_journey_id_journeys"),
        ),
        sa.PrimaryKeyConstraint("journey_id", "version", name=op.f("pk_journey_versions")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("first_name", sa.String(100), nullable=True),
        sa.Column("last_name", sa.String(100), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("attributes", JSON_DOC, nullable=False),
        sa.Column("lifetime_spend", sa.Numeric(14, 2), server_default=sa.text("0"), nullable=False),
        sa.Column("order_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _ts("last_order_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index(op.f("ix_contacts_last_order_at"), "contacts", ["last_order_at"])
    op.create_table(
        "contact_tags",
        sa.Column("contact_id", sa.String(200), nullable=False),
        sa.Column("tag", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], ondelete="CASCADE",
            name=op.f("fk_contact_tags_contact_id_contacts"),
        ),
        sa.PrimaryKeyConstraint("contact_id", "tag", name=op.f("pk_contact_tags")),
    )
    op.create_index(op.f("ix_contact_tags_tag"), "contact_tags", ["tag"])
    op.create_table(
        "contact_channels",
        sa.Column("contact_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        _ts("changed_at"),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], ondelete="CASCADE",
            name=op.f("fk_contact_channels_contact_id_contacts"),
        ),
        sa.PrimaryKeyConstraint("contact_id", "channel", name=op.f("pk_contact_channels")),
    )
    op.create_table(
        "events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        _ts("occurred_at"),
        _ts("received_at"),
        sa.Column("properties", JSON_DOC, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_events_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_contact_id_occurred_at"), "events", ["contact_id", "occurred_at"])
    op.create_index(op.f("ix_events_type_occurred_at"), "events", ["type", "occurred_at"])
    op.create_table(
        "runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("journey_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_reason", sa.String(32), nullable=True),
        sa.Column("node_id", sa.String(36), nullable=True),
        _ts("due_at", nullable=True),
        _ts("entered_at"),
        _ts("updated_at"),
        sa.Column("trigger_event_id", BIG_ID, nullable=True),
        sa.Column("state", JSON_DOC, nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_runs_journey_id_journeys")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_runs_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["trigger_event_id"], ["events.id"], name=op.f("fk_runs_trigger_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_status_due_at"), "runs", ["status", "due_at"])
    op.create_index(op.f("ix_runs_journey_id_contact_id"), "runs", ["journey_id", "contact_id"])
    op.create_index(
        op.f("ix_runs_journey_id_node_id_status"), "runs", ["journey_id", "node_id", "status"]
    )
    op.create_table(
        "run_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", BIG_ID, nullable=False),
        sa.Column("journey_id", sa.String(36), nullable=False),
        sa.Column("node_id", sa.String(36), nullable=True),
        sa.Column("contact_id", sa.String(200), nullable=False),
        _ts("at"),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("detail", JSON_DOC, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], ondelete="CASCADE", name=op.f("fk_run_log_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_log")),
    )
    op.create_index(op.f("ix_run_log_journey_id_node_id_at"), "run_log", ["journey_id", "node_id", "at"])
    op.create_index(op.f("ix_run_log_run_id"), "run_log", ["run_id"])
    op.create_table(
        "messages",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("run_id", BIG_ID, nullable=True),
        sa.Column("journey_id", sa.String(36), nullable=True),
        sa.Column("node_id", sa.String(36), nullable=True),
        sa.Column("contact_id", sa.String(200), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("sender", sa.String(320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("scheduled_at", nullable=True),
        _ts("created_at"),
        *(
            _ts(name, nullable=True)
            for name in (
                "sent_at", "delivered_at", "opened_at", "clicked_at",
                "replied_at", "failed_at", "unsubscribed_at",
            )
        ),  # fmt: skip
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_messages_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_messages_idempotency_key")),
    )
    op.create_index(op.f("ix_messages_status_scheduled_at"), "messages", ["status", "scheduled_at"])
    op.create_index(op.f("ix_messages_contact_id_created_at"), "messages", ["contact_id", "created_at"])
    op.create_index(op.f("ix_messages_journey_id_node_id"), "messages", ["journey_id", "node_id"])
    op.create_table(
        "attribute_catalog",
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("scope", "name", name=op.f("pk_attribute_catalog")),
    )


def downgrade() -> None:
    # Children before parents, so foreign keys never point at a dropped table.
    for table in (
        "attribute_catalog", "messages", "run_log", "runs", "events",
        "contact_channels", "contact_tags", "contacts", "journey_versions", "journeys",
    ):  # fmt: skip
        op.drop_table(table)
