"""WooCommerce's REST API v3 polled: pages by `modified_after`, an order modified mid-poll, 429,
statuses left out, guest orders matched by email and never merged, customers walked."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.connectors.store import cursors_of, get_connection
from app.store.tables import contacts

from .fake_shopify import START, hours
from .fake_woo import gmt, woo_customer, woo_order
from .helpers import Sleeps, connect_woo, poll_woo, run_count, stored_events


def test_every_page_of_orders_is_read_once(world, woo):
    woo.orders += [woo_order(n, f"c{n}@example.com", "10.00", START + timedelta(minutes=n)) for n in range(1, 251)]
    cid = connect_woo(world, woo)
    world.clock.set(START + hours(9))
    report = poll_woo(world, woo, cid)
    assert report.error is None and report.applied.stored == 250 and run_count(world.db) == 0
    asked = [r.query for r in woo.requests if r.path.endswith("/orders")]
    assert "modified_after" not in asked[0] and asked[0]["orderby"] == "modified" and asked[0]["order"] == "asc"
    # each page starts at the newest order of the one before, less a second (read again: no-op)
    assert [q.get("modified_after") for q in asked[1:]] == ["2026-11-02T10:39:59", "2026-11-02T12:18:59"]
    assert cursors_of(world.db, cid)["orders"] == {"after": "2026-11-02T13:10:00Z", "page": 1}
    woo.orders.append(woo_order(251, "new@example.com", "3.00", START + hours(5)))
    assert poll_woo(world, woo, cid).applied.stored == 1
    assert len(stored_events(world.db, "order_placed")) == 251


def test_an_order_modified_while_the_poll_runs_pushes_no_other_out_of_its_page(world, woo):
    woo.orders += [woo_order(n, f"c{n}@example.com", "10.00", START + timedelta(minutes=n)) for n in range(1, 201)]
    cid = connect_woo(world, woo)
    world.clock.set(START + hours(9))
    seen = []

    def modify_after_first_page(request):
        if request.path.endswith("/orders"):
            seen.append(request.query)
            if len(seen) == 2:         # between page 1 and 2: order 5 is completed, moves to the end
                woo.orders[4]["date_modified_gmt"] = gmt(START + hours(8))
                woo.orders[4]["status"] = "completed"
    woo.on_request = modify_after_first_page
    report = poll_woo(world, woo, cid)
    assert report.applied.stored == 200                 # page numbers would have skipped order 101
    assert len(stored_events(world.db, "order_placed")) == 200


def test_more_orders_in_one_second_than_a_page_go_to_the_next_page(world, woo):
    same = START + hours(1)
    woo.orders += [woo_order(n, f"c{n}@example.com", "10.00", same) for n in range(1, 151)]
    cid = connect_woo(world, woo)
    poll_woo(world, woo, cid)
    woo.orders += [woo_order(n, f"c{n}@example.com", "10.00", same + timedelta(seconds=1)) for n in range(151, 161)]
    report = poll_woo(world, woo, cid)
    assert report.applied.stored == 10 and len(stored_events(world.db, "order_placed")) == 160


def test_429_waits_as_retry_after_says(world, woo):
    woo.orders.append(woo_order(1, "ann@example.com", "10.00", START))
    woo.script = ["429", "500"]
    sleeps = Sleeps()
    cid = connect_woo(world, woo)
    report = poll_woo(world, woo, cid, sleeps)
    assert report.error is None and report.applied.stored == 1 and sleeps[:2] == [3.0, 2.0]


def test_wrong_keys_are_refused_and_said(world, woo):
    woo.secret = "cs_other"
    cid = connect_woo(world, woo)
    report = poll_woo(world, woo, cid)
    assert "refused the REST API keys (HTTP 401: woocommerce_rest_cannot_view" in report.error
    assert get_connection(world.db, cid).failing


def test_unpaid_and_undone_orders_wait_and_partly_refunded_ones_count_what_was_kept(world, woo):
    woo.orders += [woo_order(1, "a@example.com", "10.00", START, status="pending"),
                   woo_order(2, "b@example.com", "10.00", START, status="cancelled"),
                   woo_order(3, "c@example.com", "10.00", START, status="failed"),
                   woo_order(4, "d@example.com", "10.00", START, refunds=[{"id": 1, "reason": "", "total": "-10.00"}]),
                   woo_order(5, "e@example.com", "30.00", START, status="completed",
                             refunds=[{"id": 2, "reason": "", "total": "-5.50"}])]
    cid = connect_woo(world, woo)
    report = poll_woo(world, woo, cid)
    assert report.skipped == 4
    assert [(e["contact_id"], e["properties"]["total"]) for e in stored_events(world.db)] == [("e@example.com", 24.5)]
    world.clock.set(START + hours(1))
    woo.orders[0]["status"] = "processing"             # paid now: it comes in
    woo.orders[0]["date_modified_gmt"] = gmt(START + hours(1))
    assert poll_woo(world, woo, cid).applied.stored == 1


def test_guest_orders_are_matched_by_email_and_never_merged(world, woo):
    world.contacts("id,email,first_name,phone\nann,Ann@Example.com,Ann,+14155552671\n")
    woo.orders += [woo_order(1, "ann@example.com", "10.00", START, customer_id=0),
                   woo_order(2, "ANN@example.com", "12.00", START + hours(1), customer_id=0),
                   woo_order(3, "zoe@example.com", "7.00", START + hours(1), customer_id=0)]
    for o in woo.orders:            # guests sharing a name and a phone are still two people
        o["billing"].update(first_name="John", phone="(415) 555-2671")
    cid = connect_woo(world, woo)
    poll_woo(world, woo, cid)
    assert [e["contact_id"] for e in stored_events(world.db)] == ["ann", "ann", "zoe@example.com"]


def test_customers_are_walked_by_id_and_only_changed_ones_applied(world, woo):
    woo.customers += [woo_customer(n, f"c{n}@example.com", START + timedelta(minutes=n)) for n in range(1, 131)]
    cid = connect_woo(world, woo)
    world.clock.set(START + hours(3))
    report = poll_woo(world, woo, cid)
    assert report.applied.identified == 130
    with world.db.connect() as conn:
        row = conn.execute(select(contacts).where(contacts.c.id == "c7@example.com")).one()
    assert (row.first_name, row.last_name, row.phone) == ("John", "Doe", "+14155552671")
    assert row.attributes["woocommerce_customer_id"] == "7"
    asked = [r for r in woo.requests if r.path.endswith("/customers")]
    assert [r.query["page"] for r in asked] == ["1", "2"] and asked[0].query["orderby"] == "id"
    world.clock.set(START + hours(3, ) + timedelta(minutes=5))
    poll_woo(world, woo, cid)                      # walked 5 minutes ago: not again yet
    assert len([r for r in woo.requests if r.path.endswith("/customers")]) == 2
    woo.customers[2]["date_modified_gmt"] = gmt(START + hours(3))
    woo.customers[2]["first_name"] = "Jo"
    world.clock.set(START + hours(4))
    report = poll_woo(world, woo, cid)
    # the changed one, and the newest of the last walk once more (its second is read again: no harm)
    assert report.applied.identified == 2
    with world.db.connect() as conn:
        assert conn.execute(select(contacts.c.first_name).where(contacts.c.id == "c3@example.com")).scalar() == "Jo"
