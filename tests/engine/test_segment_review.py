"""Segment identify calls and opt-outs (review of issue 12 §4): an identify that gives a second
contact the address of someone who opted out brings the opt-out along, and consent-ish traits never
loosen one."""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from app.engine.importers import parse_events
from app.store.tables import contact_channels

from .helpers import chain, send_node, simple_journey

AT = "2026-03-02T09:30:00Z"


def _calls(*calls: dict[str, Any]) -> list[Any]:
    found, problems = parse_events("".join(json.dumps(c) + "\n" for c in calls))
    assert problems == []
    return found


def _states(world, contact: str) -> dict[str, str]:
    with world.db.connect() as conn:
        return {r.channel: r.state for r in conn.execute(select(contact_channels).where(
            contact_channels.c.contact_id == contact))}


CONTACTS = """id,email,phone,unsubscribed
bob,bob@example.com,+4915123456789,email;sms
"""


@pytest.mark.parametrize("history", [False, True], ids=["live", "history"])
@pytest.mark.parametrize("traits,channels", [
    ({"email": "BOB@Example.com"}, {"email": "unsubscribed"}),
    ({"phone": "+49 151 23456789"}, {"sms": "unsubscribed"}),
    ({"email": "bob@example.com", "phone": "0151 23456789", "address": {"country": "DE"},
      "unsubscribed": False, "subscribed": True, "email_consent": "subscribed", "accepts_marketing": True},
     {"email": "unsubscribed", "sms": "unsubscribed"}),
])
def test_an_identify_under_another_id_keeps_the_address_s_opt_out(world, traits, channels, history):
    """Segment's userId is seldom the id the shop's contacts came in with: Bob, who opted out, comes back
    as "seg-42" with his address. The new contact must not be mailed or texted."""
    world.contacts(CONTACTS)
    world.engine.ingest(_calls({"type": "identify", "userId": "seg-42", "timestamp": AT, "traits": traits}),
                        history=history)
    assert _states(world, "seg-42") == channels
    assert _states(world, "bob") == {"email": "unsubscribed", "sms": "unsubscribed"}     # untouched


def test_the_carried_opt_out_stops_a_journey_s_email_to_the_second_contact(world):
    world.contacts(CONTACTS)
    journey = simple_journey("Checkout", event="checkout_started")
    chain(journey, journey.trigger(), send_node(journey, subject="Your checkout"))
    world.install(journey)
    world.engine.ingest(_calls(
        {"type": "identify", "userId": "seg-42", "timestamp": AT, "traits": {"email": "Bob@Example.com"}},
        {"type": "track", "event": "Checkout Started", "userId": "seg-42", "messageId": "m-1", "timestamp": AT,
         "properties": {"value": 20, "checkout_url": "https://shop.example/c/1"}}))
    world.advance_to("2026-03-02T12:00:00Z")
    assert world.sent("seg-42") == []
    assert [r["reason"] for r in world.log("seg-42", "skipped")] == ["unsubscribed"]


def test_an_identify_never_loosens_its_own_contact_s_opt_out(world):
    world.contacts(CONTACTS)
    world.engine.ingest(_calls({"type": "identify", "userId": "bob", "timestamp": AT, "traits": {
        "email": "bob@example.com", "unsubscribed": False, "subscribed": True, "consent": "granted",
        "email_opt_in": True, "sms_consent": "SUBSCRIBED"}}))
    assert _states(world, "bob") == {"email": "unsubscribed", "sms": "unsubscribed"}


def test_an_address_nobody_opted_out_with_brings_no_consent(world):
    world.contacts("id,email,subscribed\nann,ann@example.com,email\n")
    world.engine.ingest(_calls({"type": "identify", "userId": "seg-7", "timestamp": AT,
                                "traits": {"email": "ann@example.com"}}))
    assert _states(world, "seg-7") == {}          # an opt-in is the person's own to give: never copied


@pytest.mark.parametrize("call,said", [
    ({"timestamp": "2026-03-03T10:00:00"}, "line 1: 'timestamp' '2026-03-03T10:00:00' is not an ISO-8601 time with a "
                                           "time zone"),
    ({"originalTimestamp": "03/03/2026"}, "line 1: 'originalTimestamp' '03/03/2026' is not an ISO-8601 time"),
    ({"timestamp": 1709460000}, "line 1: 'timestamp' must be an ISO-8601 time with a time zone such as "
                                "2026-03-01T10:00:00Z, not 1709460000"),
    ({"timestamp": AT, "userId": ["u1"]}, "line 1: 'userId' must be a contact id"),
    ({"timestamp": AT, "userId": None, "anonymousId": "a" * 201}, "line 1: 'anonymousId' is longer than 200"),
])
def test_a_segment_call_s_bad_value_is_named_as_segment_names_it(call, said):
    """A Segment line has no 'at' or 'contact': the report names the field the line holds."""
    found, problems = parse_events(json.dumps({"type": "track", "event": "Order Completed", "userId": "u1",
                                               **call}) + "\n")
    assert found == [] and [str(p) for p in problems][0].startswith(said), problems


