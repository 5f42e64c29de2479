"""A shop connected both ways — webhooks to the receiver (app/intake) and the pull connector's polls
(app/connectors) — counts each checkout and each order once, whichever arrives first: both key a
Shopify checkout by its numeric id (the GraphQL AbandonedCheckout has no token), an order by its
name (`#1001`), a WooCommerce order by its number."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterator

import pytest

from app.examples import load_example
from app.intake.apply import apply_pending
from tests.intake.conftest import start
from tests.intake.fixtures.shopify import CHECKOUT, ORDER, fresh
from tests.intake.fixtures.woocommerce import ORDER as WOO_ORDER
from tests.intake.shop import post_shopify, post_woo

from .fake_shopify import START, checkout, order, z
from .fake_woo import woo_order
from .helpers import connect_shopify, connect_woo, poll_shopify, poll_woo, run_count, stored_events

CHECKOUT_ID = 981820079255243537          # the webhook example's id; the poll sees gid://…/AbandonedCheckout/<id>


@pytest.fixture
def receiver_url(world) -> Iterator[str]:
    server, thread, url = start(world.db)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def _webhook_checkout(email: str = "ann@example.com") -> dict[str, Any]:
    return fresh(CHECKOUT, email=email, created_at=z(START), updated_at=z(START), customer=None)


def _polled_checkout(email: str = "ann@example.com") -> dict[str, Any]:
    node = checkout(1, email, "398.00", START)
    node["id"] = f"gid://shopify/AbandonedCheckout/{CHECKOUT_ID}"
    return node


def _push(world, url: str, topic: str, body: dict[str, Any]) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=30) as http:
        assert post_shopify(http, topic, body).status_code == 200
    apply_pending(world.engine)


def _go_live(world, shopify) -> str:
    """Connects the shop and polls its (empty) history, so what comes next is live."""
    cid = connect_shopify(world, shopify)
    assert poll_shopify(world, shopify, cid).error is None
    return cid


def test_a_checkout_pushed_then_polled_is_one_event_and_one_run(world, shopify, receiver_url):
    world.install(load_example("checkout_recovery"))
    cid = _go_live(world, shopify)
    _push(world, receiver_url, "checkouts/create", _webhook_checkout())
    world.engine.tick(world.clock.now())
    assert run_count(world.db) == 1
    shopify.checkouts.append(_polled_checkout())
    world.clock.set(START + timedelta(minutes=2))
    assert poll_shopify(world, shopify, cid).error is None
    world.engine.tick(world.clock.now())
    [event] = stored_events(world.db, "checkout_started")
    assert event["idempotency_key"].endswith(f"shopify:checkout:{CHECKOUT_ID}")
    assert event["properties"]["checkout_id"] == str(CHECKOUT_ID)
    assert run_count(world.db) == 1


def test_a_checkout_polled_then_pushed_is_one_event_and_one_run(world, shopify, receiver_url):
    world.install(load_example("checkout_recovery"))
    cid = _go_live(world, shopify)
    shopify.checkouts.append(_polled_checkout())
    assert poll_shopify(world, shopify, cid).error is None
    world.engine.tick(world.clock.now())
    _push(world, receiver_url, "checkouts/update", _webhook_checkout())
    world.engine.tick(world.clock.now())
    assert len(stored_events(world.db, "checkout_started")) == 1
    assert run_count(world.db) == 1


def test_an_order_pushed_and_polled_either_way_is_one_order(world, shopify, receiver_url):
    cid = _go_live(world, shopify)
    pushed = fresh(ORDER, name="#1001", financial_status="paid", created_at=z(START), updated_at=z(START))
    _push(world, receiver_url, "orders/create", pushed)
    shopify.orders.append(order(1, "jon@example.com", "403.00", START))           # named "#1001"
    assert poll_shopify(world, shopify, cid).error is None
    _push(world, receiver_url, "orders/paid", fresh(pushed, updated_at=z(START + timedelta(minutes=1))))
    shopify.orders.append(order(2, "jon@example.com", "20.00", START))            # "#1002": polled first
    world.clock.set(START + timedelta(minutes=10))
    assert poll_shopify(world, shopify, cid).error is None
    _push(world, receiver_url, "orders/create", fresh(pushed, id=820982911946154509, name="#1002"))
    placed = stored_events(world.db, "order_placed")
    assert sorted(e["properties"]["order_id"] for e in placed) == ["#1001", "#1002"]


def test_a_woocommerce_order_pushed_and_polled_is_one_order(world, woo, receiver_url):
    import httpx

    cid = connect_woo(world, woo)
    assert poll_woo(world, woo, cid).error is None
    body = fresh(WOO_ORDER, date_created_gmt=z(START)[:-1], date_modified_gmt=z(START)[:-1], status="processing")
    with httpx.Client(base_url=receiver_url, timeout=30) as http:
        assert post_woo(http, "order.created", body).status_code == 200
    apply_pending(world.engine)
    email = body["billing"]["email"]
    woo.orders.append(woo_order(int(body["id"]), email, str(body["total"]), START))
    world.clock.set(START + timedelta(minutes=2))
    assert poll_woo(world, woo, cid).error is None
    placed = stored_events(world.db, "order_placed")
    assert [e["properties"]["order_id"] for e in placed] == [str(body["number"])]


def test_a_voided_order_is_left_out_pushed_or_polled_until_it_is_paid(world, shopify, receiver_url):
    cid = _go_live(world, shopify)
    voided = fresh(ORDER, name="#1001", financial_status="voided", created_at=z(START), updated_at=z(START))
    _push(world, receiver_url, "orders/create", voided)
    shopify.orders.append(order(1, "jon@example.com", "403.00", START, displayFinancialStatus="VOIDED"))
    assert poll_shopify(world, shopify, cid).error is None
    for status in ("expired", "refunded"):
        _push(world, receiver_url, "orders/paid", fresh(voided, financial_status=status))
    assert stored_events(world.db, "order_placed") == []
    _push(world, receiver_url, "orders/paid", fresh(voided, financial_status="paid"))
    assert [e["properties"]["order_id"] for e in stored_events(world.db, "order_placed")] == ["#1001"]
