"""`journeys orders import`: Shopify and WooCommerce order exports as downloaded (resources/samples/),
each order once, customers' spend, counts and last orders right, past orders setting nothing off."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app.cli import main
from app.engine.simulator import install_journey
from app.store.app_settings import set_business_timezone
from app.store.db import open_database
from app.store.tables import contacts, events, messages, run_log, runs

from .helpers import chain, send_node, simple_journey

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
SHOPIFY = SAMPLES / "shopify_orders_export.csv"
WOO = SAMPLES / "woocommerce_orders_export.csv"


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _contacts(url: str) -> dict[str, dict[str, Any]]:
    db = open_database(url)
    try:
        with db.connect() as conn:
            return {r.id: dict(r._mapping) for r in conn.execute(select(contacts))}
    finally:
        db.dispose()


def _orders(url: str) -> dict[str, dict[str, Any]]:
    db = open_database(url)
    try:
        with db.connect() as conn:
            rows = conn.execute(select(events).where(events.c.type == "order_placed")).all()
        return {r.properties["order_id"]: {**r.properties, "contact": r.contact_id, "at": r.occurred_at} for r in rows}
    finally:
        db.dispose()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


# --- Shopify: the example of the issue -----------------------------------------------------------

def test_a_shopify_order_export_imports_as_downloaded(any_url, capsys):
    code, out, _ = _run(capsys, "orders", "import", str(SHOPIFY), "--db", any_url)
    assert code == 0
    assert "4 new, 0 already present" in out and "2 order(s) skipped" in out
    assert "order #1003 was cancelled; skipped" in out and "order #1004 is refunded; skipped" in out
    people = _contacts(any_url)
    ada = people["ada@example.com"]
    # Two orders, grouped from three line-item rows; money read from strings as numbers.
    assert (float(ada["lifetime_spend"]), ada["order_count"]) == (81.73, 2)
    assert ada["last_order_at"] == _utc("2026-10-12T16:40:00-04:00")
    assert ada["phone"] == "+12015550123"          # Shopify's leading apostrophe dropped, E.164
    assert (ada["first_name"], ada["last_name"]) == ("Ada", "Example")
    # A partly refunded order counts what was kept; the customer's email was written "Dora@Example.com".
    assert float(people["dora@example.com"]["lifetime_spend"]) == 60.0
    # No email: known by the phone, a national US number; "$1,234.50" is 1234.5.
    assert float(people["+14155550132"]["lifetime_spend"]) == 1234.5
    assert "bea@example.org" not in people and "carl@example.net" not in people
    orders = _orders(any_url)
    assert sorted(orders) == ["#1001", "#1002", "#1005", "#1006"]
    first = orders["#1001"]
    assert (first["total"], first["currency"], first["contact"]) == (56.29, "USD", "ada@example.com")
    assert first["items"] == [{"name": "Botanical Fern Print", "sku": "FERN-1", "quantity": 2, "price": 16.0},
                              {"name": "Walnut Frame", "sku": "FRAME-W", "quantity": 1, "price": 15.0}]
    assert first["at"] == _utc("2026-09-03T10:14:00-04:00")


def test_the_same_export_twice_changes_nothing_the_second_time(any_url, capsys):
    assert _run(capsys, "orders", "import", str(SHOPIFY), "--db", any_url)[0] == 0
    once = _contacts(any_url)
    code, out, _ = _run(capsys, "orders", "import", str(SHOPIFY), "--db", any_url)
    assert code == 0 and "0 new, 4 already present" in out
    assert _contacts(any_url) == once          # spend, counts and even updated_at untouched


def test_orders_go_to_the_contact_known_by_email_or_phone_whatever_their_id(db_url, capsys):
    db = open_database(db_url)
    now = datetime.now(timezone.utc)
    with db.begin() as conn:
        conn.execute(contacts.insert(), [
            {"id": "cust-7", "email": "ADA@example.com", "phone": None, "attributes": {}, "created_at": now,
             "updated_at": now},
            {"id": "cust-9", "email": None, "phone": "+14155550132", "attributes": {}, "created_at": now,
             "updated_at": now}])
    db.dispose()
    assert _run(capsys, "orders", "import", str(SHOPIFY), "--db", db_url)[0] == 0
    people = _contacts(db_url)
    assert (float(people["cust-7"]["lifetime_spend"]), people["cust-7"]["order_count"]) == (81.73, 2)
    assert float(people["cust-9"]["lifetime_spend"]) == 1234.5
    assert "ada@example.com" not in people and "+14155550132" not in people
    assert sorted(people) == ["cust-7", "cust-9", "dora@example.com"]


def test_a_baseline_from_a_customer_export_is_not_counted_twice(db_url, capsys):
    """A Shopify customer export's "Total Spent" already holds these orders: the order history agrees
    with it rather than adding to it; a baseline that knew fewer orders is raised to the orders'."""
    db = open_database(db_url)
    now = datetime.now(timezone.utc)
    with db.begin() as conn:
        conn.execute(contacts.insert().values(attributes={}, created_at=now, updated_at=now), [
            {"id": "ada@example.com", "email": "ada@example.com", "phone": None, "lifetime_spend": 81.73,
             "order_count": 2, "last_order_at": _utc("2026-10-12T16:40:00-04:00")},
            {"id": "dora@example.com", "email": "dora@example.com", "phone": None, "lifetime_spend": 500,
             "order_count": 7, "last_order_at": None},
            {"id": "+14155550132", "email": None, "phone": "+14155550132", "lifetime_spend": 10,
             "order_count": 0, "last_order_at": None}])
    db.dispose()
    assert _run(capsys, "orders", "import", str(SHOPIFY), "--db", db_url)[0] == 0
    people = _contacts(db_url)
    assert (float(people["ada@example.com"]["lifetime_spend"]), people["ada@example.com"]["order_count"]) == (81.73, 2)
    dora = people["dora@example.com"]          # orders before the export's window: the baseline stands
    assert (float(dora["lifetime_spend"]), dora["order_count"]) == (500.0, 7)
    assert dora["last_order_at"] == _utc("2026-10-28T18:25:00-04:00")
    eli = people["+14155550132"]
    assert (float(eli["lifetime_spend"]), eli["order_count"]) == (1234.5, 1)


