"""The stories from real shops, on a virtual clock (issue 4, "Tests")."""
from __future__ import annotations

from app.examples import load_example
from app.journey.model import Journey

from .helpers import CONTACTS, chain, send_node, simple_journey, t

CART = {"items": [{"name": "Ceramic mug", "quantity": 2, "price": 14.5}], "cart_url": "https://shop.example/c/1"}


def cart_journey() -> Journey:
    return load_example("cart_abandonment")


def test_cart_reminder_goes_within_the_hour(world):
    world.contacts(CONTACTS)
    world.install(cart_journey())
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T10:59:59Z")
    assert world.sent("ann") == []                     # not before the hour is up
    world.advance_to("2026-03-02T11:00:00Z")
    [email] = world.sent("ann")
    assert email["channel"] == "email" and email["recipient"] == "ann@example.com"
    assert email["sent_at"] == t("2026-03-02T11:00:00Z")
    assert email["subject"] == "Ann, your cart misses you"
    assert "Ceramic mug × 2" in email["body_text"] and "https://shop.example/c/1" in email["body_text"]
    assert 'href="https://shop.example/c/1"' in email["body_html"]


def test_order_during_the_wait_exits_the_run_and_nothing_more_is_sent(world):
    world.contacts(CONTACTS)
    world.install(cart_journey())
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.event("ann", "order_placed", "2026-03-02T10:30:00Z", total=29.0, order_id="A1")
    world.advance_to("2026-03-05T00:00:00Z")
    assert world.messages("ann") == []
    [run] = world.runs("ann")
    assert (run["status"], run["exit_reason"]) == ("exited", "exit_condition")
    assert world.log("ann", "exited")[0]["at"] == t("2026-03-02T10:30:00Z")


def test_an_order_after_the_email_exits_before_the_sms(world):
    world.contacts(CONTACTS)
    world.install(cart_journey())
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T12:00:00Z")
    world.event("ann", "order_placed", "2026-03-02T20:00:00Z", total=29.0)
    world.advance_to("2026-03-05T00:00:00Z")
    assert [m["channel"] for m in world.messages("ann")] == ["email"]     # the SMS at 11:00 next day never comes


def test_second_cart_abandonment_exits_the_first_run_and_starts_a_new_one(world):
    world.contacts(CONTACTS)
    world.install(cart_journey())
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.event("ann", "cart_abandoned", "2026-03-02T10:40:00Z", items=[], cart_url="https://shop.example/c/2")
    world.advance_to("2026-03-02T12:00:00Z")
    first, second = world.runs("ann")
    assert (first["status"], first["exit_reason"]) == ("exited", "re_triggered")
    assert second["status"] == "active"
    [email] = world.sent("ann")                        # one reminder, from the second run, an hour after it
    assert email["run_id"] == second["id"] and email["sent_at"] == t("2026-03-02T11:40:00Z")
    assert "https://shop.example/c/2" in email["body_text"]


def test_unsubscribed_from_email_gets_no_email_but_the_sms_for_unsubscribed(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    email = send_node(journey, "email", subject="Your cart")
    sms = send_node(journey, "sms", subject="Your cart is waiting",
                    recipients="matching", terms=[{"term": "unsubscribed_from", "value": "email"}])
    chain(journey, journey.trigger(), email, sms)
    world.install(journey)
    world.event("bob", "cart_abandoned", "2026-03-02T15:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-02T15:00:00Z")
    assert [m["channel"] for m in world.sent("bob")] == ["sms"]
    assert world.sent("bob")[0]["recipient"] == "+15550002"
    assert [m["channel"] for m in world.sent("ann")] == ["email"]      # subscribed: not matching the SMS
    skips = {(r["contact_id"], r["node_id"], r["reason"]) for r in world.log(action="skipped")}
    assert skips == {("bob", email.id, "unsubscribed"), ("ann", sms.id, "not_matching")}


def test_an_order_after_the_second_message_converts_for_the_second_step_only(world):
    world.contacts(CONTACTS)
    journey = simple_journey(goal={"enabled": True, "event": "order_placed", "exits": False})
    first = send_node(journey, subject="First")
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "days"}})
    second = send_node(journey, subject="Second")
    chain(journey, journey.trigger(), first, wait, second)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "order_placed", "2026-03-04T09:00:00Z", total=42.5)
    [conversion] = world.log("ann", "converted")
    assert conversion["node_id"] == second.id and float(conversion["revenue"]) == 42.5
    from app.engine.stats import journey_stats

    stats = journey_stats(world.db, journey.id)
    assert stats.nodes[second.id].converted == 1 and stats.nodes[second.id].revenue == 42.5
    assert stats.nodes[first.id].converted == 0
    assert stats.converted == 1 and stats.revenue == 42.5