def test_segment_s_product_viewed_carries_the_product_as_ours_does(world):
    """Templates of a product_viewed journey read `event.product.name` (docs/journey-format.md): Segment's
    flat Product Viewed must fill it."""
    found = _calls({"type": "track", "event": "Product Viewed", "userId": "u1", "messageId": "pv-1", "timestamp": AT,
                    "properties": {"product_id": "507f1f77", "sku": "G-32", "name": "Monopoly: 3rd Edition",
                                   "price": 18.99, "url": "https://shop.example/p/monopoly",
                                   "image_url": "https://shop.example/p/monopoly.jpg", "currency": "USD"}})
    event = found[0]
    assert event.type == "product_viewed"
    assert event.properties["product"] == {"product_id": "507f1f77", "sku": "G-32", "name": "Monopoly: 3rd Edition",
                                           "price": 18.99, "url": "https://shop.example/p/monopoly",
                                           "image": "https://shop.example/p/monopoly.jpg"}
    assert event.properties["price"] == 18.99 and event.properties["currency"] == "USD"     # kept as sent
    journey = simple_journey("Browse", event="product_viewed")
    chain(journey, journey.trigger(), send_node(journey, subject="Still thinking of {{ event.product.name }}?"))
    world.install(journey)
    world.contacts("id,email\nu1,u1@example.com\n")
    world.engine.ingest(found)
    world.advance_to("2026-03-02T12:00:00Z")
    assert [m["subject"] for m in world.sent("u1")] == ["Still thinking of Monopoly: 3rd Edition?"]


def test_a_segment_batch_line_imports_each_of_its_calls(world):
    """Segment's libraries post `{"batch": [...], "sentAt": ...}`: a file of such payloads is read call by
    call, a bad call said with its JSON pointer and the others kept."""
    line = {"batch": [
        {"type": "identify", "userId": "u1", "timestamp": AT, "messageId": "b-0", "traits": {"email": "u1@example.com"}},
        {"type": "track", "event": "Checkout Started", "userId": "u1", "timestamp": AT, "messageId": "b-1",
         "properties": {"value": 12.5, "checkout_url": "https://shop.example/c/1"}},
        {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "b-2",
         "properties": {"order_id": "B2", "revenue": 12.5}},
        {"type": "track", "event": "Order Completed", "userId": "u1", "timestamp": AT, "messageId": "b-3",
         "properties": {"order_id": "B3", "revenue": 12.5}},
    ], "sentAt": AT}
    found, problems = parse_events(json.dumps({"contact": "c0", "type": "order_placed", "at": AT}) + "\n"
                                   + json.dumps(line) + "\n")
    assert [(e.contact, e.type, e.id) for e in found] == [
        ("c0", "order_placed", None), ("u1", "identify", "b-0"), ("u1", "checkout_started", "b-1"),
        ("u1", "order_placed", "b-3")]
    assert [str(p) for p in problems] == ["line 2: /batch/2: a Segment call needs a 'timestamp' (ISO-8601 with a "
                                          "time zone)"]
    world.engine.ingest(found)
    assert world.runs("u1") == [] and _states(world, "u1") == {}


def test_a_line_that_is_neither_an_event_nor_a_batch_is_still_refused(world):
    _, problems = parse_events(json.dumps({"batch": "nope"}) + "\n" + json.dumps({"batch": [1]}) + "\n")
    assert [str(p) for p in problems] == ["line 1: 'contact' must be a contact id",
                                          "line 2: /batch/0: must be a Segment call (a JSON object)"]


# --- History mode with every kind of journey waiting ---------------------------------------------------

