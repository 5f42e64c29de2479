"""Review (issue 13): money strings in webhooks. One reading at the door and when applied: what the door
takes becomes the amount written, never another number ("1e3" is not 13, "0x10" not 10); a currency with
three decimals (Kuwaiti dinar) keeps them; thousands separators ("1,234.00") are read as written."""
from __future__ import annotations

import pytest

from .conftest import Receiver
from .fixtures import woocommerce as woo
from .fixtures.shopify import CHECKOUT, ORDER, fresh
from .shop import post_shopify, post_woo


@pytest.mark.parametrize("total", ["1e3", "0x10", "12abc", "1.2.3e4", "+-5", "$5", "5 USD", "inf", "١٢٣"])
def test_a_checkout_total_that_is_not_a_plain_amount_is_refused_naming_the_field(receiver: Receiver, total: str) -> None:
    with receiver.client() as http:
        answer = post_shopify(http, "checkouts/create", fresh(CHECKOUT, total_price=total))
    assert answer.status_code == 400, (total, answer.text)
    assert answer.json()["pointer"] == "/total_price"
    assert receiver.inbox() == 0


def test_a_line_item_price_in_exponent_form_is_refused_at_its_pointer(receiver: Receiver) -> None:
    lines = [dict(CHECKOUT["line_items"][0], price="1e2")]
    with receiver.client() as http:
        answer = post_shopify(http, "checkouts/create", fresh(CHECKOUT, line_items=lines))
    assert answer.status_code == 400 and answer.json()["pointer"] == "/line_items/0/price"


def test_a_woocommerce_total_in_exponent_form_is_refused(receiver: Receiver) -> None:
    with receiver.client() as http:
        answer = post_woo(http, "order.created", dict(woo.ORDER, total="2e1"))
    assert answer.status_code == 400 and answer.json()["pointer"] == "/total"


@pytest.mark.parametrize(("total", "currency", "expected"), [
    ("12.345", "KWD", 12.345), ("1,234.00", "USD", 1234.0), ("19.99", "EUR", 19.99), ("1000", "JPY", 1000.0),
    ("0.50", "USD", 0.5)])
def test_amounts_are_read_as_the_shop_wrote_them(receiver: Receiver, total: str, currency: str,
                                                 expected: float) -> None:
    with receiver.client() as http:
        assert post_shopify(http, "orders/create", fresh(ORDER, total_price=total, current_total_price=None, financial_status="paid",
                                                         currency=currency)).status_code == 200
    receiver.apply()
    [order] = receiver.events("order_placed")
    assert order.properties["total"] == pytest.approx(expected)