# --- WooCommerce ------------------------------------------------------------------------------------

def test_a_woocommerce_order_export_imports_as_downloaded(any_url, capsys):
    db = open_database(any_url)
    set_business_timezone(db, "Europe/Berlin")      # WooCommerce writes the shop's local time
    db.dispose()
    code, out, _ = _run(capsys, "orders", "import", str(WOO), "--db", any_url)
    assert code == 0
    assert "3 new, 0 already present" in out and "3 order(s) skipped" in out
    for skipped in ("order 2043 was cancelled", "order 2044 was refunded in full", "order 2046 failed"):
        assert skipped in out
    people = _contacts(any_url)
    greta = people["greta@example.de"]
    assert (float(greta["lifetime_spend"]), greta["order_count"]) == (82.9, 2)
    assert greta["phone"] == "+4915123456789"        # a national number read with the billing country
    assert greta["last_order_at"] == _utc("2026-09-01T14:05:40+02:00")
    assert float(people["jo@example.ch"]["lifetime_spend"]) == 75.0     # 100.00 less a 25.00 refund
    orders = _orders(any_url)
    assert sorted(orders) == ["2041", "2042", "2045"]
    assert orders["2041"]["items"] == [
        {"name": "Hoodie", "product_id": "40", "sku": "woo-hoodie", "quantity": 1, "total": 45.0},
        {"name": "Beanie", "product_id": "41", "sku": "woo-beanie", "quantity": 1, "total": 14.9}]
    assert orders["2041"]["currency"] == "EUR"
    code, out, _ = _run(capsys, "orders", "import", str(WOO), "--db", any_url)
    assert code == 0 and "0 new, 3 already present" in out and _contacts(any_url) == people


