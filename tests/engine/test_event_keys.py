"""The same event twice counts once: an event's `id`, an order's `order_id`, else its content, is its key;
a repeat is stored once and changes nothing (spend, orders, triggers, conversions, goals, feedback)."""
from __future__ import annotations

from sqlalchemy import func, select

from app.engine.ingest import EventIn
from app.engine.stats import journey_stats
from app.journey.model import Journey
from app.store.event_keys import event_key
from app.store.tables import contacts, events

from .helpers import CONTACTS, chain, send_node, simple_journey, t


def spend_journey(threshold: float = 100) -> Journey:
    journey = Journey(name="Big spenders")
    journey.settings["quiet_hours"]["enabled"] = False
    trigger = journey.add_node("trigger", {"mode": "spend", "threshold": threshold})
    chain(journey, trigger, send_node(journey, subject="Thank you"))
    return journey


def customer(world, contact: str) -> tuple[float, int]:
    with world.db.connect() as conn:
        row = conn.execute(select(contacts.c.lifetime_spend, contacts.c.order_count)
                           .where(contacts.c.id == contact)).one()
    return float(row.lifetime_spend), int(row.order_count)


def stored_events(world) -> int:
    with world.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_the_same_order_twice_counts_once(world):
    """The issue's example: order O-1001 (60.00) arrives twice."""
    world.contacts(CONTACTS)
    journey = spend_journey(100)
    world.install(journey)
    first = world.event("ann", "order_placed", "2026-03-02T10:00:00Z", order_id="O-1001", total=60.0)
    again = world.event("ann", "order_placed", "2026-03-02T10:00:00Z", order_id="O-1001", total=60.0)
    assert (first.stored, first.duplicates) == (1, 0)
    assert (again.stored, again.duplicates) == (0, 1)
    assert customer(world, "ann") == (60.0, 1)
    assert world.runs("ann") == [] and world.messages("ann") == []
    assert stored_events(world) == 1
    world.event("ann", "order_placed", "2026-03-03T10:00:00Z", order_id="O-1002", total=40.0)
    assert customer(world, "ann") == (100.0, 2)
    assert len(world.runs("ann")) == 1           # a new order reaching 100 does start it


def test_a_repeated_order_with_another_time_and_event_id_in_one_batch_counts_once(world):
    world.contacts(CONTACTS)
    world.install(spend_journey(100))
    world.clock.set(t("2026-03-02T12:00:00Z"))
    done = world.engine.ingest([
        EventIn("ann", "order_placed", t("2026-03-02T10:00:00Z"), {"order_id": "O-7", "total": 60.0}, "evt-1"),
        EventIn("ann", "order_placed", t("2026-03-02T11:00:00Z"), {"order_id": "O-7", "total": 60.0}, "evt-2"),
        EventIn("ann", "order_placed", t("2026-03-02T11:30:00Z"), {"order_id": 8, "total": 10.0}),
        EventIn("ann", "order_placed", t("2026-03-02T11:40:00Z"), {"order_id": "8", "total": 10.0}),
    ])
    assert (done.stored, done.duplicates) == (2, 2)
    assert customer(world, "ann") == (70.0, 2)
    assert world.runs("ann") == []


def test_a_repeated_order_counts_one_conversion_and_one_goal(world):
    world.contacts(CONTACTS)
    journey = simple_journey(goal={"enabled": True, "event": "order_placed", "exits": False})
    email = send_node(journey)
    chain(journey, journey.trigger(), email)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    for at in ("2026-03-02T11:00:00Z", "2026-03-02T11:00:00Z", "2026-03-02T11:05:00Z"):
        world.event("ann", "order_placed", at, order_id="O-1001", total=60.0)
    stats = journey_stats(world.db, journey.id)
    assert (stats.converted, stats.revenue, stats.goals) == (1, 60.0, 1)
    assert stats.nodes[email.id].converted == 1
    assert len(world.log("ann", "converted")) == 1 and len(world.log("ann", "goal")) == 1