def test_history_sets_off_no_trigger_exit_goal_conversion_or_counter_then_live_works(world, tmp_path):
    """Active: a thank-you on order_placed, a checkout recovery on checkout_started (Ann inside it, her
    reminder sent, an order as exit and goal), a VIP journey at 100 spent, a win-back after 30 days
    without an order. Past orders and checkouts (Segment's and a Shopify export) change customers only;
    a live checkout afterwards starts the recovery as usual."""
    from datetime import timedelta

    from app.engine.order_import import import_orders_file
    from app.store.tables import contacts, messages, run_log, runs, step_counts

    from .helpers import CONTACTS, t
    from .test_orders_review import _row, _write

    world.contacts(CONTACTS)
    thanks = simple_journey("Thanks", event="order_placed")
    chain(thanks, thanks.trigger(), send_node(thanks, subject="Thanks"))
    carts = simple_journey("Carts", event="checkout_started", goal={"enabled": True, "event": "order_placed",
                                                                     "exits": True},
                           exit_conditions=[{"event": "order_placed", "conditions": []}])
    wait = carts.add_node("wait", {"mode": "duration", "delay": {"amount": 2, "unit": "days"}})
    chain(carts, carts.trigger(), send_node(carts, subject="Your cart"), wait, send_node(carts, subject="Again"))
    vip = simple_journey("VIP")
    vip.trigger().config.update(mode="spend", threshold=100)
    chain(vip, vip.trigger(), send_node(vip, subject="VIP"))
    back = simple_journey("Win-back")
    back.trigger().config.update(mode="no_order", days=30)
    chain(back, back.trigger(), send_node(back, subject="Miss you"))
    ids = {world.install(j): j.name for j in (thanks, carts, vip, back)}
    world.event("ann", "checkout_started", "2026-03-02T09:00:00Z", total=50)
    world.advance_to("2026-03-02T10:00:00Z")

    def state() -> tuple:
        with world.db.connect() as conn:
            return tuple(sorted(map(tuple, conn.execute(select(*table.c)))) for table in (runs, run_log, messages,
                                                                                         step_counts))

    before = state()
    assert [m["subject"] for m in world.sent("ann")] == ["Your cart"]
    world.clock.set(t("2026-03-10T09:00:00Z"))
    file = _write(tmp_path / "orders_export.csv", [
        _row(Name="#1", Email="ANN@example.com", Financial_Status="paid", Currency="USD", Total="150.00",
             Created_at="2026-03-02 11:00:00 +0000", Lineitem_name="Mug", Lineitem_quantity="1"),
        _row(Name="#2", Email="bob@example.com", Financial_Status="paid", Currency="USD", Total="20.00",
             Created_at="2025-03-02 11:00:00 +0000", Lineitem_name="Mug", Lineitem_quantity="1")])
    report, _ = import_orders_file(world.engine, file)
    assert report.history == 2
    world.engine.ingest(_calls(
        {"type": "track", "event": "Checkout Started", "userId": "cho", "messageId": "h1",
         "timestamp": "2026-03-03T10:00:00Z", "properties": {"value": 30}},
        {"type": "track", "event": "Order Completed", "userId": "cho", "messageId": "h2",
         "timestamp": "2026-03-03T10:30:00Z", "properties": {"order_id": "S1", "revenue": 300}}), history=True)
    assert state() == before             # nobody entered, exited, converted or moved; no counter changed
    with world.db.connect() as conn:
        spend = {r.id: (float(r.lifetime_spend), r.order_count) for r in conn.execute(select(contacts))}
    assert (spend["ann"], spend["bob"], spend["cho"]) == ((150.0, 1), (20.0, 1), (300.0, 1))
    world.advance_to(t("2026-03-10T09:00:00Z") + timedelta(seconds=1))
    entered = {ids[r["journey_id"]] for r in world.runs() if r["contact_id"] != "ann"}
    assert entered == set()              # not VIP (crossed in the past), not won back (their mark passed)
    world.event("bob", "checkout_started", "2026-03-10T10:00:00Z", total=10)       # live: as always
    assert [(ids[r["journey_id"]], r["status"]) for r in world.runs("bob")] == [("Carts", "active")]


@pytest.mark.parametrize("name,stored", [("Order Completed", "order_placed"), ("Checkout Started", "checkout_started"),
                                         ("Started Checkout", "checkout_started"), ("Unsubscribed", "unsubscribed")])
def test_validation_of_a_segment_name_says_what_to_write_instead(tmp_path, capsys, name, stored):
    """Not "use letters, digits, '_'…": the name is well formed, it is just not the one events are stored under."""
    from app.cli import main
    from app.examples import load_example

    journey = load_example("checkout_recovery")
    journey.trigger().config["event"] = name
    path = tmp_path / "journey.json"
    from app.journey.fileformat import save

    save(journey, path)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"imported as {stored!r}: use that" in out
    assert f"hint: Write {stored!r}" in out and "Use letters, digits" not in out


# --- The checkout recovery example reads cleanly for checkouts as shops send them -----------------------

@pytest.mark.parametrize("items,shown", [
    ([{"name": "Mug", "price": 21.25, "quantity": 2}], "- Mug × 2 — €21.25"),
    ([{"name": "Mug", "price": 21.25}], "- Mug × 1 — €21.25"),                  # Segment: quantity optional
    ([{"name": "Gift card"}, {"name": "Mug", "price": 3}], "- Gift card × 1\n- Mug × 1 — €3.00\nTotal"),
])
def test_the_checkout_reminder_lists_items_without_gaps(tmp_path, items, shown):
    from app.delivery.test_send import render_for
    from app.engine.samples import SAMPLE_CONTACT
    from app.examples import load_example
    from app.store.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    journey = load_example("checkout_recovery")
    event = {"items": items, "total": 42.5, "currency": "EUR", "cart_url": "https://shop.example/c/1"}
    for step in [n for n in journey.nodes.values() if n.kind == "send_template" and "event.items" in n.config["text"]]:
        message = render_for(db, journey, step, SAMPLE_CONTACT, event)
        assert message.error is None, message
        assert shown in (message.text or "")
        assert not [line for line in (message.text or "").split("\n") if "  " in line.strip()], message.text
    db.dispose()
