"""Events imports: Segment's track/identify shape with its e-commerce names mapped to ours, the
`checkout_started` cart recovery, and history mode (`--history`): past events update customers and
start nothing."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.cli import main
from app.engine.importers import parse_events
from app.engine.simulator import install_journey
from app.examples import load_example
from app.store.db import open_database
from app.store.tables import contact_channels, contact_tags, contacts, events, messages, run_log, runs

from .helpers import chain, send_node, simple_journey

AT = "2026-03-02T09:00:00.123Z"


def _lines(*calls: dict[str, Any]) -> str:
    return "".join(json.dumps(c) + "\n" for c in calls)


def test_segment_order_completed_is_our_order_placed():
    found, problems = parse_events(_lines(
        {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m-1", "timestamp": AT,
         "properties": {"order_id": "50314b8e", "revenue": 25.0, "currency": "USD",
                        "products": [{"product_id": "507f", "sku": "45790-32", "name": "Monopoly", "price": 19,
                                      "quantity": 1}]}},
        {"type": "track", "event": "Order Completed", "userId": "u2", "timestamp": AT,
         "properties": {"order_id": "o-2", "total": 30.0, "revenue": 25.0}},
    ))
    assert problems == []
    first, second = found
    assert (first.contact, first.type, first.id) == ("u1", "order_placed", "m-1")
    assert first.properties["total"] == 25.0 and first.properties["items"][0]["name"] == "Monopoly"
    assert "products" not in first.properties
    assert second.properties["total"] == 30.0          # `total` wins over `revenue` when both are given
    assert first.at == datetime(2026, 3, 2, 9, 0, 0, 123000, tzinfo=timezone.utc)


@pytest.mark.parametrize("name,ours", [
    ("Product Viewed", "product_viewed"), ("Checkout Started", "checkout_started"),
    ("Order Completed", "order_placed"), ("order completed", "order_placed"), ("Order Refunded", "order_refunded"),
    ("Product Added", "product_added"), ("Coupon Applied", "coupon_applied"),
    ("Product Added to Wishlist", "product_added_to_wishlist"), ("Signed Up", "signed_up"),
])
def test_segment_event_names_become_ours(name, ours):
    found, problems = parse_events(_lines({"type": "track", "event": name, "anonymousId": "a-9", "timestamp": AT}))
    assert problems == [] and [(e.contact, e.type) for e in found] == [("a-9", ours)]


def test_checkout_started_carries_items_total_and_cart_url():
    found, _ = parse_events(_lines({
        "type": "track", "event": "Checkout Started", "userId": "u1", "timestamp": AT,
        "properties": {"order_id": "c-1", "value": 42.5, "currency": "EUR", "checkout_url": "https://shop.example/c/1",
                       "products": [{"name": "Mug", "price": 21.25, "quantity": 2}]}}))
    event = found[0]
    assert event.type == "checkout_started"
    assert (event.properties["total"], event.properties["cart_url"]) == (42.5, "https://shop.example/c/1")
    assert event.properties["items"] == [{"name": "Mug", "price": 21.25, "quantity": 2}]


@pytest.mark.parametrize("name", ["checkouts/create", "Started Checkout", "Checkout Started", "checkout_started"])
def test_shopify_checkouts_are_checkout_started(name):
    """A Shopify checkout (its webhook's payload as properties, or Klaviyo's metric name) is our checkout_started."""
    found, problems = parse_events(_lines({"contact": "c1", "type": name, "at": AT, "id": "chk-1", "properties": {
        "token": "b1946ac9", "abandoned_checkout_url": "https://shop.example/1/checkouts/b1946ac9/recover",
        "total_price": "398.00", "currency": "USD",
        "line_items": [{"title": "IPod Nano - 8GB", "quantity": 1, "price": "199.00", "sku": "IPOD2008PINK"}]}}))
    assert problems == []
    event = found[0]
    assert (event.type, event.properties["total"]) == ("checkout_started", 398.0)
    assert event.properties["cart_url"] == "https://shop.example/1/checkouts/b1946ac9/recover"
    assert event.properties["items"][0]["name"] == "IPod Nano - 8GB"


@pytest.mark.parametrize("call,reason", [
    ({"type": "page", "userId": "u1", "name": "Home", "timestamp": AT}, "only track and identify calls are"),
    ({"type": "track", "event": "Order Completed", "timestamp": AT}, "needs a 'userId' or an 'anonymousId'"),
    ({"type": "track", "event": "Order Completed", "userId": "u1"}, "needs a 'timestamp'"),
    ({"type": "track", "userId": "u1", "timestamp": AT}, "needs an 'event' name"),
    ({"type": "track", "event": "Order Completed", "userId": "u1", "timestamp": AT,
      "properties": {"order_id": "x", "revenue": "lots"}}, "order_placed 'total' must be a non-negative number"),
    ({"type": "track", "event": "!!!", "userId": "u1", "timestamp": AT}, "is not a valid name"),
])
def test_segment_calls_that_cannot_be_used_are_reported_by_line(call, reason):
    found, problems = parse_events(_lines({"contact": "c1", "type": "subscribed", "at": AT}, call))
    assert len(found) == 1 and len(problems) == 1
    assert problems[0].line == 2 and reason in problems[0].reason


def _contact(url: str, cid: str) -> dict[str, Any]:
    db = open_database(url)
    try:
        with db.connect() as conn:
            row = conn.execute(select(contacts).where(contacts.c.id == cid)).one()
            return dict(row._mapping)
    finally:
        db.dispose()


def _write(tmp_path: Path, text: str, name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_identify_sets_the_contact_and_is_no_event(any_url, tmp_path, capsys):
    file = _write(tmp_path, _lines(
        {"type": "identify", "userId": "u1", "timestamp": AT, "messageId": "i-1",
         "traits": {"email": "Ann@Example.com", "firstName": "Ann", "lastName": "Lee", "phone": "+49 151 23456789",
                    "plan": "gold", "address": {"city": "Berlin", "country": "DE"}, "tags": "vip, newsletter"},
         "context": {"timezone": "Europe/Berlin"}},
        {"type": "identify", "userId": "u2", "timestamp": AT, "traits": {"name": "Bo Berg", "email": "not-an-email",
                                                                          "phone": "030 901820",
                                                                          "address": {"country": "DE"}}},
        {"type": "track", "event": "Product Viewed", "userId": "u1", "timestamp": AT, "properties": {"sku": "S1"}},
    ))
    code = main(["events", "import", str(file), "--db", any_url])
    out, err = capsys.readouterr()
    assert code == 0                    # the bad email is said by line; everything else was kept (issue 12)
    assert "line 2: identify: the email 'not-an-email' is not an email address" in err
    assert "1 new, 0 already present; 2 identify call(s) applied to contacts" in out
    ann = _contact(any_url, "u1")
    assert (ann["email"], ann["first_name"], ann["last_name"], ann["phone"], ann["timezone"]) == (
        "Ann@example.com", "Ann", "Lee", "+4915123456789", "Europe/Berlin")
    assert ann["attributes"] == {"plan": "gold", "address": {"city": "Berlin", "country": "DE"}}
    bo = _contact(any_url, "u2")
    assert (bo["first_name"], bo["last_name"], bo["email"], bo["phone"]) == ("Bo", "Berg", None, "+4930901820")
    db = open_database(any_url)
    with db.connect() as conn:
        assert [r.type for r in conn.execute(select(events.c.type))] == ["product_viewed"]
        assert sorted(conn.execute(select(contact_tags.c.tag).where(contact_tags.c.contact_id == "u1")).scalars()) \
            == ["newsletter", "vip"]
    db.dispose()
    assert main(["events", "import", str(file), "--db", any_url]) == 0
    assert "0 new, 1 already present" in capsys.readouterr().out
    assert _contact(any_url, "u1") == ann           # the same traits again change nothing


# --- The cart recovery example on checkout_started --------------------------------------------------------

def test_the_checkout_recovery_example_reminds_after_an_hour_unless_an_order_follows(world):
    journey = load_example("checkout_recovery")
    world.install(journey)
    world.contacts("id,email,first_name\nann,ann@example.com,Ann\nbo,bo@example.com,Bo\n")
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    lines = [{"type": "track", "event": "Checkout Started", "userId": who, "messageId": f"co-{who}",
              "timestamp": start.isoformat(), "properties": {"value": 40, "currency": "EUR",
                                                             "checkout_url": f"https://shop.example/c/{who}",
                                                             "products": [{"name": "Mug", "price": 20, "quantity": 2}]}}
             for who in ("ann", "bo")]
    lines.append({"type": "track", "event": "Order Completed", "userId": "bo", "messageId": "oc-bo",
                  "timestamp": (start + timedelta(minutes=30)).isoformat(),
                  "properties": {"order_id": "B-1", "total": 40}})
    found, problems = parse_events(_lines(*lines))
    assert problems == []
    for event in found:
        world.advance_to(event.at)
        world.engine.ingest([event])
    world.advance_to(start + timedelta(minutes=59))
    assert world.sent() == []
    world.advance_to(start + timedelta(hours=1, minutes=1))
    sent = world.sent()
    assert [m["contact_id"] for m in sent] == ["ann"]          # Bo ordered: his run exited
    assert "https://shop.example/c/ann" in sent[0]["body_text"] and "Mug" in sent[0]["body_text"]
    assert {r["contact_id"]: r["reason"] for r in world.log(action="exited")}.get("bo") == "exit_condition"


# --- History mode for events imports ---------------------------------------------------------------------

def test_events_imported_as_history_update_customers_and_start_nothing(any_url, tmp_path, capsys):
    after = simple_journey("After purchase", event="order_placed")
    chain(after, after.trigger(), send_node(after, subject="Thanks"))
    carts = simple_journey("Carts", goal={"enabled": True, "event": "order_placed", "exits": True},
                           exit_conditions=[{"event": "product_viewed", "conditions": []}],
                           exit_on_unsubscribe_all=True)
    wait = carts.add_node("wait", {"mode": "duration", "delay": {"amount": 2, "unit": "days"}})
    chain(carts, carts.trigger(), wait, send_node(carts, subject="Your cart"))
    db = open_database(any_url)
    now = datetime.now(timezone.utc)
    install_journey(db, after, now)
    install_journey(db, carts, now)
    db.dispose()
    live = _write(tmp_path, _lines({"contact": "ann", "type": "cart_abandoned", "at": now.isoformat()}), "live.jsonl")
    assert main(["events", "import", str(live), "--db", any_url]) == 0
    capsys.readouterr()

    def state() -> tuple[Any, ...]:
        db = open_database(any_url)
        try:
            with db.connect() as conn:
                return (conn.execute(select(runs.c.journey_id, runs.c.contact_id, runs.c.status, runs.c.node_id,
                                            runs.c.due_at)).all(),
                        conn.execute(select(run_log.c.action, run_log.c.contact_id)).all(),
                        conn.execute(select(messages.c.id)).all())
        finally:
            db.dispose()

    before = state()
    past = [(now - timedelta(days=400 - d)).isoformat() for d in range(4)]
    history = _write(tmp_path, _lines(
        {"contact": "ann", "type": "order_placed", "at": past[0], "properties": {"order_id": "H1", "total": 30}},
        {"contact": "ann", "type": "Order Completed", "at": past[1], "properties": {"order_id": "H2", "total": 12.5}},
        {"contact": "ann", "type": "product_viewed", "at": past[2]},
        {"type": "track", "event": "Order Completed", "userId": "cy", "timestamp": past[2],
         "properties": {"order_id": "H3", "revenue": 99}},
        {"contact": "ann", "type": "unsubscribed", "at": past[3], "properties": {"channel": "all"}},
    ), "history.jsonl")
    assert main(["events", "import", str(history), "--db", any_url, "--history"]) == 0
    out = capsys.readouterr().out
    assert "5 new, 0 already present" in out and "history mode" in out
    assert state() == before               # no entry, no exit (order, view, unsubscribe), no goal, no send
    ann = _contact(any_url, "ann")
    assert (float(ann["lifetime_spend"]), ann["order_count"]) == (42.5, 2)
    assert ann["last_order_at"] == datetime.fromisoformat(past[1])
    assert float(_contact(any_url, "cy")["lifetime_spend"]) == 99.0
    db = open_database(any_url)
    with db.connect() as conn:       # consent is kept, at the event's own time: an opt-out is never lost
        assert {r.channel: r.state for r in conn.execute(select(contact_channels).where(
            contact_channels.c.contact_id == "ann"))} == {"email": "unsubscribed", "sms": "unsubscribed",
                                                          "whatsapp": "unsubscribed"}
    db.dispose()
    assert main(["events", "import", str(history), "--db", any_url, "--history"]) == 0
    assert "0 new, 5 already present" in capsys.readouterr().out
    assert (float(_contact(any_url, "ann")["lifetime_spend"]), _contact(any_url, "ann")["order_count"]) == (42.5, 2)
