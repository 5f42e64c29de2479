"""Consent with three states and a history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

`contact_channels.subscribed` (a boolean) becomes `state` (`subscribed` or
`unsubscribed`; no row still means `unknown`) with the `source` that set it,
and every change from now on is kept in `consent_changes`.

Existing rows are converted with the new rules, not copied blindly: until now
a `subscribed` event without a channel set *every* channel to subscribed, even
one the contact had opted out of (the fault this revision fixes). So:

- an opt-out row stays `unsubscribed`;
- an opt-in row is replayed from the contact's stored `subscribed` and
  `unsubscribed` events under the new rules: an opt-out that only a
  channel-less sign-up had cleared is restored, and SMS/WhatsApp consent that
  only a channel-less sign-up gave becomes `unknown` (it was never asked for);
- each converted row gets one history row saying where it came from.

Written by hand and frozen: it spells out its own tables and rules instead of
importing the app's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHANNELS = ("email", "sms", "whatsapp")
SOURCE = "migration 0006: recorded before consent history was kept"

_old = sa.table("contact_channels", sa.column("contact_id", sa.String), sa.column("channel", sa.String),
                sa.column("subscribed", sa.Boolean), sa.column("changed_at", sa.DateTime(timezone=True)))
_events = sa.table("events", sa.column("id", BIG_ID), sa.column("contact_id", sa.String),
                   sa.column("type", sa.String), sa.column("occurred_at", sa.DateTime(timezone=True)),
                   sa.column("properties", sa.JSON))


def _history_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("previous", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
    ]


def _replay(channel: str, stored: list[tuple[str, Any]]) -> str:
    """The channel's state after the contact's (type, channel property) events, under the new rules."""
    state = "unknown"
    for kind, named in stored:
        if kind == "unsubscribed" and named in (None, "all", channel):
            state = "unsubscribed"
        elif kind == "subscribed" and named == channel:
            state = "subscribed"
        elif kind == "subscribed" and state == "unknown" and (named == "all" or (named is None and channel == "email")):
            state = "subscribed"
    return state


def _channel_of(properties: Any) -> Any:
    if isinstance(properties, str):
        try:
            properties = json.loads(properties)
        except ValueError:
            return None
    return properties.get("channel") if isinstance(properties, dict) else None


def _converted(conn: sa.Connection) -> list[dict[str, Any]]:
    rows = list(conn.execute(sa.select(_old.c.contact_id, _old.c.channel, _old.c.subscribed, _old.c.changed_at)))
    opted_in = {r.contact_id for r in rows if r.subscribed}
    stored: dict[str, list[tuple[str, Any]]] = {}
    if opted_in:
        query = (sa.select(_events.c.contact_id, _events.c.type, _events.c.properties)
                 .where(_events.c.type.in_(("subscribed", "unsubscribed")))
                 .order_by(_events.c.occurred_at, _events.c.id))
        for cid, kind, properties in conn.execute(query):
            if cid in opted_in:
                stored.setdefault(cid, []).append((kind, _channel_of(properties)))
    out = []
    for r in rows:
        if r.channel not in CHANNELS:
            continue
        state, source = "unsubscribed", SOURCE
        if r.subscribed:
            state = _replay(r.channel, stored.get(r.contact_id, []))
            if state == "unknown" and r.channel == "email":
                state = "subscribed"          # an email opt-in with no stored event behind it: keep it
            if state != "subscribed":
                source = (f"{SOURCE}; the opt-in came from a sign-up that did not name {r.channel}, which "
                          + ("does not clear the earlier opt-out" if state == "unsubscribed"
                             else "is not consent to marketing texts"))
        out.append({"contact_id": r.contact_id, "channel": r.channel, "state": state, "changed_at": r.changed_at,
                    "source": source})
    return out


def upgrade() -> None:
    conn = op.get_bind()
    converted = _converted(conn)
    op.drop_table("contact_channels")
    current = op.create_table(
        "contact_channels",
        sa.Column("contact_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE",
                                name=op.f("fk_contact_channels_contact_id_contacts")),
        sa.PrimaryKeyConstraint("contact_id", "channel", name=op.f("pk_contact_channels")),
        sa.CheckConstraint("state IN ('subscribed', 'unsubscribed')", name=op.f("ck_contact_channels_state")),
    )
    history = op.create_table(
        "consent_changes",
        *_history_columns(),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE",
                                name=op.f("fk_consent_changes_contact_id_contacts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_changes")),
    )
    op.create_index(op.f("ix_consent_changes_contact_id_at"), "consent_changes", ["contact_id", "at"])
    kept = [r for r in converted if r["state"] != "unknown"]
    if kept:
        op.bulk_insert(current, kept)
    if converted:
        op.bulk_insert(history, [{"contact_id": r["contact_id"], "channel": r["channel"], "state": r["state"],
                                  "previous": "unknown", "at": r["changed_at"], "source": r["source"]}
                                 for r in converted])


def downgrade() -> None:
    conn = op.get_bind()
    current = sa.table("contact_channels", sa.column("contact_id", sa.String), sa.column("channel", sa.String),
                       sa.column("state", sa.String), sa.column("changed_at", sa.DateTime(timezone=True)))
    rows = [{"contact_id": r.contact_id, "channel": r.channel, "subscribed": r.state == "subscribed",
             "changed_at": r.changed_at} for r in conn.execute(sa.select(current))]
    op.drop_index(op.f("ix_consent_changes_contact_id_at"), table_name="consent_changes")
    op.drop_table("consent_changes")
    op.drop_table("contact_channels")
    old = op.create_table(
        "contact_channels",
        sa.Column("contact_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE",
                                name=op.f("fk_contact_channels_contact_id_contacts")),
        sa.PrimaryKeyConstraint("contact_id", "channel", name=op.f("pk_contact_channels")),
    )
    if rows:
        op.bulk_insert(old, rows)
