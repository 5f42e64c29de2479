"""Journey validation and the events import agree on which event names exist: every type an import
stores is a name a trigger, goal or exit condition may use, and a name validation refuses is one no
import stores (validation then says which name the import does store)."""
from __future__ import annotations

import json

import pytest

from app.engine.importers import parse_events
from app.journey.model import Journey
from app.journey.node_kinds import KNOWN_EVENTS
from app.journey.validate import validate

AT = "2026-03-02T09:00:00Z"
NAMES = ["order_placed", "checkout_started", "Order Completed", "Checkout Started", "Coupon Applied",
         "Unsubscribed", "order.shipped", "Order-Shipped", "OrderShipped", "gift card redeemed", "Café visité",
         "#1 fan", "2fa_passed", "!!!", "über", "a" * 100, "x y " * 30, "_private"]


def _problems(event: str, where: str) -> list[str]:
    journey = Journey(name="Names")
    if where == "trigger":
        journey.add_node("trigger", {"mode": "event", "event": event})
    else:
        journey.add_node("trigger", {"mode": "event", "event": "cart_abandoned"})
        journey.settings["exit_conditions"] = [{"event": event, "conditions": []}]
    return [p.message for p in validate(journey) if "Event" in p.message or "event" in p.message.lower()
            and repr(event)[:20] in p.message]


def _imported(name: str) -> str | None:
    found, problems = parse_events(json.dumps({"contact": "c1", "type": name, "at": AT}) + "\n")
    return found[0].type if found else None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("where", ["trigger", "exit condition"])
def test_what_an_import_stores_is_a_name_a_journey_may_use(name, where):
    stored = _imported(name)
    if stored is not None:
        assert _problems(stored, where) == [], (name, stored)
    refused = _problems(name, where)
    if refused:
        # The journey names what no import stores: the message says what the import stores instead, if any.
        assert stored != name
        if stored is not None:
            assert repr(stored) in refused[0]
    else:
        assert stored == name        # a name a journey may use is stored as written


@pytest.mark.parametrize("call,stored", [
    ({"type": "track", "event": "Order Completed", "userId": "u", "timestamp": AT}, "order_placed"),
    ({"type": "track", "event": "Checkout Started", "userId": "u", "timestamp": AT}, "checkout_started"),
    ({"type": "track", "event": "Product Viewed", "anonymousId": "a", "timestamp": AT}, "product_viewed"),
])
def test_segment_standard_events_trigger_the_app_s_known_events(call, stored):
    found, _ = parse_events(json.dumps(call) + "\n")
    assert found[0].type == stored and stored in {c.value for c in KNOWN_EVENTS}


def test_checkout_started_is_a_standard_trigger_event():
    assert "checkout_started" in {c.value for c in KNOWN_EVENTS}
    journey = Journey(name="Checkouts")
    journey.add_node("trigger", {"mode": "event", "event": "checkout_started"})
    assert not [p for p in validate(journey) if "event" in p.message.lower()]


def test_validation_names_the_imported_form_of_a_segment_name():
    journey = Journey(name="Segment names")
    journey.add_node("trigger", {"mode": "event", "event": "Order Completed"})
    messages = [p.message for p in validate(journey)]
    assert any("'Order Completed'" in m and "'order_placed'" in m for m in messages), messages
