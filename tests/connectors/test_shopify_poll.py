"""Shopify's GraphQL Admin API polled: history on the first connection, pages, the cost-based rate
limit (THROTTLED, HTTP 429, a low bucket), live events that start journeys, consent that never loosens."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.connectors.store import get_connection, cursors_of
from app.engine.consent import set_by_hand
from app.examples import load_example
from app.store.tables import contact_channels, contacts, runs

from .fake_shopify import START, checkout, customer, hours, order
from .helpers import Sleeps, connect_shopify, poll_shopify, run_count, stored_events


def _contact(world, cid):
    with world.db.connect() as conn:
        return conn.execute(select(contacts).where(contacts.c.id == cid)).one()._mapping


def _consent(world, cid):
    with world.db.connect() as conn:
        return {r.channel: r.state for r in conn.execute(
            select(contact_channels).where(contact_channels.c.contact_id == cid))}


def test_the_first_poll_imports_the_shops_history_and_starts_nothing(world, shopify):
    world.install(load_example("checkout_recovery"))
    world.install(load_example("post_purchase"))
    world.clock.set(START + hours(30))
    shopify.orders += [order(1, "Ann@Example.com", "199.00", START), order(2, "bo@example.com", "20.50",
                                                                           START + hours(29))]
    shopify.customers += [customer(1, "ann@example.com", START, email_state="SUBSCRIBED", consent_at=START)]
    shopify.checkouts += [checkout(3, "cy@example.com", "25.00", START + hours(29, ))]
    cid = connect_shopify(world, shopify)
    report = poll_shopify(world, shopify, cid)
    assert report.error is None and report.history
    assert report.applied.stored == 3 and run_count(world.db) == 0          # history: nothing started
    ann = _contact(world, "ann@example.com")
    assert float(ann.lifetime_spend) == 199.0 and ann.order_count == 1 and ann.first_name == "Bob"
    assert _consent(world, "ann@example.com") == {"email": "subscribed"}
    found = {e["type"]: e for e in stored_events(world.db)}
    placed = [e for e in stored_events(world.db, "order_placed")]
    assert {e["properties"]["order_id"] for e in placed} == {"#1001", "#1002"}
    assert placed[0]["properties"]["total"] == 199.0 and placed[0]["properties"]["currency"] == "EUR"
    assert placed[0]["properties"]["items"] == [{"name": "IPod Nano - 8GB", "quantity": 1, "price": 199.0,
                                                 "sku": "SKU-1"}]
    started = found["checkout_started"]["properties"]
    assert started["cart_url"].endswith("/recover?key=k3") and started["total"] == 25.0
    assert started["items"][0] == {"name": "Blue mug", "quantity": 2, "price": 12.5, "sku": "SKU-1"}
    assert get_connection(world.db, cid).phase == "live"
    again = poll_shopify(world, shopify, cid)          # the overlap reads the newest again: changes nothing
    assert again.applied.stored == 0 and len(stored_events(world.db)) == 3


def test_every_page_is_read_once_and_the_cursor_follows_updated_at(world, shopify):
    shopify.orders += [order(n, f"c{n}@example.com", "10.00", START + timedelta(minutes=n)) for n in range(1, 61)]
    cid = connect_shopify(world, shopify)
    world.clock.set(START + hours(3))
    report = poll_shopify(world, shopify, cid)
    assert report.applied.stored == 60
    asked = [q for q in shopify.graphql if q["field"] == "orders"]
    assert [q["after"] is None for q in asked] == [True] + [False] * 5       # 6 pages of 10
    assert asked[0]["query"] is None                                           # history: everything
    cursor = cursors_of(world.db, cid)["orders"]
    assert cursor["after"] is None and cursor["high"] == "2026-11-02T10:00:00Z"
    assert cursor["since"] == "2026-11-02T09:55:00Z"                           # less the overlap
    shopify.orders.append(order(61, "new@example.com", "5.00", START + hours(2)))
    shopify.touch(shopify.orders[0], START + hours(2))                         # fulfilled: updated, same order
    report = poll_shopify(world, shopify, cid)
    asked = [q for q in shopify.graphql if q["field"] == "orders"]
    assert asked[-1]["query"] == "updated_at:>='2026-11-02T09:55:00Z'"
    assert report.applied.stored == 1 and len(stored_events(world.db, "order_placed")) == 61


def test_a_throttled_query_waits_for_the_bucket_and_asks_again(world, shopify):
    shopify.orders += [order(1, "ann@example.com", "10.00", START)]
    shopify.script = ["throttled"]
    shopify.available = 100.0
    sleeps = Sleeps()
    cid = connect_shopify(world, shopify)
    report = poll_shopify(world, shopify, cid, sleeps)
    assert report.error is None and report.applied.stored == 1
    # THROTTLED: (752 requested − 100 available) / 50 per second = 13.04 s; then the low bucket before
    # each following query: (900 − 100) / 50 = 16 s (the GraphQL limit is waited for, not run into).
    assert round(sleeps[0], 2) == 13.04 and 16.0 in sleeps


def test_http_429_waits_as_retry_after_says(world, shopify):
    shopify.orders += [order(1, "ann@example.com", "10.00", START)]
    shopify.script = ["429", "throttled429"]
    sleeps = Sleeps()
    cid = connect_shopify(world, shopify)
    report = poll_shopify(world, shopify, cid, sleeps)
    assert report.error is None and report.applied.stored == 1
    assert sleeps[0] == 2.0 and sleeps[1] >= 1.0


def test_a_shop_that_keeps_throttling_fails_the_poll_and_keeps_what_was_applied(world, shopify):
    shopify.customers += [customer(1, "ann@example.com", START)]
    shopify.orders += [order(1, "ann@example.com", "10.00", START)]
    cid = connect_shopify(world, shopify)
    sleeps = Sleeps()
    original = shopify.answer

    def throttle_orders(request):
        if "orders(" in (request.json or {}).get("query", ""):
            shopify.script.append("throttled")
        return original(request)
    shopify.answer = throttle_orders
    report = poll_shopify(world, shopify, cid, sleeps)
    assert report.error and "rate limit" in report.error
    connection = get_connection(world.db, cid)
    assert connection.failing and "rate limit" in connection.last_error and connection.phase == "history"
    assert "customers" in cursors_of(world.db, cid)            # the customers' page stays applied
    shopify.answer = original
    assert poll_shopify(world, shopify, cid).applied.stored == 1
    assert not get_connection(world.db, cid).failing


def test_a_wrong_token_is_refused_and_said(world, shopify):
    shopify.orders += [order(1, "ann@example.com", "10.00", START)]
    cid = connect_shopify(world, shopify)
    report = poll_shopify(world, shopify, cid, token="shpat_wrong")
    assert report.error and "refused the Admin API access token" in report.error
    assert stored_events(world.db) == [] and get_connection(world.db, cid).failing


def test_live_checkouts_start_the_journey_and_orders_count(world, shopify):
    world.install(load_example("checkout_recovery"))
    cid = connect_shopify(world, shopify)
    assert poll_shopify(world, shopify, cid).history           # an empty shop: history done at once
    world.clock.set(START + hours(1))
    shopify.checkouts.append(checkout(1, "ann@example.com", "25.00", START + hours(1)))
    report = poll_shopify(world, shopify, cid)
    assert not report.history and report.applied.stored == 1
    with world.db.connect() as conn:
        assert [(r.contact_id, r.status) for r in conn.execute(select(runs))] == [("ann@example.com", "active")]


def test_cancelled_refunded_and_completed_items_are_left_out(world, shopify):
    shopify.orders += [order(1, "a@example.com", "10.00", START, cancelledAt="2026-11-02T10:00:00Z"),
                       order(2, "b@example.com", "10.00", START, displayFinancialStatus="REFUNDED"),
                       order(3, "c@example.com", "10.00", START, displayFinancialStatus="VOIDED"),
                       order(4, "d@example.com", "10.00", START, displayFinancialStatus="PARTIALLY_REFUNDED",
                             currentTotalPriceSet={"shopMoney": {"amount": "4.00", "currencyCode": "EUR"}})]
    shopify.checkouts.append(checkout(5, "e@example.com", "9.00", START, completedAt="2026-11-02T09:30:00Z"))
    cid = connect_shopify(world, shopify)
    report = poll_shopify(world, shopify, cid)
    assert report.skipped == 4
    assert [(e["contact_id"], e["properties"]["total"]) for e in stored_events(world.db)] == [("d@example.com", 4.0)]


def test_shop_consent_never_loosens_an_opt_out(world, shopify):
    for who in ("out@example.com", "in@example.com"):
        world.contacts(f"id,email\n{who},{who}\n")
    set_by_hand(world.db, "out@example.com", "email", "unsubscribed", START - hours(1))
    set_by_hand(world.db, "in@example.com", "email", "subscribed", START - hours(48))
    shopify.customers += [
        customer(1, "out@example.com", START, email_state="SUBSCRIBED", consent_at=START),   # newer opt-in: no
        customer(2, "in@example.com", START, email_state="UNSUBSCRIBED", consent_at=START - hours(1)),
        customer(3, "new@example.com", START, email_state="SUBSCRIBED", sms_state="UNSUBSCRIBED", consent_at=START),
        customer(4, "old@example.com", START, email_state="UNSUBSCRIBED", consent_at=START - hours(99))]
    world.contacts("id,email\nold@example.com,old@example.com\n")
    set_by_hand(world.db, "old@example.com", "email", "subscribed", START - hours(2))       # ours is newer
    cid = connect_shopify(world, shopify)
    poll_shopify(world, shopify, cid)
    assert _consent(world, "out@example.com") == {"email": "unsubscribed"}
    assert _consent(world, "in@example.com") == {"email": "unsubscribed"}
    assert _consent(world, "new@example.com") == {"email": "subscribed", "sms": "unsubscribed"}
    assert _consent(world, "old@example.com") == {"email": "subscribed"}       # an older opt-out of theirs
    # and the shop's opt-in, an import's, gives way to any later opt-out of ours
    set_by_hand(world.db, "new@example.com", "email", "unsubscribed", START + hours(1))
    assert _consent(world, "new@example.com")["email"] == "unsubscribed"


def test_an_item_naming_nobody_is_a_note_and_the_page_goes_on(world, shopify):
    shopify.orders += [order(1, None, "10.00", START, billingAddress=None, phone=None),
                       order(2, "bo@example.com", "10.00", START)]
    cid = connect_shopify(world, shopify)
    report = poll_shopify(world, shopify, cid)
    assert report.applied.stored == 1
    assert any("Shopify order #1001 names no email or phone" in n for n in report.applied.notes)