def test_an_order_outside_the_conversion_window_converts_nothing(world):
    world.contacts(CONTACTS)
    journey = simple_journey(goal={"enabled": True, "event": "order_placed"},
                             conversion_window={"amount": 2, "unit": "days"})
    chain(journey, journey.trigger(), send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "order_placed", "2026-03-04T10:00:01Z", total=10)
    assert world.log("ann", "converted") == []


def test_a_goal_that_does_not_exit_is_counted_and_the_run_goes_on(world):
    world.contacts(CONTACTS)
    journey = simple_journey(goal={"enabled": True, "event": "order_placed", "exits": False})
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 2, "unit": "hours"}})
    after = send_node(journey, subject="Still here")
    chain(journey, journey.trigger(), wait, after)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "order_placed", "2026-03-02T11:00:00Z", total=5)
    assert [r["action"] for r in world.log("ann", "goal")] == ["goal"]
    world.advance_to("2026-03-02T12:00:00Z")
    assert len(world.sent("ann")) == 1
    assert world.runs("ann")[0]["status"] == "completed"


def test_a_goal_that_exits_ends_the_run_converted(world):
    world.contacts(CONTACTS)
    journey = simple_journey(goal={"enabled": True, "event": "order_placed", "exits": True})
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 2, "unit": "hours"}})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "order_placed", "2026-03-02T11:00:00Z", total=5)
    world.advance_to("2026-03-03T00:00:00Z")
    [run] = world.runs("ann")
    assert (run["status"], run["exit_reason"]) == ("converted", "goal")
    assert world.messages("ann") == []


def test_the_frequency_cap_defers_across_two_journeys(world):
    world.contacts(CONTACTS)
    cap = {"enabled": True, "messages": 1, "hours": 24}
    first = simple_journey("Carts", frequency_cap=cap)
    chain(first, first.trigger(), send_node(first, subject="Cart"))
    second = simple_journey("Views", event="product_viewed", frequency_cap=cap)
    capped = send_node(second, subject="Still looking?")
    chain(second, second.trigger(), capped)
    world.install(first)
    world.install(second)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "product_viewed", "2026-03-02T15:00:00Z")
    assert len(world.sent("ann")) == 1
    [deferred] = world.log("ann", "deferred")
    assert deferred["reason"] == "frequency_cap" and deferred["node_id"] == capped.id
    world.advance_to("2026-03-03T09:59:59Z")
    assert len(world.sent("ann")) == 1
    world.advance_to("2026-03-03T10:00:00Z")             # 24 h after the first: the second goes, not dropped
    assert [m["subject"] for m in world.sent("ann")] == ["Cart", "Still looking?"]
    assert world.sent("ann")[1]["sent_at"] == t("2026-03-03T10:00:00Z")


def test_the_frequency_cap_counts_per_channel(world):
    world.contacts(CONTACTS)
    journey = simple_journey(frequency_cap={"enabled": True, "messages": 1, "hours": 24})
    chain(journey, journey.trigger(), send_node(journey, "email"), send_node(journey, "sms", subject="Hi"))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert sorted(m["channel"] for m in world.sent("ann")) == ["email", "sms"]
