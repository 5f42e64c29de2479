"""The statistics counters the engine keeps as it goes, and the migration that rebuilds them from the log."""
from __future__ import annotations

from app.engine.importers import parse_contacts, parse_events, read_text
from app.engine.ingest import EventIn
from app.engine.simulator import simulate
from app.engine.stats import journey_stats
from app.examples import example_files
from app.journey.fileformat import load
from app.paths import RESOURCES
from app.store import migrate
from app.store.db import open_database

from .helpers import CONTACTS, chain, send_node, simple_journey, t


def _renamed(events: list[EventIn], round_: int) -> list[EventIn]:
    """The same events as new ones: their own orders and content."""
    return [EventIn(e.contact, e.type, e.at, {**e.properties, "round": round_, **(
        {"order_id": f"{e.properties['order_id']}-{round_}"} if "order_id" in e.properties else {})})
            for e in events]


def test_counters_rebuilt_from_the_log_match_what_the_engine_counted(any_url):
    """An existing database gets its counters from its run log and messages on upgrade; they must
    agree with what the engine counts live, node by node (sends, skips, deferrals, branches,
    opens, conversions with revenue, goals, exits by reason)."""
    contacts, _ = parse_contacts(read_text(RESOURCES / "sample_contacts.csv"))
    events, _ = parse_events(read_text(RESOURCES / "sample_events.jsonl"))
    # One database for every example: each simulation gets events of its own (a repeated event would
    # be recognised as already stored and skipped), while the journeys simulated before still react.
    ids = [simulate(load(path), contacts, _renamed(events, round_), db_url=any_url, keep_log=False).journey_id
           for round_, path in enumerate(example_files())]
    db = open_database(any_url)
    try:
        ranges = [(None, None), (t("2026-03-02T00:00:00Z"), t("2026-03-04T12:00:00Z"))]
        live = {(jid, r): journey_stats(db, jid, *r) for jid in ids for r in ranges}
        assert sum(s.entered for s in live.values()) > 30 and any(s.nodes and s.goals for s in live.values())
        migrate.downgrade(db, "0004")      # the schema before counters: the log only
        migrate.upgrade(db)
        rebuilt = {(jid, r): journey_stats(db, jid, *r) for jid in ids for r in ranges}
        assert rebuilt == live
    finally:
        db.dispose()


def test_an_open_reported_twice_counts_one_opened_message(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    email = send_node(journey)
    chain(journey, journey.trigger(), email)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_opened", "2026-03-02T10:20:00Z")
    world.event("ann", "message_opened", "2026-03-02T11:40:00Z")     # read again later
    world.event("ann", "message_clicked", "2026-03-02T11:41:00Z")
    node = journey_stats(world.db, journey.id).nodes[email.id]
    assert (node.sent, node.opened, node.clicked) == (1, 1, 1)


def test_a_range_counts_the_whole_hours_it_touches(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    email = send_node(journey)
    chain(journey, journey.trigger(), email)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:05:00Z")
    world.event("cho", "cart_abandoned", "2026-03-02T11:50:00Z")

    def sent(start: str, end: str) -> int:
        return journey_stats(world.db, journey.id, t(start), t(end)).nodes[email.id].sent

    assert sent("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z") == 1      # [10:00, 11:00): ann only
    assert sent("2026-03-02T10:30:00Z", "2026-03-02T11:10:00Z") == 2      # widened to 10:00–12:00
    assert sent("2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z") == 1      # cho only
    assert sent("2026-03-02T12:00:00Z", "2026-03-03T00:00:00Z") == 0
