"""Shopify webhooks: signed, de-duplicated by X-Shopify-Webhook-Id, normalised to our events."""
from __future__ import annotations

from sqlalchemy import select

from app.store.tables import contact_channels, contacts, intake_requests

from .conftest import Receiver
from .fixtures.shopify import CHECKOUT, CUSTOMER, EMAIL_CONSENT, ORDER, SMS_CONSENT, fresh
from .shop import post_shopify


def test_checkouts_create_becomes_checkout_started_with_numbers_items_and_cart_url(receiver: Receiver) -> None:
    with receiver.client() as http:
        answer = post_shopify(http, "checkouts/create", CHECKOUT)
    assert answer.status_code == 200
    receiver.apply()
    [event] = receiver.events("checkout_started")
    assert event.contact_id == "example@email.com"
    props = event.properties
    assert props["total"] == 398.0 and isinstance(props["total"], float)
    assert props["cart_url"] == CHECKOUT["abandoned_checkout_url"]
    assert props["items"] == [
        {"name": "IPod Nano - 8GB", "quantity": 1, "price": 199.0, "sku": "IPOD2008PINK", "product_id": 632910392,
         "variant_id": 808950810},
        {"name": "IPod Nano - 8GB", "quantity": 2, "price": 99.5, "sku": "IPOD2008BLACK", "product_id": 632910393,
         "variant_id": 808950811}]
    assert props["currency"] == "USD" and "line_items" not in props and "abandoned_checkout_url" not in props
    with receiver.db.connect() as conn:
        who = conn.execute(select(contacts.c.email, contacts.c.first_name).where(
            contacts.c.id == "example@email.com")).one()
    assert who.email == "example@email.com" and who.first_name == "John"


def test_a_repeated_webhook_id_is_stored_once_and_updates_of_one_checkout_are_one_event(receiver: Receiver) -> None:
    with receiver.client() as http:
        for _ in range(3):      # Shopify retries a delivery with the same X-Shopify-Webhook-Id
            assert post_shopify(http, "checkouts/create", CHECKOUT, webhook_id="b54557e4-bdd9-4b37-8a5f").status_code == 200
        update = fresh(CHECKOUT, updated_at="2026-03-01T10:05:00-05:00", total_price="420.00")
        assert post_shopify(http, "checkouts/update", update).status_code == 200
    assert receiver.inbox() == 2
    receiver.apply()
    assert len(receiver.events("checkout_started")) == 1


def test_a_checkout_without_an_email_waits_in_the_dead_letters_until_an_update_names_one(receiver: Receiver) -> None:
    anonymous = fresh(CHECKOUT, email=None, customer=None, billing_address=None, token="t-anon")
    with receiver.client() as http:
        post_shopify(http, "checkouts/create", anonymous)
        receiver.apply()
        with receiver.db.connect() as conn:
            reason = conn.execute(select(intake_requests.c.reason).where(intake_requests.c.status == "dead")).scalar()
        assert "names no usable email or phone" in reason
        post_shopify(http, "checkouts/update", fresh(anonymous, email="late@example.com"))
    receiver.apply()
    assert [e.contact_id for e in receiver.events("checkout_started")] == ["late@example.com"]


def test_orders_create_and_orders_paid_are_one_order_placed_with_its_total(receiver: Receiver) -> None:
    with receiver.client() as http:
        post_shopify(http, "orders/create", ORDER)
        post_shopify(http, "orders/paid", fresh(ORDER, financial_status="paid"))
        post_shopify(http, "orders/create", fresh(ORDER, id=1, name="#10000", cancelled_at="2026-03-01T11:00:00Z"))
    receiver.apply()
    [order] = receiver.events("order_placed")
    assert order.contact_id == "jon@example.com"
    assert order.properties["order_id"] == "#9999" and order.properties["total"] == 403.0
    assert [i["name"] for i in order.properties["items"]] == ["Aviator sunglasses", "Mid-century lounger"]
    assert [i["price"] for i in order.properties["items"]] == [89.99, 159.99]


def _consent(receiver: Receiver, contact: str) -> dict[str, str]:
    with receiver.db.connect() as conn:
        return dict(conn.execute(select(contact_channels.c.channel, contact_channels.c.state)
                                 .where(contact_channels.c.contact_id == contact)).all())


def test_consent_topics_opt_out_at_once_and_never_loosen_an_opt_out(receiver: Receiver) -> None:
    with receiver.client() as http:
        post_shopify(http, "customers/create", CUSTOMER)
        receiver.apply()
        assert _consent(receiver, "bob@biller.com") == {"email": "subscribed"}
        post_shopify(http, "customers_email_marketing_consent/update", EMAIL_CONSENT)
        receiver.apply()
        assert _consent(receiver, "bob@biller.com")["email"] == "unsubscribed"
        # A later Shopify opt-in (customer update or consent topic) does not undo the opt-out.
        later = {"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2026-03-05T09:00:00Z"}
        post_shopify(http, "customers/update", fresh(CUSTOMER, email_marketing_consent=later))
        post_shopify(http, "customers_email_marketing_consent/update",
                     fresh(EMAIL_CONSENT, email_marketing_consent={**later, "consent_updated_at": "2026-03-06T09:00:00Z"}))
        receiver.apply()
    assert _consent(receiver, "bob@biller.com")["email"] == "unsubscribed"


def test_sms_consent_topic_finds_the_contact_by_phone(receiver: Receiver) -> None:
    with receiver.client() as http:
        post_shopify(http, "customers/create", CUSTOMER)
        receiver.apply()
        post_shopify(http, "customers_marketing_consent/update", SMS_CONSENT)
        receiver.apply()
    assert _consent(receiver, "bob@biller.com").get("sms") == "subscribed"
    with receiver.db.connect() as conn:
        assert conn.execute(select(contacts.c.phone).where(contacts.c.id == "bob@biller.com")).scalar() == "+13125551212"
