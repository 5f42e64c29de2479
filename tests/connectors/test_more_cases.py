"""Further cases of each class: pages of checkouts and customers, throttling that never ends on
WooCommerce, a WooCommerce poll dying between pages, history on a WooCommerce shop's first
connection, old orders seen live, and an order already imported from the shop's export file."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.connectors.poller import poll
from app.connectors.store import cursors_of, get_connection
from app.connectors.woocommerce import WooSource
from app.examples import load_example
from app.store.tables import contact_tags, contacts, runs

from .fake_shopify import START, checkout, customer, hours, order
from .fake_woo import KEY, SECRET, gmt, woo_order
from .helpers import Sleeps, connect_shopify, connect_woo, poll_shopify, poll_woo, run_count, stored_events

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_checkouts_and_customers_are_paged_too(world, shopify):
    shopify.checkouts += [checkout(n, f"c{n}@example.com", "5.00", START + timedelta(minutes=n)) for n in range(1, 56)]
    shopify.customers += [customer(n, f"p{n}@example.com", START + timedelta(seconds=n)) for n in range(1, 231)]
    cid = connect_shopify(world, shopify)
    report = poll_shopify(world, shopify, cid)
    assert report.by_resource["checkouts"].stored == 55 and report.by_resource["customers"].identified == 230
    fields = [q["field"] for q in shopify.graphql]
    assert fields.count("abandonedCheckouts") == 6 and fields.count("customers") == 3
    with world.db.connect() as conn:
        assert conn.execute(select(contact_tags.c.tag).where(contact_tags.c.contact_id == "p9@example.com")).scalar() \
            == "loyal"


def test_a_woocommerce_store_that_keeps_answering_429_fails_the_poll_until_next_time(world, woo):
    woo.orders.append(woo_order(1, "ann@example.com", "10.00", START))
    woo.script = ["429"] * 50
    sleeps = Sleeps()
    cid = connect_woo(world, woo)
    report = poll_woo(world, woo, cid, sleeps)
    assert report.error and "429" in report.error and len(sleeps) == 6 and all(s == 3.0 for s in sleeps)
    assert stored_events(world.db) == [] and get_connection(world.db, cid).failing
    woo.script = []
    assert poll_woo(world, woo, cid).applied.stored == 1


def test_shopify_server_errors_are_retried_a_few_times(world, shopify):
    shopify.orders.append(order(1, "ann@example.com", "10.00", START))
    shopify.script = ["500", "500"]
    sleeps = Sleeps()
    cid = connect_shopify(world, shopify)
    assert poll_shopify(world, shopify, cid, sleeps).applied.stored == 1 and sleeps[:2] == [2.0, 4.0]
    shopify.script = ["500", "500", "500"]
    report = poll_shopify(world, shopify, cid, sleeps)
    assert report.error and "HTTP 500 3 times in a row" in report.error


class _DiesAfter(WooSource):
    def __init__(self, *args, pages: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.left = pages

    def page(self, resource, cursor, now):
        if resource == "orders":
            if self.left == 0:
                raise KeyboardInterrupt          # Ctrl-C between two pages: not even an Exception
            self.left -= 1
        return super().page(resource, cursor, now)


def test_a_woocommerce_poll_stopped_between_pages_resumes_without_gaps_or_repeats(world, woo):
    woo.orders += [woo_order(n, f"c{n}@example.com", "10.00", START + timedelta(minutes=n)) for n in range(1, 241)]
    cid = connect_woo(world, woo)
    world.clock.set(START + hours(9))
    dying = _DiesAfter(woo.url, KEY, SECRET, sleep=Sleeps(), pages=1)
    with pytest.raises(KeyboardInterrupt):
        poll(world.engine, cid, source=dying)
    dying.close()
    assert len(stored_events(world.db)) == 100 and cursors_of(world.db, cid)["orders"]["after"] == "2026-11-02T10:40:00Z"
    assert poll_woo(world, woo, cid).applied.stored == 140
    keys = [e["idempotency_key"] for e in stored_events(world.db)]
    assert len(keys) == len(set(keys)) == 240


def test_a_woocommerce_stores_history_starts_nothing_then_new_orders_do(world, woo):
    world.install(load_example("post_purchase"))
    woo.orders += [woo_order(n, f"c{n}@example.com", "10.00", START + timedelta(minutes=n)) for n in range(1, 4)]
    world.clock.set(START + hours(1))
    cid = connect_woo(world, woo)              # connected after those orders: they are its history
    assert poll_woo(world, woo, cid).history and run_count(world.db) == 0
    with world.db.connect() as conn:
        assert conn.execute(select(contacts.c.order_count).where(contacts.c.id == "c1@example.com")).scalar() == 1
    woo.orders.append(woo_order(9, "new@example.com", "50.00", START + hours(1), customer_id=12))
    report = poll_woo(world, woo, cid)
    assert not report.history and report.applied.stored == 1
    with world.db.connect() as conn:
        assert list(conn.execute(select(runs.c.contact_id))) == [("new@example.com",)]


def test_an_old_order_first_seen_live_starts_nothing(world, shopify):
    world.install(load_example("post_purchase"))
    cid = connect_shopify(world, shopify)
    poll_shopify(world, shopify, cid)                                     # history: empty
    world.clock.set(START + hours(72))
    shopify.orders.append(order(1, "ann@example.com", "10.00", START, START + hours(72)))   # edited today
    report = poll_shopify(world, shopify, cid)
    assert report.applied.stored == 1 and run_count(world.db) == 0
    with world.db.connect() as conn:
        assert float(conn.execute(select(contacts.c.lifetime_spend)).scalar()) == 10.0


def test_an_order_imported_from_the_export_file_is_the_same_order_when_polled(world, shopify, any_url, capsys):
    assert main(["orders", "import", str(SAMPLES / "shopify_orders_export.csv"), "--db", any_url]) == 0
    capsys.readouterr()
    before = len(stored_events(world.db, "order_placed"))
    shopify.orders.append(order(1, "ada@example.com", "56.29", START))          # #1001, as in the file
    cid = connect_shopify(world, shopify)
    report = poll_shopify(world, shopify, cid)
    assert report.applied.stored == 0 and report.applied.duplicates == 1
    assert len(stored_events(world.db, "order_placed")) == before


def test_a_woocommerce_order_imported_from_the_export_file_is_not_counted_twice(world, woo, any_url, capsys):
    assert main(["orders", "import", str(SAMPLES / "woocommerce_orders_export.csv"), "--db", any_url]) == 0
    capsys.readouterr()
    woo.orders.append(woo_order(2041, "greta@example.de", "64.90", START, status="completed"))
    cid = connect_woo(world, woo)
    assert poll_woo(world, woo, cid).applied.duplicates == 1


def test_a_customer_known_only_by_phone_is_matched_by_phone(world, shopify):
    world.contacts("id,phone,first_name\nzed,+16135551212,Zed\n")
    node = customer(1, "x@example.com", START, defaultEmailAddress=None,
                    defaultPhoneNumber={"phoneNumber": "+1 613-555-1212"})
    shopify.customers.append(node)
    cid = connect_shopify(world, shopify)
    poll_shopify(world, shopify, cid)
    with world.db.connect() as conn:
        assert [tuple(r) for r in conn.execute(select(contacts.c.id, contacts.c.first_name))] == [("zed", "Bob")]


def test_a_woocommerce_order_modified_later_is_one_order(world, woo):
    woo.orders.append(woo_order(1, "ann@example.com", "10.00", START))
    cid = connect_woo(world, woo)
    poll_woo(world, woo, cid)
    world.clock.set(START + hours(2))
    woo.orders[0].update(status="completed", date_modified_gmt=gmt(START + hours(2)))
    assert poll_woo(world, woo, cid).applied.duplicates == 1 and len(stored_events(world.db)) == 1


def test_odd_fields_in_an_answer_are_read_as_absent_not_a_crash(world, shopify, woo):
    shopify.orders.append(order(1, "ann@example.com", "10.00", START, lineItems=[], customer="x",
                                currentTotalPriceSet=None, totalPriceSet={"shopMoney": None}, billingAddress=7))
    cid = connect_shopify(world, shopify)
    assert poll_shopify(world, shopify, cid).applied.stored == 1
    [event] = stored_events(world.db)
    assert event["properties"]["items"] == [] and event["properties"]["total"] == 0.0
    woo.orders.append(woo_order(5, "bo@example.com", "7.00", START, line_items={"oops": 1}, refunds=None,
                                billing={"email": "bo@example.com", "phone": 5, "first_name": None}))
    wid = connect_woo(world, woo)
    assert poll_woo(world, woo, wid).applied.stored == 1
