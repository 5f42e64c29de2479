"""Issue 13, "done when", through the receiver: `journeys serve` in a child process (SQLite file, a local
aiosmtpd server as the email channel, the checkout-recovery journey active, no app open) takes a signed
Shopify `checkouts/create` webhook; an hour later on the virtual clock ($JOURNEYS_TEST_CLOCK) the cart
email reaches the SMTP server. An `orders/create` during the wait exits that contact's run."""
from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from app.intake.signatures import shopify_signature

from ..delivery.smtp_servers import SmtpServer, smtp_plain_server  # noqa: F401 - fixture
from ..intake.fixtures.shopify import CHECKOUT, ORDER
from .children import Shop, arrived, wait_until

SECRET = "shpss_service_test_secret"


@pytest.fixture
def shop(tmp_path: Path, smtp_plain_server: SmtpServer) -> Iterator[Shop]:  # noqa: F811
    made = Shop(tmp_path, smtp_plain_server)
    made.env["JOURNEYS_SHOPIFY_WEBHOOK_SECRET"] = SECRET       # the receiver's signing secret (no keyring here)
    yield made
    made.close()


def _post(url: str, topic: str, body: dict[str, Any], secret: str = SECRET) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic,
               "X-Shopify-Hmac-Sha256": shopify_signature(secret, raw),
               "X-Shopify-Shop-Domain": "cornershop.myshopify.com", "X-Shopify-Webhook-Id": str(uuid.uuid4())}
    return httpx.post(f"{url}/hooks/shopify/{topic}", content=raw, headers=headers, timeout=30)


def _checkout(shop: Shop, name: str, number: int) -> dict[str, Any]:
    body = copy.deepcopy(CHECKOUT)
    body.update(id=number, token=f"tok-{name}", email=f"{name}@shop.example", customer=None,
                created_at=shop.now.isoformat(), updated_at=shop.now.isoformat(),
                abandoned_checkout_url=f"https://cornershop.example/cart/{name}",
                billing_address={"first_name": name.title(), "last_name": "Shopper", "country_code": "US"})
    return body


def _order(shop: Shop, name: str) -> dict[str, Any]:
    body = copy.deepcopy(ORDER)
    body.update(id=820982911946154600, name="#1001", email=f"{name}@shop.example", contact_email=None,
                financial_status="paid", customer=None, created_at=shop.now.isoformat(),
                updated_at=shop.now.isoformat())
    return body


def test_a_shopify_webhook_gets_its_cart_email_an_hour_later_and_an_order_webhook_exits_the_run(
        shop, smtp_plain_server):
    smtp = smtp_plain_server
    service = shop.serve()
    service.wait_for("Engine: running in this service")
    url = service.url
    assert _post(url, "checkouts/create", _checkout(shop, "ann", 1001)).status_code == 200
    assert _post(url, "checkouts/create", _checkout(shop, "bob", 1002)).status_code == 200
    assert _post(url, "checkouts/create", _checkout(shop, "cho", 1003), secret="wrong").status_code == 401
    wait_until(lambda: shop.run_status("ann") == ["active"] and shop.run_status("bob") == ["active"],
               lambda: f"the webhooks' runs (ann {shop.run_status('ann')}, bob {shop.run_status('bob')})")
    assert shop.run_status("cho") == []                         # a mis-signed webhook starts nothing
    shop.advance(minutes=30)
    assert _post(url, "orders/create", _order(shop, "bob")).status_code == 200
    wait_until(lambda: shop.run_status("bob") == ["exited"], lambda: f"bob's run exited ({shop.run_status('bob')})")
    assert arrived(smtp, "ann@shop.example") == []              # not before the hour
    shop.advance(minutes=31)
    mails = wait_until(lambda: arrived(smtp, "ann@shop.example"), "ann's reminder at the SMTP server")
    message = mails[0].message
    assert message["Subject"] == "Ann, your order is one step away"
    assert "https://cornershop.example/cart/ann" in message.get_body(("plain",)).get_content()
    assert arrived(smtp, "bob@shop.example") == []
    assert service.terminate() == 0
    assert [m["recipient"] for m in shop.messages()] == ["ann@shop.example"]


def test_without_listen_the_service_listens_where_the_receiver_settings_say(shop):
    from ..intake.conftest import free_port
    from .children import FAST, ServeChild

    port = free_port()
    shop.journeys("receiver", "set", "--listen", f"127.0.0.1:{port}")
    service = ServeChild(["--db", shop.url, "--log-file", str(shop.tmp / "service.jsonl"), *FAST], shop.env)
    shop.children.append(service)
    assert service.url == f"http://127.0.0.1:{port}"
    assert service.terminate() == 0


def test_the_poller_variant_a_polled_checkout_gets_its_cart_email_and_a_polled_order_exits_the_run(shop,
                                                                                               smtp_plain_server):
    """The same through the pull connector: `journeys serve` polls a local Shopify-shaped GraphQL server
    (no public URL, no webhook), on the shared virtual clock."""
    from app.connectors.store import get_connection, save_connection

    from ..connectors.fake_shopify import TOKEN, FakeShopify, checkout, order

    smtp = smtp_plain_server
    shop.env["JOURNEYS_SHOPIFY_TOKEN"] = TOKEN                # the service's secret on a headless machine
    with FakeShopify() as fake:
        cid = save_connection(shop.db, "shopify", fake.url, shop.now)
        service = shop.serve()
        service.wait_for("Engine: running in this service")
        wait_until(lambda: get_connection(shop.db, cid).phase == "live", "the first poll (the empty history)")
        placed = shop.now
        fake.checkouts += [checkout(1, "ann@shop.example", "42.50", placed,
                                    abandonedCheckoutUrl="https://cornershop.example/cart/ann"),
                           checkout(2, "bob@shop.example", "42.50", placed)]
        shop.advance(minutes=2)                                # the next poll is due
        wait_until(lambda: shop.run_status("ann") == ["active"] and shop.run_status("bob") == ["active"],
                   lambda: f"the polled checkouts' runs (ann {shop.run_status('ann')}, bob {shop.run_status('bob')})")
        shop.advance(minutes=28)
        fake.orders.append(order(2, "bob@shop.example", "42.50", shop.now))
        shop.advance(minutes=1)
        wait_until(lambda: shop.run_status("bob") == ["exited"], lambda: f"bob's run exited ({shop.run_status('bob')})")
        assert arrived(smtp, "ann@shop.example") == []
        shop.advance(minutes=31)
        mails = wait_until(lambda: arrived(smtp, "ann@shop.example"), "ann's reminder at the SMTP server")
        assert "https://cornershop.example/cart/ann" in mails[0].message.get_body(("plain",)).get_content()
        assert arrived(smtp, "bob@shop.example") == []
        assert service.terminate() == 0
