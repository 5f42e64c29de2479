"""Upgrading a database stored before events had keys: old events get their keys, so importing an old
file again after the upgrade changes nothing; duplicates that slipped in before keep no key."""
from __future__ import annotations

import sqlalchemy as sa

from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.ingest import EventIn
from app.store import migrate
from app.store.db import open_database
from app.store.tables import contacts, events
from app.store.types import JSONDoc, UTCDateTime

from .helpers import t

OLD_EVENTS = sa.table("events", sa.column("contact_id", sa.String), sa.column("type", sa.String),
                      sa.column("occurred_at", UTCDateTime()), sa.column("received_at", UTCDateTime()),
                      sa.column("properties", JSONDoc))


def test_old_events_are_keyed_on_upgrade_and_not_applied_again(any_url):
    db = open_database(any_url)
    try:
        migrate.downgrade(db, "0005")
        at = t("2026-03-02T10:00:00Z")
        with db.begin() as conn:
            conn.execute(contacts.insert().values(id="ann", attributes={}, lifetime_spend=60, order_count=2,
                                                  created_at=at, updated_at=at))
            order = {"contact_id": "ann", "type": "order_placed", "occurred_at": at, "received_at": at,
                     "properties": {"order_id": "O-1", "total": 30.0}}
            cart = {**order, "type": "cart_abandoned", "properties": {"cart_url": "u", "items": [1, 2]}}
            conn.execute(sa.insert(OLD_EVENTS), [order, order, cart])     # the order came in twice back then
        migrate.upgrade(db)
        with db.connect() as conn:
            keys = list(conn.execute(sa.select(events.c.idempotency_key).order_by(events.c.id)).scalars())
        assert keys[0] == "order:O-1:order_placed" and keys[1] is None and keys[2].startswith("sha256:")
        engine = JourneyEngine(db, VirtualClock(t("2026-03-03T00:00:00Z")))
        done = engine.ingest([EventIn("ann", "order_placed", at, {"order_id": "O-1", "total": 30.0}),
                              EventIn("ann", "cart_abandoned", at, {"items": [1, 2], "cart_url": "u"})])
        assert (done.stored, done.duplicates) == (0, 2)
        with db.connect() as conn:
            assert conn.execute(sa.select(contacts.c.order_count)).scalar_one() == 2
    finally:
        db.dispose()
