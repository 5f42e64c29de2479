"""WooCommerce webhooks: signed with X-WC-Webhook-Signature; guest orders matched by email, never merged."""
from __future__ import annotations

from sqlalchemy import select

from app.store.tables import contacts

from .conftest import Receiver
from .fixtures.woocommerce import CUSTOMER, ORDER
from .shop import post_woo


def test_the_ping_when_a_webhook_is_saved_is_answered_and_stores_nothing(receiver: Receiver) -> None:
    with receiver.client() as http:
        answer = http.post("/hooks/woocommerce", content=b"webhook_id=7",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and receiver.inbox() == 0


def test_a_paid_order_is_one_order_placed_however_often_it_is_delivered_or_updated(receiver: Receiver) -> None:
    with receiver.client() as http:
        assert post_woo(http, "order.created", {**ORDER, "status": "pending"}).status_code == 200
        receiver.apply()
        assert receiver.events("order_placed") == []          # not paid yet: nothing
        post_woo(http, "order.updated", ORDER, delivery="d-1")
        post_woo(http, "order.updated", ORDER, delivery="d-1")   # WooCommerce retrying the same delivery
        post_woo(http, "order.updated", {**ORDER, "status": "completed"})
    receiver.apply()
    assert receiver.inbox() == 3
    [order] = receiver.events("order_placed")
    assert order.contact_id == "john.doe@example.com"
    assert order.properties["order_id"] == "727" and order.properties["total"] == 29.35
    assert [(i["name"], i["quantity"], i["price"]) for i in order.properties["items"]][0] == ("Woo Single #1", 2, 6.0)


def test_guest_orders_are_matched_by_email_and_never_merged_into_one_contact(receiver: Receiver) -> None:
    with receiver.client() as http:
        post_woo(http, "customer.created", CUSTOMER)
        receiver.apply()
        guests = [{**ORDER, "id": 800 + n, "number": str(800 + n), "customer_id": 0,
                   "billing": {**ORDER["billing"], "email": email, "phone": ""}}
                  for n, email in enumerate(["JOHN.DOE@example.com", "ann@example.com", "bea@example.com"])]
        for guest in guests:
            post_woo(http, "order.created", guest)
    receiver.apply()
    owners = sorted(e.contact_id for e in receiver.events("order_placed"))
    assert owners == ["ann@example.com", "bea@example.com", "john.doe@example.com"]   # the known one by email
    with receiver.db.connect() as conn:
        ids = set(conn.execute(select(contacts.c.id)).scalars())
    assert "0" not in ids and len(ids) == 3


def test_a_cancelled_or_refunded_order_starts_nothing(receiver: Receiver) -> None:
    with receiver.client() as http:
        for status in ("cancelled", "refunded", "failed", "checkout-draft"):
            post_woo(http, "order.updated", {**ORDER, "status": status})
    receiver.apply()
    assert receiver.events("order_placed") == [] and receiver.inbox("done") == 4
