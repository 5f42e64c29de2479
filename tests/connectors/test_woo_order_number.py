"""A WooCommerce order is one order whether it comes from an export file, a webhook or a poll, also when a
sequential-numbers plugin makes its number differ from its id (post 5012 is order "1045"): all three key it
by its order number (export `order_number` / `Order Number`, REST and webhook `number`)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from app.engine.order_import import import_orders_file
from app.intake.apply import apply_pending
from tests.intake.conftest import start
from tests.intake.fixtures.woocommerce import ORDER as WOO_ORDER
from tests.intake.shop import post_woo

from .fake_shopify import START
from .fake_woo import woo_order
from .helpers import connect_woo, poll_woo, stored_events

POST_ID, NUMBER, EMAIL = 5012, "1045", "greta@example.de"
LOCAL = START.strftime("%Y-%m-%d %H:%M:%S")      # the business's zone is UTC here

# Each export extension's own header (resources/samples/README.md, "Orders and events"), one order.
WEBTOFFEE = ("order_id,order_number,order_date,status,order_total,order_currency,billing_email,line_item_1\n"
             "{id},{number},{at},completed,29.35,USD,{email},name:Hoodie|product_id:40|quantity:1|total:29.35\n")
SKYVERGE = ("order_id,order_number,order_date,status,order_total,refunded_total,order_currency,billing_email,"
            "line_items\n{id},{number},{at},processing,29.35,0.00,USD,{email},name:Hoodie|quantity:1|total:29.35\n")
ALGOLPLUS = ("Order Number,Order Status,Order Date,Email (Billing),Order Total Amount,Item Name,"
             "Quantity (- Refund),Item Cost\n{number},Completed,{at},{email},29.35,Hoodie,1,29.35\n")


@pytest.fixture
def receiver_url(world) -> Iterator[str]:
    server, thread, url = start(world.db)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def _import(tmp_path: Path, world, layout: str, number: str = NUMBER) -> tuple[Any, Any]:
    path = tmp_path / "orders.csv"
    path.write_text(layout.format(id=POST_ID, number=number, at=LOCAL, email=EMAIL), encoding="utf-8")
    return import_orders_file(world.engine, path)


def _export(world, tmp_path: Path, layout: str, number: str = NUMBER) -> None:
    report, found = _import(tmp_path, world, layout, number)
    assert not found.problems and report.done.stored >= 1


def _push(world, url: str, number: str = NUMBER) -> None:
    import httpx

    body: dict[str, Any] = dict(WOO_ORDER, id=POST_ID, number=number, date_created_gmt=LOCAL.replace(" ", "T"),
                                date_modified_gmt=LOCAL.replace(" ", "T"), status="processing",
                                billing=dict(WOO_ORDER["billing"], email=EMAIL))
    with httpx.Client(base_url=url, timeout=30) as http:
        assert post_woo(http, "order.created", body).status_code == 200
    apply_pending(world.engine)


def _poll(world, woo, cid: str, number: str = NUMBER) -> None:
    node = woo_order(POST_ID, EMAIL, "29.35", START)      # its id is the post's
    node["number"] = number
    woo.orders.append(node)
    world.clock.set(world.clock.now() + timedelta(minutes=2))
    assert poll_woo(world, woo, cid).error is None


def _orders(world) -> list[str]:
    return [e["properties"]["order_id"] for e in stored_events(world.db, "order_placed")]


def test_an_exported_then_pushed_then_polled_order_is_one_order_placed(world, woo, receiver_url, tmp_path):
    cid = connect_woo(world, woo)
    assert poll_woo(world, woo, cid).error is None          # the (empty) history: what follows is live
    _export(world, tmp_path, WEBTOFFEE)
    _push(world, receiver_url)
    _poll(world, woo, cid)
    assert _orders(world) == [NUMBER]
    [event] = stored_events(world.db, "order_placed")
    assert event["idempotency_key"] == f"order:{NUMBER}:order_placed"


@pytest.mark.parametrize("layout", [WEBTOFFEE, SKYVERGE, ALGOLPLUS], ids=["webtoffee", "skyverge", "algolplus"])
def test_each_export_layout_keys_the_order_as_its_webhook_and_poll_do(world, woo, receiver_url, tmp_path, layout):
    cid = connect_woo(world, woo)
    assert poll_woo(world, woo, cid).error is None
    _poll(world, woo, cid)                                   # the other way round: poll, webhook, then the file
    _push(world, receiver_url)
    report, found = _import(tmp_path, world, layout)
    assert not found.problems and report.done.stored == 0    # already there: the file adds nothing
    assert _orders(world) == [NUMBER]


def test_a_prefixed_order_number_is_the_key_everywhere(world, woo, receiver_url, tmp_path):
    """Sequential-numbers plugins may prefix the number ("WT-1045"); it is still the one key."""
    cid = connect_woo(world, woo)
    assert poll_woo(world, woo, cid).error is None
    _push(world, receiver_url, "WT-1045")
    _import(tmp_path, world, WEBTOFFEE, "WT-1045")
    _poll(world, woo, cid, "WT-1045")
    assert _orders(world) == ["WT-1045"]


def test_an_export_row_without_a_number_falls_back_to_the_id(world, tmp_path):
    report, found = _import(tmp_path, world, WEBTOFFEE, "")
    assert not found.problems and report.done.stored == 1
    assert _orders(world) == [str(POST_ID)]