def test_an_event_id_seen_before_changes_nothing(world):
    world.contacts(CONTACTS)
    journey = simple_journey(entry={"mode": "every_time"}, retrigger="restart")
    chain(journey, journey.trigger(), send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", event_id="cart-1", cart_url="u1")
    assert world.event("ann", "cart_abandoned", "2026-03-02T10:20:00Z", event_id="cart-1",
                       cart_url="u1").duplicates == 1
    assert len(world.runs("ann")) == 1 and len(world.messages("ann")) == 1
    world.event("ann", "cart_abandoned", "2026-03-02T10:30:00Z", event_id="cart-2", cart_url="u2")
    assert len(world.runs("ann")) == 2          # another id is another event


def test_an_event_without_id_delivered_twice_is_one_event(world):
    world.contacts(CONTACTS)
    journey = simple_journey(entry={"mode": "every_time"}, retrigger="restart")
    chain(journey, journey.trigger(), send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", cart_url="u1")
    assert world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", cart_url="u1").duplicates == 1
    assert len(world.runs("ann")) == 1
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", cart_url="u2")   # other content: a new one
    assert len(world.runs("ann")) == 2


def test_a_repeated_feedback_or_exit_event_changes_nothing(world):
    world.contacts(CONTACTS)
    journey = simple_journey(exit_conditions=[{"event": "order_placed", "conditions": []}])
    email = send_node(journey)
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), email, wait, send_node(journey, subject="Again"))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_opened", "2026-03-02T10:30:00Z", event_id="open-1")
    world.event("ann", "message_opened", "2026-03-02T10:45:00Z", event_id="open-1")
    assert world.messages("ann")[0]["opened_at"] == t("2026-03-02T10:30:00Z")
    assert journey_stats(world.db, journey.id).nodes[email.id].opened == 1


def test_an_order_and_its_refund_are_two_events_but_each_once():
    placed = event_key("ann", "order_placed", t("2026-03-02T10:00:00Z"), {"order_id": "O-1"}, "e1")
    again = event_key("ann", "order_placed", t("2026-03-05T10:00:00Z"), {"order_id": " O-1 "}, "e2")
    refund = event_key("ann", "order_refunded", t("2026-03-06T10:00:00Z"), {"order_id": "O-1"}, "e3")
    assert placed == again == "order:O-1:order_placed"
    assert refund == "order:O-1:order_refunded"
    # An event id and an order id that look alike never collide.
    assert event_key("ann", "cart_abandoned", t("2026-03-02T10:00:00Z"), {}, "O-1") == "id:O-1"
    assert len(event_key("ann", "x", t("2026-03-02T10:00:00Z"), {}, "z" * 250)) <= 255


def test_a_duplicate_within_one_batch_is_caught_too(world):
    world.contacts(CONTACTS)
    journey = simple_journey(entry={"mode": "every_time"}, retrigger="restart")
    chain(journey, journey.trigger(), send_node(journey))
    world.install(journey)
    world.clock.set(t("2026-03-02T10:00:00Z"))
    cart = EventIn("ann", "cart_abandoned", t("2026-03-02T10:00:00Z"), {"cart_url": "u"})
    done = world.engine.ingest([cart, cart, EventIn("bob", "cart_abandoned", t("2026-03-02T10:00:00Z"))],
                               chunk=2)
    assert (done.stored, done.duplicates) == (2, 1)
    assert len(world.runs("ann")) == 1 and stored_events(world) == 2


def test_two_writers_storing_the_same_order_at_once_count_it_once(world):
    """A second importer meets the first one's uncommitted order: it waits, then skips it (on PostgreSQL
    ON CONFLICT DO NOTHING waits for the other transaction; on SQLite BEGIN IMMEDIATE does)."""
    import threading

    from app.engine.engine import JourneyEngine
    from app.engine.ingest import ingest_batch
    from app.engine.runs import Batch
    from app.store.sql import write_transaction

    world.contacts(CONTACTS)
    world.install(spend_journey(100))
    order = EventIn("ann", "order_placed", t("2026-03-02T10:00:00Z"), {"order_id": "O-1001", "total": 60.0})
    world.clock.set(t("2026-03-02T10:00:00Z"))
    other = JourneyEngine(world.db, world.clock)
    results = []
    with write_transaction(world.db) as conn:
        first = ingest_batch(Batch(conn, world.engine.journeys, world.engine.templates), [order],
                             world.clock.now(), True)
        racer = threading.Thread(target=lambda: results.append(other.ingest([order])))
        racer.start()
        racer.join(0.2)       # not a timing assertion: the outcome is the same whether it waited or not
    racer.join()
    assert (first.stored, results[0].stored, results[0].duplicates) == (1, 0, 1)
    assert customer(world, "ann") == (60.0, 1) and stored_events(world) == 1


