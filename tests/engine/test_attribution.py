"""A conversion is credited once: to the latest message the contact received, in any journey whose goal
the event meets, within that journey's conversion window (last touch). Goals stay per journey."""
from __future__ import annotations

from app.engine.ingest import EventIn
from app.engine.stats import journey_stats

from .helpers import CONTACTS, chain, send_node, simple_journey, t

GOAL = {"enabled": True, "event": "order_placed", "exits": False}


def two_journeys(world, first_channel: str = "email", second_channel: str = "sms", **second_settings):
    carts = simple_journey("Carts", goal=GOAL)
    cart_step = send_node(carts, first_channel, subject="Your cart")
    chain(carts, carts.trigger(), cart_step)
    views = simple_journey("Views", event="product_viewed", **{"goal": GOAL, **second_settings})
    view_step = send_node(views, second_channel, subject="Still looking?")
    chain(views, views.trigger(), view_step)
    world.contacts(CONTACTS)
    world.install(carts)
    world.install(views)
    return carts, cart_step, views, view_step


def totals(world, *journeys) -> tuple[int, float]:
    stats = [journey_stats(world.db, j.id) for j in journeys]
    return sum(s.converted for s in stats), round(sum(s.revenue for s in stats), 2)


def test_one_order_after_two_journeys_messages_is_credited_once_to_the_latest(world):
    """The issue's example: messages from two journeys, then one order of 60.00."""
    carts, cart_step, views, view_step = two_journeys(world)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "product_viewed", "2026-03-02T12:00:00Z")
    world.event("ann", "order_placed", "2026-03-02T14:00:00Z", order_id="O-1001", total=60.0)
    assert totals(world, carts, views) == (1, 60.0)
    view_stats, cart_stats = journey_stats(world.db, views.id), journey_stats(world.db, carts.id)
    assert (view_stats.nodes[view_step.id].converted, view_stats.nodes[view_step.id].revenue) == (1, 60.0)
    assert (cart_stats.nodes[cart_step.id].converted, cart_stats.converted) == (0, 0)
    [converted] = world.log("ann", "converted")
    assert (converted["journey_id"], converted["node_id"], float(converted["revenue"])) == (views.id, view_step.id, 60)
    assert (cart_stats.goals, view_stats.goals) == (1, 1)      # each journey's own goal was reached


def test_the_older_email_loses_to_the_newer_sms_whichever_journey_sent_it(world):
    carts, cart_step, views, view_step = two_journeys(world, first_channel="sms", second_channel="email")
    world.event("ann", "product_viewed", "2026-03-02T09:00:00Z")       # the email, in Views
    world.event("ann", "cart_abandoned", "2026-03-02T11:00:00Z")       # the SMS, in Carts: the latest
    world.event("ann", "order_placed", "2026-03-02T15:00:00Z", order_id="O-2", total=25.0)
    [converted] = world.log("ann", "converted")
    assert (converted["journey_id"], converted["node_id"]) == (carts.id, cart_step.id)
    assert totals(world, carts, views) == (1, 25.0)


def test_a_latest_message_outside_its_own_window_leaves_the_credit_to_an_earlier_one(world):
    carts, cart_step, views, _ = two_journeys(world, conversion_window={"amount": 1, "unit": "hours"})
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "product_viewed", "2026-03-02T12:00:00Z")       # window ends 13:00
    world.event("ann", "order_placed", "2026-03-02T14:00:00Z", order_id="O-3", total=10.0)
    [converted] = world.log("ann", "converted")
    assert (converted["journey_id"], converted["node_id"]) == (carts.id, cart_step.id)
    assert totals(world, carts, views) == (1, 10.0)


def test_a_journey_that_does_not_count_orders_takes_no_credit(world):
    carts, cart_step, views, _ = two_journeys(world, goal={"enabled": False, "event": "order_placed"})
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "product_viewed", "2026-03-02T12:00:00Z")
    world.event("ann", "order_placed", "2026-03-02T14:00:00Z", order_id="O-4", total=10.0)
    [converted] = world.log("ann", "converted")
    assert (converted["journey_id"], converted["node_id"]) == (carts.id, cart_step.id)


def test_a_failed_latest_message_is_not_a_touch(world):
    class SmsDown:
        def send(self, message):
            return "carrier unavailable" if message["channel"] == "sms" else None

    world.engine.channel = SmsDown()
    carts, cart_step, views, _ = two_journeys(world)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "product_viewed", "2026-03-02T12:00:00Z")        # the SMS fails
    world.event("ann", "order_placed", "2026-03-02T14:00:00Z", order_id="O-5", total=10.0)
    [converted] = world.log("ann", "converted")
    assert (converted["journey_id"], converted["node_id"]) == (carts.id, cart_step.id)
    assert totals(world, carts, views) == (1, 10.0)


def test_credit_is_once_when_everything_arrives_in_one_batch(world):
    """The messages are queued by the same batch as the order (not in SQL yet)."""
    carts, _, views, view_step = two_journeys(world)
    world.clock.set(t("2026-03-02T14:00:00Z"))
    world.engine.ingest([EventIn("ann", "cart_abandoned", t("2026-03-02T10:00:00Z")),
                         EventIn("ann", "product_viewed", t("2026-03-02T12:00:00Z")),
                         EventIn("ann", "order_placed", t("2026-03-02T14:00:00Z"), {"order_id": "O-6", "total": 60}),
                         EventIn("cho", "product_viewed", t("2026-03-02T09:00:00Z")),
                         EventIn("cho", "cart_abandoned", t("2026-03-02T11:00:00Z")),
                         EventIn("cho", "order_placed", t("2026-03-02T13:00:00Z"), {"order_id": "O-7", "total": 5})])
    credited = {(c["contact_id"], c["journey_id"]) for c in world.log(action="converted")}
    assert credited == {("ann", views.id), ("cho", carts.id)}
    assert totals(world, carts, views) == (2, 65.0)
    assert journey_stats(world.db, views.id).nodes[view_step.id].revenue == 60.0


def test_a_message_from_a_journey_paused_or_stopped_since_still_takes_the_last_touch(world):
    """Last touch is about what the contact received: pausing or stopping a journey afterwards does
    not hand its conversion to an older message of a journey still running."""
    carts, cart_step, views, view_step = two_journeys(world)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")       # Carts: the older email
    world.event("ann", "product_viewed", "2026-03-02T12:00:00Z")       # Views: the newer SMS
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("cho", "product_viewed", "2026-03-02T12:00:00Z")
    world.engine.pause(views.id)
    world.event("ann", "order_placed", "2026-03-02T14:00:00Z", order_id="O-7", total=30.0)
    [converted] = world.log("ann", "converted")
    assert (converted["journey_id"], converted["node_id"]) == (views.id, view_step.id)
    world.engine.stop(views.id)
    world.event("cho", "order_placed", "2026-03-02T15:00:00Z", order_id="O-8", total=20.0)
    [converted] = world.log("cho", "converted")
    assert (converted["journey_id"], converted["node_id"]) == (views.id, view_step.id)
    assert totals(world, carts, views) == (2, 50.0)
    assert journey_stats(world.db, carts.id).nodes[cart_step.id].converted == 0
