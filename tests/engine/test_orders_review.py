"""Order exports as shops really save them (review of issue 12 §3–§4): code pages told apart with
currency signs about, a bad row among an order's line items, orders never paid."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.cli import main
from app.engine.textstream import inspect_table
from app.store.db import open_database

from .test_orders_import import _contacts as _people, _orders  # the same readers

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
# Shopify's own header, all its columns in its order (as in the sample export).
HEAD = next(csv.reader(io.StringIO((SAMPLES / "shopify_orders_export.csv").read_text(encoding="utf-8-sig"))))


def _row(**cells: str) -> list[str]:
    """A Shopify order export row: `Lineitem_name="Mug"` fills "Lineitem name", the rest stays empty."""
    named = {k.replace("_", " "): v for k, v in cells.items()}
    assert set(named) <= set(HEAD), set(named) - set(HEAD)
    return [named.get(h, "") for h in HEAD]


def _write(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows([HEAD, *rows])
    path.write_bytes(text.getvalue().encode(encoding))
    return path


def _import(capsys: Any, file: Path, db_url: str, *flags: str) -> tuple[int, str, str]:
    code = main(["orders", "import", str(file), "--db", db_url, *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- Windows-1252 with € and ¥ in the money columns is not Windows-1251 --------------------------

def test_a_windows_1252_order_file_with_euro_amounts_keeps_its_umlauts(db_url, tmp_path, capsys):
    """Excel's "CSV (semicolon)" on a German Windows: Windows-1252, `;`, money as `1.234,50 €`. The euro
    sign is byte 0x80, which Windows-1251 reads as the letter Ђ: the names must not turn Cyrillic."""
    file = _write(tmp_path / "orders_export.csv", [
        _row(Name="#1", Email="müller@example.de", Financial_Status="paid", Currency="EUR", Total="1.234,50 €",
             Created_at="2026-03-01 10:00:00 +0100", Lineitem_name="Käse", Lineitem_quantity="1",
             Lineitem_price="1.234,50 €", Billing_Name="Jürgen Müller", Billing_Country="DE"),
        _row(Name="#2", Email="", Phone="'0151 23456789", Financial_Status="paid", Currency="EUR", Total="10,00 €",
             Created_at="2026-03-02 10:00:00 +0100", Lineitem_name="Brot", Lineitem_quantity="2",
             Billing_Name="Özlem Çelik", Billing_Country="DE"),
        _row(Name="#3", Email="x@example.de", Financial_Status="paid", Currency="JPY", Total="¥1,500",
             Created_at="2026-03-04 10:00:00 +0900", Lineitem_name="Tee", Lineitem_quantity="1"),
    ], encoding="cp1252", delimiter=";")
    assert inspect_table(file).encoding == "cp1252"
    code, out, err = _import(capsys, file, db_url)
    assert code == 0, err
    people = _people(db_url)
    assert sorted(people) == ["+4915123456789", "müller@example.de", "x@example.de"]
    assert (people["müller@example.de"]["first_name"], people["müller@example.de"]["last_name"]) == ("Jürgen", "Müller")
    assert (people["+4915123456789"]["first_name"], people["+4915123456789"]["last_name"]) == ("Özlem", "Çelik")
    assert float(people["müller@example.de"]["lifetime_spend"]) == 1234.5
    assert _orders(db_url)["#1"]["items"] == [{"name": "Käse", "quantity": 1, "price": 1234.5}]


@pytest.mark.parametrize("text,encoding", [
    ("id,email,first_name,lifetime_spend\nc1,a@example.com,José,€ 12,50\nc2,b@example.com,Zoë,£7.00\n"
     "c3,c@example.com,Ana,¥300\n", "cp1252"),
    ("id,first_name,city\nc1,Иван,Москва\nc2,Ольга,Санкт-Петербург\n", "cp1251"),
    ("id,first_name,city\nc1,Łukasz,Łódź\nc2,Zdeněk,Plzeň € 5\n", "cp1250"),
])
def test_currency_signs_do_not_decide_the_code_page(tmp_path, text, encoding):
    file = tmp_path / "file.csv"
    file.write_bytes(text.encode(encoding))
    assert inspect_table(file).encoding == encoding


# --- A bad row among an order's line items keeps the whole order out --------------------------------

def _order_rows(name: str, *items: str) -> list[list[str]]:
    first = _row(Name=name, Email="ann@example.com", Financial_Status="paid", Currency="USD", Total="30.00",
                 Created_at="2026-03-01 10:00:00 -0500", Lineitem_name=items[0], Lineitem_quantity="1")
    return [first] + [_row(Name=name, Email="ann@example.com", Lineitem_name=i, Lineitem_quantity="1")
                      for i in items[1:]]


@pytest.mark.parametrize("spoil", ["extra value", "missing values", "no name"])
def test_an_order_with_an_unreadable_line_item_row_waits_for_the_corrected_file(db_url, tmp_path, capsys, spoil):
    rows = _order_rows("#1", "Mug", "Plate", "Bowl") + _order_rows("#2", "Cup")
    good = [list(r) for r in rows]
    if spoil == "extra value":
        rows[1] = rows[1] + ["x"]
    elif spoil == "missing values":
        rows[1] = rows[1][:10]
    else:
        rows[1][0] = ""
    code, out, err = _import(capsys, _write(tmp_path / "orders_export.csv", rows), db_url)
    assert code == 0
    assert "line 3:" in err and "line 2: order #1 was not imported: its row on line 3 cannot be read" in err
    assert sorted(_orders(db_url)) == ["#2"]          # #1 is not stored without its Plate
    code, out, err = _import(capsys, _write(tmp_path / "fixed.csv", good), db_url)
    assert code == 0 and "1 new, 1 already present" in out
    assert [i["name"] for i in _orders(db_url)["#1"]["items"]] == ["Mug", "Plate", "Bowl"]
    assert float(_people(db_url)["ann@example.com"]["lifetime_spend"]) == 60.0


def test_a_bad_last_line_item_keeps_its_order_out_too(db_url, tmp_path, capsys):
    rows = _order_rows("#1", "Mug", "Plate") + _order_rows("#2", "Cup")
    rows[1] = rows[1] + ["x"]              # the last row of #1, its Name still readable
    code, _, err = _import(capsys, _write(tmp_path / "orders_export.csv", rows), db_url)
    assert code == 0 and "order #1 was not imported: its row on line 3" in err
    assert sorted(_orders(db_url)) == ["#2"]


def test_a_bad_value_in_a_line_item_is_said_at_its_own_line(db_url, tmp_path, capsys):
    rows = _order_rows("#1", "Mug", "Plate")
    rows[1][HEAD.index("Lineitem quantity")] = "two"
    code, _, err = _import(capsys, _write(tmp_path / "orders_export.csv", rows), db_url)
    assert code == 1
    assert "line 3: order #1: quantity 'two' is not a number" in err


# --- Orders never paid are not spend ---------------------------------------------------------------

def test_a_shopify_order_pending_payment_is_skipped_until_it_is_paid(db_url, tmp_path, capsys):
    def order(status: str) -> list[str]:
        return _row(Name="#7", Email="cod@example.com", Financial_Status=status, Currency="USD", Total="40.00",
                    Created_at="2026-03-01 10:00:00 -0500", Lineitem_name="Mug", Lineitem_quantity="1")
    code, out, _ = _import(capsys, _write(tmp_path / "week1.csv", [order("pending")]), db_url)
    assert code == 0 and "order #7 is pending payment (never paid); skipped" in out
    assert _orders(db_url) == {}
    code, out, _ = _import(capsys, _write(tmp_path / "week2.csv", [order("paid")]), db_url)
    assert code == 0 and "1 new, 0 already present" in out
    assert float(_people(db_url)["cod@example.com"]["lifetime_spend"]) == 40.0


# --- An order file's totals do not depend on which of its orders are live ----------------------------

def _baseline_and_orders(db_url: str, tmp_path: Path) -> Path:
    """Ann's customer export says 80.00 over 2 orders; the order export made the same day holds both,
    one of them placed three hours ago (live by default)."""
    from datetime import datetime, timedelta, timezone

    (tmp_path / "customers.csv").write_text("id,email,lifetime_spend,order_count\nann,Ann@Example.com,80,2\n",
                                            encoding="utf-8")
    assert main(["contacts", "import", str(tmp_path / "customers.csv"), "--db", db_url]) == 0
    now = datetime.now(timezone.utc)
    return _write(tmp_path / "orders_export.csv", [
        _row(Name=f"#{n}", Email="ann@example.com", Financial_Status="paid", Currency="USD", Total=total,
             Created_at=(now - ago).strftime("%Y-%m-%d %H:%M:%S +0000"), Lineitem_name="Mug", Lineitem_quantity="1")
        for n, total, ago in ((1, "30.00", timedelta(days=30)), (2, "50.00", timedelta(hours=3)))])


@pytest.mark.parametrize("flags", [[], ["--history"], ["--live"]], ids=["default", "history", "live"])
def test_today_s_orders_are_not_counted_twice_against_a_customer_export(db_url, tmp_path, capsys, flags):
    file = _baseline_and_orders(db_url, tmp_path)
    capsys.readouterr()
    code, out, _ = _import(capsys, file, db_url, *flags)
    assert code == 0 and "2 new" in out
    ann = _people(db_url)["ann"]
    assert (float(ann["lifetime_spend"]), ann["order_count"]) == (80.0, 2)
    code, out, _ = _import(capsys, file, db_url, *flags)
    assert "0 new, 2 already present" in out
    assert (float(_people(db_url)["ann"]["lifetime_spend"]), _people(db_url)["ann"]["order_count"]) == (80.0, 2)


def test_a_live_order_from_a_file_still_sets_journeys_off_on_its_reconciled_spend(db_url, tmp_path, capsys):
    from datetime import datetime, timezone

    from app.engine.simulator import install_journey
    from app.store.tables import runs

    from .helpers import chain, send_node, simple_journey

    thanks = simple_journey("Thanks", event="order_placed")
    chain(thanks, thanks.trigger(), send_node(thanks, subject="Thanks"))
    vip = simple_journey("VIP")
    vip.trigger().config.update(mode="spend", threshold=100)
    chain(vip, vip.trigger(), send_node(vip, subject="VIP"))
    db = open_database(db_url)
    ids = {install_journey(db, j, datetime.now(timezone.utc)): j.name for j in (thanks, vip)}
    db.dispose()
    file = _baseline_and_orders(db_url, tmp_path)
    capsys.readouterr()
    assert _import(capsys, file, db_url)[0] == 0
    db = open_database(db_url)
    with db.connect() as conn:
        entered = {ids[j] for j, in conn.execute(select(runs.c.journey_id))}
    db.dispose()
    assert entered == {"Thanks"}        # today's order thanks Ann; 80.00 crossed no VIP threshold of 100


# --- Money in a currency with three decimals --------------------------------------------------------

@pytest.mark.parametrize("currency,total,price,spend", [
    ("KWD", "12.345", "12.345", 12.35),     # Kuwaiti dinar: three decimals (the store keeps two)
    ("BHD", "1,234.500", "1,234.500", 1234.5),
    ("OMR", "7.5", "7.500", 7.5),
    ("EUR", "12.345", "12.345", 12345.0),    # two decimals: "12.345" is twelve thousand
    ("JPY", "1,500", "1,500", 1500.0),
])
def test_amounts_are_read_with_their_currency_s_decimals(db_url, tmp_path, capsys, currency, total, price, spend):
    file = _write(tmp_path / "orders_export.csv", [
        _row(Name="#1", Email="k@example.com", Financial_Status="paid", Currency=currency, Total=total,
             Created_at="2026-03-01 10:00:00 +0300", Lineitem_name="Dates", Lineitem_quantity="1",
             Lineitem_price=price)])
    assert _import(capsys, file, db_url)[0] == 0
    assert float(_people(db_url)["k@example.com"]["lifetime_spend"]) == spend
    assert _orders(db_url)["#1"]["items"][0]["price"] == {"KWD": 12.345, "BHD": 1234.5, "OMR": 7.5, "EUR": 12345.0,
                                                          "JPY": 1500.0}[currency]


def test_an_export_in_several_currencies_says_that_spend_adds_them_unconverted(db_url, tmp_path, capsys):
    rows = [_row(Name=f"#{n}", Email="m@example.com", Financial_Status="paid", Currency=currency, Total=total,
                 Created_at="2026-03-01 10:00:00 +0000", Lineitem_name="Mug", Lineitem_quantity="1")
            for n, currency, total in ((1, "EUR", "10.00"), (2, "USD", "20.00"), (3, "eur", "5.00"))]
    code, out, _ = _import(capsys, _write(tmp_path / "orders_export.csv", rows), db_url)
    assert code == 0
    assert "the orders are in 2 currencies (EUR, USD): spend adds their totals as written, without converting" in out
    code, out, _ = _import(capsys, _write(tmp_path / "one.csv", rows[:1]), db_url)
    assert "currencies" not in out


# --- An export re-saved by a spreadsheet in Europe -----------------------------------------------------

def test_an_export_re_saved_by_european_excel_keeps_its_orders(db_url, tmp_path, capsys):
    """Opened in Excel with German settings and saved as CSV: `;`, Windows-1252, `56,29`, and times as
    `03.09.2026 10:14` (no seconds, no offset: the business's time zone)."""
    assert main(["settings", "timezone", "Europe/Berlin", "--db", db_url]) == 0
    rows = [_row(Name="#1001", Email="ada@example.com", Financial_Status="paid", Currency="EUR", Total="56,29",
                 Created_at="03.09.2026 10:14", Lineitem_name="Farn", Lineitem_quantity="2", Lineitem_price="16,00"),
            _row(Name="#1002", Email="ada@example.com", Financial_Status="paid", Currency="EUR", Total="1.025,44",
                 Created_at="12.10.2026 16:40:05", Lineitem_name="Hülle", Lineitem_quantity="1"),
            _row(Name="#1003", Email="bea@example.org", Financial_Status="paid", Currency="GBP", Total="9.99",
                 Created_at="13/10/2026 09:00", Lineitem_name="Mug", Lineitem_quantity="1")]
    capsys.readouterr()
    code, out, err = _import(capsys, _write(tmp_path / "orders_export.csv", rows, "cp1252", ";"), db_url)
    assert code == 0 and err == "" and "3 new" in out
    ada = _people(db_url)["ada@example.com"]
    assert (float(ada["lifetime_spend"]), ada["order_count"]) == (1081.73, 2)
    from datetime import datetime, timezone

    assert ada["last_order_at"] == datetime(2026, 10, 12, 14, 40, 5, tzinfo=timezone.utc)     # CEST: UTC+2
    assert _people(db_url)["bea@example.org"]["last_order_at"] == datetime(2026, 10, 13, 7, 0, tzinfo=timezone.utc)


def test_re_importing_orders_of_a_customer_whose_email_changed_creates_nobody(db_url, tmp_path, capsys):
    """Ann's orders came in under her old address; she changed it since. The same export again must not
    bring a second, empty (and mailable) contact for the old address."""
    people = tmp_path / "customers.csv"
    people.write_text("id,email,unsubscribed\ncust-7,ann@example.com,email\n", encoding="utf-8")
    assert main(["contacts", "import", str(people), "--db", db_url]) == 0
    file = _write(tmp_path / "orders_export.csv", [
        _row(Name=f"#{n}", Email=email, Phone=phone, Billing_Country="US", Financial_Status="paid", Currency="USD",
             Total="30.00", Created_at="2026-03-01 10:00:00 +0000", Lineitem_name="Mug", Lineitem_quantity="1")
        for n, email, phone in ((1, "ann@example.com", ""), (2, "", "'(415) 555-0132"))])
    assert _import(capsys, file, db_url)[0] == 0
    people.write_text("id,email,phone\ncust-7,ann@new.example.com,\n+14155550132,,+14155550199\n", encoding="utf-8")
    assert main(["contacts", "import", str(people), "--db", db_url]) == 0
    before = _people(db_url)
    code, out, _ = _import(capsys, file, db_url)
    assert code == 0 and "0 new, 2 already present" in out and "new contact" not in out
    assert _people(db_url) == before


# --- Exit codes as issue 12 gives them for every file import ----------------------------------------

def test_exit_codes_of_an_orders_import(db_url, tmp_path, capsys):
    customers = tmp_path / "customers_export.csv"
    customers.write_text("First Name,Last Name,Email\nAnn,Lee,ann@example.com\n", encoding="utf-8")
    code, _, err = _import(capsys, customers, db_url)
    assert code == 1 and "not a Shopify or WooCommerce order export" in err     # read, header unusable
    (tmp_path / "empty.csv").write_bytes(b"")
    assert _import(capsys, tmp_path / "empty.csv", db_url)[0] == 1
    all_bad = _write(tmp_path / "bad.csv", [_row(Name="#1", Email="a@example.com", Financial_Status="paid",
                                                 Total="ten", Created_at="2026-03-01 10:00:00 +0000",
                                                 Lineitem_name="Mug")])
    assert _import(capsys, all_bad, db_url)[0] == 1                              # nothing could be imported
    some_bad = _write(tmp_path / "some.csv", _order_rows("#2", "Mug") + [
        _row(Name="#3", Email="b@example.com", Financial_Status="paid", Total="ten",
             Created_at="2026-03-01 10:00:00 +0000", Lineitem_name="Cup")])
    code, out, err = _import(capsys, some_bad, db_url)
    assert code == 0 and "1 new" in out and "line 3: order #3" in err           # taken, the bad one listed
    assert _import(capsys, tmp_path / "missing.csv", db_url)[0] == 2
    (tmp_path / "book.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert _import(capsys, tmp_path / "book.xlsx", db_url)[0] == 2
