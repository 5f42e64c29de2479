"""Events carry an idempotency key: the same event stored twice is one row.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-30

`events.idempotency_key` (unique; NULL allowed) holds what makes a repeated
delivery the same event: the order for order events, else the event's `id`,
else a fingerprint of its content (app/store/event_keys.py). Existing rows are
backfilled with the same keys, oldest first; a row whose key an earlier row
already holds was a duplicate that slipped in before keys existed, and keeps
NULL (what it did then is history, left as it is), so re-importing an old file
after the upgrade changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.store.event_keys import event_key
from app.store.types import JSONDoc, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 2_000


def _backfill() -> None:
    bind = op.get_bind()
    events = sa.table("events", sa.column("id", sa.BigInteger), sa.column("contact_id", sa.String),
                      sa.column("type", sa.String), sa.column("occurred_at", UTCDateTime()),
                      sa.column("properties", JSONDoc), sa.column("idempotency_key", sa.String))
    update = events.update().where(events.c.id == sa.bindparam("eid")).values(idempotency_key=sa.bindparam("key"))
    seen: set[str] = set()
    last = 0
    while True:
        rows = bind.execute(sa.select(events.c.id, events.c.contact_id, events.c.type, events.c.occurred_at,
                                      events.c.properties).where(events.c.id > last)
                            .order_by(events.c.id).limit(_CHUNK)).all()
        if not rows:
            return
        keyed = []
        for row in rows:
            key = event_key(row.contact_id, row.type, row.occurred_at, dict(row.properties or {}))
            if key not in seen:
                seen.add(key)
                keyed.append({"eid": row.id, "key": key})
        if keyed:
            bind.execute(update, keyed)
        last = rows[-1].id


def upgrade() -> None:
    op.add_column("events", sa.Column("idempotency_key", sa.String(255), nullable=True))
    _backfill()
    op.create_index(op.f("ix_events_idempotency_key"), "events", ["idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_events_idempotency_key"), table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("idempotency_key")
