"""Review (issue 13): an email longer than a contact id may be (200 characters; a valid address may have
254) never holds up the inbox: the webhooks after it are applied, and it is set aside with its reason.
PostgreSQL refuses the over-long id (SQLite keeps it), so this is about PostgreSQL above all."""
from __future__ import annotations

from sqlalchemy import select

from app.store.tables import intake_requests

from .conftest import Receiver
from .fixtures.shopify import CHECKOUT, fresh
from .shop import post_shopify

LONG = "a" * 60 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 40 + ".com"       # 227 characters, valid


def test_a_webhook_naming_an_over_long_email_does_not_hold_up_the_others(receiver: Receiver) -> None:
    with receiver.client() as http:
        alone = fresh(CHECKOUT, id=1, email=LONG, customer=None, billing_address=None, shipping_address=None)
        assert post_shopify(http, "checkouts/create", alone).status_code == 200
        assert post_shopify(http, "checkouts/create", fresh(CHECKOUT, id=2, email="ann@example.com")).status_code == 200
    receiver.apply()
    assert [e.contact_id for e in receiver.events("checkout_started")] == ["ann@example.com"]
    with receiver.db.connect() as conn:
        reasons = conn.execute(select(intake_requests.c.reason).where(intake_requests.c.status == "dead")).scalars().all()
    assert len(reasons) == 1 and "200 characters" in reasons[0]
    assert receiver.inbox("new") == 0


def test_an_over_long_email_with_a_phone_lands_on_the_phones_contact(receiver: Receiver) -> None:
    with receiver.client() as http:
        assert post_shopify(http, "checkouts/create", fresh(CHECKOUT, id=3, email=LONG, customer=None,
                                                            phone="+13125551212")).status_code == 200
    receiver.apply()
    assert [e.contact_id for e in receiver.events("checkout_started")] == ["+13125551212"]