def test_two_imports_at_once_for_a_contact_neither_knew_both_count(world):
    """Two importers each bring an order of a contact not in the database yet: the second meets the
    first one's uncommitted contact and goes on (no crash, no lost order): two orders, 110.00."""
    import threading

    from app.engine.engine import JourneyEngine
    from app.engine.ingest import ingest_batch
    from app.engine.runs import Batch
    from app.store.sql import write_transaction

    world.install(spend_journey(100))
    world.clock.set(t("2026-03-02T10:00:00Z"))
    other = JourneyEngine(world.db, world.clock)
    results: list = []

    def second() -> None:
        try:
            results.append(other.ingest([EventIn("zed", "order_placed", t("2026-03-02T10:05:00Z"),
                                                 {"order_id": "O-2", "total": 50.0})]))
        except Exception as exc:        # the assertion below names it
            results.append(exc)

    with write_transaction(world.db) as conn:
        ingest_batch(Batch(conn, world.engine.journeys, world.engine.templates),
                     [EventIn("zed", "order_placed", t("2026-03-02T10:00:00Z"), {"order_id": "O-1", "total": 60.0})],
                     world.clock.now(), True)
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(0.2)       # not a timing assertion: the outcome is the same whether it waited or not
    racer.join()
    assert [getattr(r, "stored", r) for r in results] == [1]
    assert customer(world, "zed") == (110.0, 2) and stored_events(world) == 2
    assert len(world.runs("zed")) == 1


def test_two_imports_at_once_with_different_orders_of_one_contact_lose_neither(world):
    """Each order is counted once, also when two imports add orders of the same contact at the same time:
    60 + 50 is 110 (not the 50 of whichever wrote last), and the journey for spend reaching 100 starts."""
    import threading

    from app.engine.engine import JourneyEngine
    from app.engine.ingest import ingest_batch
    from app.engine.runs import Batch
    from app.store.sql import write_transaction

    world.contacts(CONTACTS)
    world.install(spend_journey(100))
    world.event("cho", "order_placed", "2026-03-02T09:30:00Z", order_id="O-0", total=1.0)   # known properties
    world.clock.set(t("2026-03-02T10:00:00Z"))
    other = JourneyEngine(world.db, world.clock)
    results: list = []
    with write_transaction(world.db) as conn:
        ingest_batch(Batch(conn, world.engine.journeys, world.engine.templates),
                     [EventIn("ann", "order_placed", t("2026-03-02T10:00:00Z"), {"order_id": "O-1", "total": 60.0})],
                     world.clock.now(), True)
        racer = threading.Thread(target=lambda: results.append(other.ingest([EventIn(
            "ann", "order_placed", t("2026-03-02T10:05:00Z"), {"order_id": "O-2", "total": 50.0})])))
        racer.start()
        racer.join(0.2)       # not a timing assertion: the outcome is the same whether it waited or not
    racer.join()
    assert customer(world, "ann") == (110.0, 2)
    assert len(world.runs("ann")) == 1


def test_an_order_id_written_as_number_text_or_padded_text_is_one_order_and_the_first_wins(world):
    """1001, "1001", " 1001 " and 1001.0 are the same order, across batches and within one; a repeat with
    another total, time or event id changes nothing (the first delivery is kept) and is reported."""
    world.contacts(CONTACTS)
    world.install(spend_journey(100))
    first = world.event("ann", "order_placed", "2026-03-02T10:00:00Z", order_id=1001, total=60.0)
    world.clock.set(t("2026-03-02T12:00:00Z"))
    again = world.engine.ingest([
        EventIn("ann", "order_placed", t("2026-03-02T11:00:00Z"), {"order_id": "1001", "total": 60.0}, "e-2"),
        EventIn("ann", "order_placed", t("2026-03-02T11:30:00Z"), {"order_id": " 1001 ", "total": 90.0}),
        EventIn("ann", "order_placed", t("2026-03-02T11:45:00Z"), {"order_id": 1001.0, "total": 60.0})])
    assert (first.stored, again.stored, again.duplicates) == (1, 0, 3)
    assert customer(world, "ann") == (60.0, 1) and stored_events(world) == 1
    assert world.runs("ann") == []          # 60 + 90 would have crossed 100