def _write(path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerows(rows)
    path.write_text(text.getvalue(), encoding=encoding, newline="")
    return path


SKYVERGE = ["order_id", "order_number", "order_date", "status", "order_total", "refunded_total", "order_currency",
            "billing_first_name", "billing_last_name", "billing_email", "billing_phone", "billing_country", "line_items"]


def test_skyverge_s_layout_and_european_excel_money(db_url, tmp_path, capsys):
    """SkyVerge's "Customer / Order / Coupon Export" (items in one `line_items` cell separated by `;`),
    saved by a European Excel: `;` between columns, Windows-1252, amounts as `1.234,50 €`."""
    file = _write(tmp_path / "orders.csv", [
        SKYVERGE,
        ["7001", "7001", "2026-05-04 10:00:00", "completed", "1.234,50 €", "0,00", "EUR", "Zoë", "Müller",
         "zoe@example.de", "", "DE",
         "id:1|name:Sofa|product_id:9|sku:SOFA|quantity:1|subtotal:1234.50|total:1234.50"
         ";id:2|name:Kissen|product_id:10|sku:K|quantity:2|subtotal:0.00|total:0.00"],
        ["7002", "7002", "2026-05-05 11:00:00", "wc-processing", "€ 20,00", "5,00", "EUR", "Zoë", "Müller",
         "zoe@example.de", "", "DE", "name:Tee|quantity:1|total:20.00"],
        ["7003", "7003", "2026-05-06 12:00:00", "refunded", "30,00", "30,00", "EUR", "Ulf", "U", "ulf@example.de", "",
         "DE", "name:Tee|quantity:1|total:30.00"],
    ], delimiter=";", encoding="cp1252")
    code, out, _ = _run(capsys, "orders", "import", str(file), "--db", db_url)
    assert code == 0 and "2 new" in out
    zoe = _contacts(db_url)["zoe@example.de"]
    assert (float(zoe["lifetime_spend"]), zoe["order_count"]) == (1249.5, 2)
    assert (zoe["first_name"], zoe["last_name"]) == ("Zoë", "Müller")
    assert [i["name"] for i in _orders(db_url)["7001"]["items"]] == ["Sofa", "Kissen"]


ALGOLPLUS = ["Order Number", "Order Status", "Order Date", "Customer Note", "First Name (Billing)",
             "Last Name (Billing)", "Country Code (Billing)", "Email (Billing)", "Phone (Billing)",
             "Order Refund Amount", "Order Total Amount", "SKU", "Item #", "Item Name", "Quantity (- Refund)",
             "Item Cost"]


def test_advanced_order_export_s_layout_one_row_per_item(db_url, tmp_path, capsys):
    """AlgolPlus's "Advanced Order Export For WooCommerce": readable headers, status labels, one row per item."""
    file = _write(tmp_path / "orders-2026.csv", [
        ALGOLPLUS,
        ["3001", "Completed", "2026-04-01 09:00", "", "Lea", "Lang", "FR", "lea@example.fr", "06 12 34 56 78", "0",
         "49.80", "MUG", "1", "Mug", "2", "12.45"],
        ["3001", "Completed", "2026-04-01 09:00", "", "Lea", "Lang", "FR", "lea@example.fr", "06 12 34 56 78", "0",
         "49.80", "TEA", "2", "Tea", "1", "24.90"],
        ["3002", "Pending payment", "2026-04-02 10:00", "", "Lea", "Lang", "FR", "lea@example.fr", "", "0", "10.00",
         "MUG", "1", "Mug", "1", "10.00"],
        ["3003", "On hold", "2026-04-03 10:00", "", "Max", "Mo", "FR", "max@example.fr", "", "0", "10.00", "MUG", "1",
         "Mug", "1", "10.00"],
    ])
    code, out, _ = _run(capsys, "orders", "import", str(file), "--db", db_url)
    assert code == 0 and "2 new" in out and "order 3002 is pending payment" in out
    lea = _contacts(db_url)["lea@example.fr"]
    assert (float(lea["lifetime_spend"]), lea["order_count"], lea["phone"]) == (49.8, 1, "+33612345678")
    assert _orders(db_url)["3001"]["items"] == [{"name": "Mug", "sku": "MUG", "quantity": 2, "price": 12.45},
                                                {"name": "Tea", "sku": "TEA", "quantity": 1, "price": 24.9}]


# --- Rows as Shopify groups them, and bad rows ---------------------------------------------------------

SHOPIFY_HEAD = ["Name", "Email", "Financial Status", "Currency", "Total", "Created at", "Lineitem quantity",
                "Lineitem name", "Lineitem price", "Cancelled at", "Refunded Amount", "Billing Country", "Phone"]


def test_bad_rows_are_reported_by_line_and_the_rest_imported(db_url, tmp_path, capsys):
    file = _write(tmp_path / "orders_export.csv", [
        SHOPIFY_HEAD,
        ["#1", "a@example.com", "paid", "USD", "10.00", "2026-01-02 10:00:00 +0000", "1", "A", "10.00", "", "0", "", ""],
        ["#2", "b@example.com", "paid", "USD", "ten", "2026-01-02 11:00:00 +0000", "1", "B", "10.00", "", "0", "", ""],
        ["#3", "c@example.com", "paid", "USD", "5.00", "yesterday", "1", "C", "5.00", "", "0", "", ""],
        ["#4", "d@example.com", "paid", "USD", "7.00", "2026-01-03 10:00:00 +0000", "1", "D\nwith a line break",
         "7.00", "", "0", "", ""],
        ["#5", "e@example.com", "paid", "USD", "4.00", "2026-01-03 12:00:00 +0000", "1", "E", "4.00", "", "0", "", ""],
        ["#4", "d@example.com", "", "", "", "", "1", "late row", "1.00", "", "", "", ""],
        ["#6", "", "paid", "USD", "4.00", "2026-01-03 12:00:00 +0000", "1", "F", "4.00", "", "0", "", ""],
    ])
    code, out, err = _run(capsys, "orders", "import", str(file), "--db", db_url)
    assert code == 0            # orders were taken, the bad rows listed (issue 12's exit codes)
    assert "line 3: order #2: 'ten' is not an amount" in err
    assert "line 4: order #3: 'yesterday' is not a date and time" in err
    assert "line 8: order #4 appeared earlier in the file" in err       # after a record spanning two lines
    assert "line 9: order #6 names no email or phone" in err
    assert sorted(_orders(db_url)) == ["#1", "#4", "#5"]
    assert "3 new" in out


def test_what_is_no_order_export_is_refused_whole(db_url, tmp_path, capsys):
    file = _write(tmp_path / "customers.csv", [["First Name", "Last Name", "Email"], ["A", "B", "a@example.com"]])
    code, _, err = _run(capsys, "orders", "import", str(file), "--db", db_url)
    assert code == 1 and "not a Shopify or WooCommerce order export" in err and "nothing was imported" in err
    code, _, err = _run(capsys, "orders", "import", str(tmp_path / "missing.csv"), "--db", db_url)
    assert code == 2 and "no such file" in err


# --- Past orders start nothing -----------------------------------------------------------------------

def _journeys(db_url: str) -> tuple[str, str]:
    """"After purchase" (triggered by an order) and "Carts" (a contact inside it, waiting two days, with an
    order as exit condition and goal)."""
    after = simple_journey("After purchase", event="order_placed")
    chain(after, after.trigger(), send_node(after, subject="Thanks"))
    carts = simple_journey("Carts", goal={"enabled": True, "event": "order_placed", "exits": True},
                           exit_conditions=[{"event": "order_placed", "conditions": []}])
    wait = carts.add_node("wait", {"mode": "duration", "delay": {"amount": 2, "unit": "days"}})
    chain(carts, carts.trigger(), wait, send_node(carts, subject="Your cart"))
    db = open_database(db_url)
    now = datetime.now(timezone.utc)
    try:
        return install_journey(db, after, now), install_journey(db, carts, now)
    finally:
        db.dispose()


def _runtime(db_url: str) -> dict[str, Any]:
    db = open_database(db_url)
    try:
        with db.connect() as conn:
            return {"runs": [tuple(r) for r in conn.execute(select(runs.c.journey_id, runs.c.contact_id, runs.c.status,
                                                                  runs.c.node_id, runs.c.due_at))],
                    "log": [tuple(r) for r in conn.execute(select(run_log.c.action, run_log.c.contact_id))],
                    "messages": conn.execute(select(messages.c.id)).all()}
    finally:
        db.dispose()


def _cart_event(tmp_path: Path, contact: str) -> Path:
    at = datetime.now(timezone.utc).isoformat()
    file = tmp_path / "cart.jsonl"
    file.write_text('{"contact": "%s", "type": "cart_abandoned", "at": "%s"}\n' % (contact, at), encoding="utf-8")
    return file


@pytest.mark.parametrize("flag", [[], ["--history"]], ids=["default", "history"])
def test_past_orders_leave_active_journeys_untouched(db_url, tmp_path, capsys, flag):
    after, carts = _journeys(db_url)
    assert _run(capsys, "events", "import", str(_cart_event(tmp_path, "ada@example.com")), "--db", db_url)[0] == 0
    before = _runtime(db_url)
    assert [(j, s) for j, _, s, _, _ in before["runs"]] == [(carts, "active")]
    code, out, _ = _run(capsys, "orders", "import", str(SHOPIFY), "--db", db_url, *flag)
    assert code == 0 and "4 past order(s) applied as history" in out
    # No one entered "After purchase"; Ada's cart run did not exit, convert or move; nothing was sent.
    assert _runtime(db_url) == before
    assert float(_contacts(db_url)["ada@example.com"]["lifetime_spend"]) == 81.73


def test_live_orders_let_journeys_react(db_url, tmp_path, capsys):
    after, carts = _journeys(db_url)
    assert _run(capsys, "events", "import", str(_cart_event(tmp_path, "ada@example.com")), "--db", db_url)[0] == 0
    recent = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S +0000")
    old = (datetime.now(timezone.utc) - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S +0000")
    file = _write(tmp_path / "orders_export.csv", [
        SHOPIFY_HEAD,
        ["#9", "bo@example.com", "paid", "USD", "10.00", old, "1", "A", "10.00", "", "0", "", ""],
        ["#10", "ada@example.com", "paid", "USD", "12.00", recent, "1", "B", "12.00", "", "0", "", ""],
    ])
    code, out, _ = _run(capsys, "orders", "import", str(file), "--db", db_url)
    assert code == 0 and "1 past order(s) applied as history" in out
    found = {(j, c): s for j, c, s, _, _ in _runtime(db_url)["runs"]}
    # The order of two hours ago is live: Ada's cart run exits on it and she enters "After purchase";
    # Bo's order of three days ago is history.
    assert set(found) == {(carts, "ada@example.com"), (after, "ada@example.com")}
    assert found[(carts, "ada@example.com")] in ("exited", "converted")
    code, out, _ = _run(capsys, "orders", "import", str(SHOPIFY), "--db", db_url, "--live")
    assert code == 0 and "history" not in out
    assert {c for j, c, _, _, _ in _runtime(db_url)["runs"] if j == after} >= {"ada@example.com", "dora@example.com"}
