"""Review (issue 13): Shopify names each delivery's topic in X-Shopify-Topic. A shop owner who pasted one
URL for several webhooks (".../hooks/shopify/orders/create" for "Checkout creation" too) must not have
abandoned checkouts counted as orders (an order ends the cart reminder and counts revenue)."""
from __future__ import annotations

import json

from app.intake.signatures import shopify_signature

from .conftest import SECRETS, Receiver
from .fixtures.shopify import CHECKOUT, ORDER, fresh


def _post(http, path_topic: str, header_topic: str, body: dict) -> int:  # type: ignore[no-untyped-def]
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": header_topic,
               "X-Shopify-Hmac-Sha256": shopify_signature(SECRETS["shopify_webhook_secret"], raw),
               "X-Shopify-Webhook-Id": f"{header_topic}-{body.get('id')}"}
    return int(http.post(f"/hooks/shopify/{path_topic}", content=raw, headers=headers).status_code)


def test_the_topic_shopify_names_in_its_header_wins_over_the_url(receiver: Receiver) -> None:
    with receiver.client() as http:
        assert _post(http, "orders/create", "checkouts/create", CHECKOUT) == 200
        assert _post(http, "checkouts/create", "orders/create", fresh(ORDER, financial_status="paid")) == 200
    receiver.apply()
    assert [e.contact_id for e in receiver.events("checkout_started")] == ["example@email.com"]
    assert [e.properties["order_id"] for e in receiver.events("order_placed")] == ["#9999"]


def test_a_header_topic_the_receiver_does_not_take_is_refused(receiver: Receiver) -> None:
    with receiver.client() as http:
        assert _post(http, "orders/create", "products/create", {"id": 1}) == 404
    assert receiver.inbox() == 0
