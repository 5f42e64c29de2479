"""Migration 0006: boolean subscriptions become consent states with a history, under the new rules."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import sqlalchemy as sa

from app.store.db import open_database
from app.store.migrate import current_revision, downgrade, head_revision, upgrade

T0 = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)


def _at(hour: int) -> datetime:
    return T0.replace(hour=hour)


def _old_database(url: str) -> sa.Engine:
    """A database at revision 0005 with contacts, boolean subscriptions and the events that set them."""
    engine = open_database(url, migrate=False)
    upgrade(engine, "0005")
    people = ["ann", "bob", "cat", "dan"]
    # What the old code left behind:
    # ann opted out of sms (event), then a newsletter box (no channel) set every channel back to subscribed;
    # bob opted in to sms by name; cat opted out of email in a file; dan signed up without a channel.
    rows = [("ann", "email", True, 11), ("ann", "sms", True, 11), ("ann", "whatsapp", True, 11),
            ("bob", "sms", True, 10),
            ("cat", "email", False, 9),
            ("dan", "email", True, 12), ("dan", "sms", True, 12), ("dan", "whatsapp", True, 12)]
    events = [("ann", "unsubscribed", {"channel": "sms"}, 10), ("ann", "subscribed", {"source": "checkout"}, 11),
              ("bob", "subscribed", {"channel": "sms"}, 10), ("dan", "subscribed", {}, 12)]
    with engine.begin() as conn:
        for cid in people:
            conn.execute(sa.text("INSERT INTO contacts (id, attributes, lifetime_spend, order_count, created_at, "
                                 "updated_at) VALUES (:id, '{}', 0, 0, :at, :at)"), {"id": cid, "at": T0})
        for cid, channel, subscribed, hour in rows:
            conn.execute(sa.text("INSERT INTO contact_channels (contact_id, channel, subscribed, changed_at) "
                                 "VALUES (:c, :ch, :s, :at)"), {"c": cid, "ch": channel, "s": subscribed,
                                                                "at": _at(hour)})
        for cid, kind, props, hour in events:
            conn.execute(sa.text("INSERT INTO events (contact_id, type, occurred_at, received_at, properties) "
                                 "VALUES (:c, :t, :at, :at, :p)"), {"c": cid, "t": kind, "at": _at(hour),
                                                                    "p": json.dumps(props)})
    return engine


def test_upgrade_converts_subscriptions_with_the_new_rules_and_starts_the_history(any_url: str) -> None:
    engine = _old_database(any_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            now = {(r.contact_id, r.channel): r.state for r in conn.execute(
                sa.text("SELECT contact_id, channel, state FROM contact_channels"))}
            history = list(conn.execute(sa.text(
                "SELECT contact_id, channel, previous, state, source FROM consent_changes ORDER BY id")))
    finally:
        engine.dispose()
    assert now == {
        ("ann", "email"): "subscribed",        # the newsletter box is an email opt-in
        ("ann", "sms"): "unsubscribed",        # the opt-out it had wrongly cleared is back
        ("bob", "sms"): "subscribed",          # named the channel: real consent
        ("cat", "email"): "unsubscribed",
        ("dan", "email"): "subscribed",        # dan's sms and whatsapp: never asked (no row)
    }
    assert len(history) == 8 and all(h.previous == "unknown" and h.source.startswith("migration 0006")
                                     for h in history)
    ann_sms = next(h for h in history if (h.contact_id, h.channel) == ("ann", "sms"))
    assert "does not clear the earlier opt-out" in ann_sms.source
    dan_sms = next(h for h in history if (h.contact_id, h.channel) == ("dan", "sms"))
    assert dan_sms.state == "unknown" and "not consent to marketing texts" in dan_sms.source


def test_downgrade_back_to_0005_keeps_the_opt_outs(any_url: str) -> None:
    engine = _old_database(any_url)
    try:
        upgrade(engine)
        downgrade(engine, "0005")
        with engine.connect() as conn:
            rows = {(r.contact_id, r.channel): bool(r.subscribed) for r in conn.execute(
                sa.text("SELECT contact_id, channel, subscribed FROM contact_channels"))}
    finally:
        engine.dispose()
    assert rows[("ann", "sms")] is False and rows[("cat", "email")] is False and rows[("bob", "sms")] is True
