"""A reviewer's attacks on the contacts import (issue 12, §1 and §2): identity, saved mappings,
maps that do not fit the file, quotes that swallow rows, money, and the report's counts."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.engine.contact_values import money
from app.store.db import open_database

from .helpers import run_cli
from .test_contact_mapping import _detail     # the same reader


def _ids(db: str) -> set[str]:
    from sqlalchemy import select

    from app.store.tables import contacts
    engine = open_database(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return set(conn.execute(select(contacts.c.id)).scalars())
    finally:
        engine.dispose()


def _consent(db: str, cid: str) -> dict[str, str]:
    return {c.channel: c.state for c in _detail(db, cid).consent if c.state != "unknown"}


def _import(capsys, tmp_path, db: str, name: str, text: str, *args: str) -> tuple[int, str, str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return run_cli(capsys, "contacts", "import", str(path), *args, "--db", db)


# --- identity: a phone never merges two people with different emails ----------------------------------------

def test_a_row_with_another_email_is_not_merged_into_a_contact_by_its_phone(tmp_path, capsys):
    """The samples' own case: Chloé (Shopify, `06 12 34 56 78` in FR) and Lucas (Klaviyo, +33612345678,
    another email) share a number; Lucas became Chloé (her name and email overwritten, his opt-in
    refused against her opt-out)."""
    db = str(tmp_path / "db.sqlite3")
    _import(capsys, tmp_path, db, "shop.csv",
            "Customer ID,First Name,Email,Accepts Email Marketing,Default Address Country Code,Phone,"
            "Accepts SMS Marketing,Total Spent,Total Orders\n"
            "'9001,Chloé,chloe@example.com,yes,FR,06 12 34 56 78,no,10.00,1\n")
    code, out, _ = _import(capsys, tmp_path, db, "klaviyo.csv",
                           "Email,Phone Number,First Name,Email Marketing Consent,SMS Consent,Klaviyo ID\n"
                           "lucas@example.com,+33612345678,Lucas,SUBSCRIBED,SUBSCRIBED,K1\n")
    assert code == 0 and "1 new, 0 updated" in out
    assert "shares the phone +33612345678 with contact 9001" in out
    chloe = _detail(db, "9001")
    assert (chloe.fields["first_name"], chloe.fields["email"]) == ("Chloé", "chloe@example.com")
    assert _consent(db, "9001")["sms"] == "unsubscribed"
    lucas = _detail(db, "lucas@example.com")
    assert lucas.fields["first_name"] == "Lucas" and lucas.fields["phone"] == "+33612345678"
    assert _consent(db, "lucas@example.com") == {"email": "subscribed", "sms": "subscribed"}


def test_the_second_person_sharing_a_phone_is_not_skipped_as_a_repeat(tmp_path, capsys):
    """Email matches contact A, and another row's phone is A's while its email is someone else's:
    that row was taken for A and skipped as 'the same contact', losing the person."""
    db = str(tmp_path / "db.sqlite3")
    _import(capsys, tmp_path, db, "base.csv", "id,email,phone\nA,ann@example.com,+4915112345678\n"
                                               "B,bob@example.com,+4915112345679\n")
    code, out, _ = _import(capsys, tmp_path, db, "mix.csv", "email,phone,first_name\n"
                           "ANN@example.com,+4915112345679,Ann\ncarl@example.com,+4915112345678,Carl\n")
    assert code == 0 and "1 new, 1 updated" in out and "same contact" not in out
    assert _detail(db, "carl@example.com").fields["first_name"] == "Carl"
    assert _detail(db, "A").fields["first_name"] == "Ann"      # email wins over the phone (B's)
    assert _ids(db) == {"A", "B", "carl@example.com"}


@pytest.mark.parametrize("stored_email, row_email, merged", [
    ("", "new@example.com", True),           # the stored contact has no email: the row gives it one
    ("ann@example.com", "", True),            # the row has no email: the phone finds the contact
    ("ann@example.com", "other@example.com", False),
])
def test_a_phone_finds_a_contact_only_when_the_emails_do_not_differ(tmp_path, capsys, stored_email, row_email,
                                                                     merged):
    db = str(tmp_path / "db.sqlite3")
    _import(capsys, tmp_path, db, "base.csv", f"id,email,phone\nA,{stored_email},+14165550123\n")
    code, out, _ = _import(capsys, tmp_path, db, "later.csv", f"email,phone,last_name\n{row_email},'+1 416 555 0123,Lee\n")
    assert code == 0
    assert (_detail(db, "A").fields["last_name"] == "Lee") is merged
    assert (len(_ids(db)) == 1) is merged


# --- a saved mapping is used for its layout, even when the header also fits a preset -------------------------

def test_a_saved_mapping_wins_over_this_apps_format_for_the_same_columns(tmp_path, capsys):
    """`Email,Newsletter,Geburtstag` also fits this app's own format (it has an email column): next
    month's file was read that way, its `no` kept as a plain attribute and nobody opted out."""
    db = str(tmp_path / "db.sqlite3")
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"columns": {"Email": "email", "Newsletter": "consent:email",
                                               "Geburtstag": "date:DD.MM.YYYY:birthday"}}))
    code, _, err = _import(capsys, tmp_path, db, "kunden.csv", "Email,Newsletter,Geburtstag\n"
                           "ann@example.com,no,24.12.1990\n", "--map", str(mapping))
    assert code == 0, err
    code, out, _ = _import(capsys, tmp_path, db, "kunden-dez.csv", "Email,Newsletter,Geburtstag\n"
                           "bob@example.com,no,01.02.1980\n")
    assert code == 0 and "(the mapping saved for these columns)" in out
    assert _consent(db, "bob@example.com") == {"email": "unsubscribed"}
    assert _detail(db, "bob@example.com").attributes == {"birthday": "1980-02-01"}
    # The same layout written in another case and spacing (the signature ignores both) is read alike.
    code, out, _ = _import(capsys, tmp_path, db, "kunden-jan.csv", "EMAIL , newsletter,Geburtstag\n"
                           "cy@example.com,no,03.04.1970\n")
    assert code == 0 and "(the mapping saved for these columns)" in out
    assert _consent(db, "cy@example.com") == {"email": "unsubscribed"}
    assert _detail(db, "cy@example.com").attributes == {"birthday": "1970-04-03"}


# --- a map that does not fit the file is refused, not half-applied -------------------------------------------

def test_a_map_naming_a_column_the_file_lacks_is_refused(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"columns": {"Email": "email", "Newsleter": "consent:email"}}))
    code, out, err = _import(capsys, tmp_path, db, "k.csv", "Email,Newsletter\nann@example.com,no\n",
                             "--map", str(mapping))
    assert code == 1 and out == ""
    assert "line 1: the map names 'Newsleter', which the file does not have" in err
    assert "'Email', 'Newsletter'" in err and "nothing was imported" in err
    assert _ids(db) == set()


@pytest.mark.parametrize("extra", [{"tag": "comma"}, {"colums": {}}, {"country": "DE", "delimiter": ";"}])
def test_a_map_with_a_key_it_does_not_know_is_refused(tmp_path, capsys, extra):
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"columns": {"Email": "email"}, **extra}))
    code, out, err = _import(capsys, tmp_path, str(tmp_path / "db.sqlite3"), "k.csv",
                             "Email,Tags\nann@example.com,\"a, b\"\n", "--map", str(mapping))
    assert code == 2 and out == "" and "is not a key of a map" in err and "Traceback" not in err


# --- a quote that is never closed, or closes mid-value, swallows rows: they are reported ---------------------

def test_an_unclosed_quote_is_reported_at_its_line_not_swallowing_the_rest(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    code, out, err = _import(capsys, tmp_path, db, "q.csv", 'id,email,note\nc1,a@example.com,"two\nlines"\n'
                             'c2,b@example.com,"never closed\nc3,c@example.com,x\nc4,d@example.com,y\n')
    assert code == 0 and "1 new" in out and "1 bad row(s)" in out
    assert "line 4: a double quote opened on this line is never closed, so lines 4–6 (the end of the file)" in err
    assert _ids(db) == {"c1"}


def test_a_quote_closing_inside_a_value_is_reported_not_read_as_one_row(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    code, out, err = _import(capsys, tmp_path, db, "q.csv", 'id,email,note\nc1,a@example.com,"oops\n'
                             'c2,b@example.com,fine\nc3,c@example.com,"closed"\nc4,d@example.com,ok\n')
    assert code == 0 and "line 2: a double quote opened on this line closes inside a value on line 4" in err
    assert _ids(db) == {"c4"}
    assert "oops" not in str(_detail(db, "c4").attributes)


# --- money: a value that is not an amount is reported, never read as another number -------------------------

@pytest.mark.parametrize("text, amount", [
    ("$1,234.50", "1234.50"), ("1.234,50 €", "1234.50"), ("CHF 1'234.50", "1234.50"), ("1 234,50", "1234.50"),
    ("EUR 12", "12"), ("12,5", "12.5"), ("1,23,456.00", "123456.00"), ("0.00", "0"), ("1,234", "1234"), ("1,2", "1.2"),
    ("US$ 1,234.50", "1234.50"), ("-0.00", "0"), (".5", "0.5"),
])
def test_money_reads_what_shops_write(text, amount):
    assert money(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["1e5", "1.5E+3", "(1,234.50)", "-5.00", "1.2.3", "12 (3 orders)", "5 - 3",
                                  "--", "$", "12.34.567,89.1", "1.234,567.89"])
def test_money_that_is_not_an_amount_is_refused(text):
    with pytest.raises(ValueError):
        money(text)


def test_an_amount_written_as_a_negative_in_parentheses_is_not_stored(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    code, _, err = _import(capsys, tmp_path, db, "s.csv", "id,email,lifetime_spend\n"
                           'c1,a@example.com,"(1,234.50)"\nc2,b@example.com,1e5\n')
    assert code == 0 and "'(1,234.50)' is negative; not stored" in err and "'1e5' is not an amount" in err
    assert Decimal(str(_detail(db, "c1").fields["lifetime_spend"])) == 0
    assert Decimal(str(_detail(db, "c2").fields["lifetime_spend"])) == 0


# --- the report counts what it names ---------------------------------------------------------------------------

def test_the_report_counts_only_the_opt_outs_it_kept(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    _import(capsys, tmp_path, db, "a.csv", "id,email,unsubscribed\nc1,a@example.com,email\n")
    code, out, _ = _import(capsys, tmp_path, db, "b.csv", "id,email,subscribed\nc1,a@example.com,email\n"
                           "c9,A@example.com,\n")      # c9 is not stored: its email is c1's, already taken
    assert "line 3: is the same contact (c1) as line 2" in out
    assert code == 0 and "; 1 opt-out(s) kept" in out


# --- WooCommerce's other layouts: the e-mailed export (REST controller's columns) and `Role` -------------------

@pytest.mark.parametrize("header", [
    # Analytics → Customers → Download in newer versions (a Role column after Username)
    '"Name","Username","Role","Last active","Date registered","Email","Orders","Total spend","AOV",'
    '"Country / Region","City","Region","Postal code"',
    # a report too big to download is e-mailed: the REST controller's export column names
    '"Name","Username","Last Active","Sign Up","Email","Orders","Total Spend","AOV","Country / Region","City",'
    '"Region","Postal Code"',
])
def test_woocommerce_customer_exports_of_every_version_are_read(tmp_path, capsys, header):
    values = {"Name": "Olivia Brown", "Username": "olivia_b", "Role": "customer", "Last active": "2026-11-02 10:00:00",
              "Last Active": "2026-11-02 10:00:00", "Date registered": "2023-05-14 09:00:00",
              "Sign Up": "2023-05-14 09:00:00", "Email": "olivia.brown@example.com", "Orders": "5",
              "Total spend": "412.75", "Total Spend": "412.75", "AOV": "82.55", "Country / Region": "US",
              "City": "Denver", "Region": "CO", "Postal code": "80202", "Postal Code": "80202"}
    names = [h.strip('"') for h in header.split(",")]
    db = str(tmp_path / "db.sqlite3")
    code, out, err = _import(capsys, tmp_path, db, "customers.csv",
                             header + "\n" + ",".join(f'"{values[n]}"' for n in names) + "\n")
    assert code == 0 and "(WooCommerce customers (Analytics)): 1 new" in out, err
    olivia = _detail(db, "olivia.brown@example.com")
    assert (olivia.fields["first_name"], olivia.fields["last_name"]) == ("Olivia", "Brown")
    assert Decimal(str(olivia.fields["lifetime_spend"])) == Decimal("412.75") and olivia.fields["order_count"] == 5
    assert olivia.fields["timezone"] == "America/Denver"
    assert olivia.attributes["date_registered"] == "2023-05-14 09:00:00"
    assert not {"Sign Up", "Role", "AOV"} & set(olivia.attributes)


# --- a baseline is set on a contact that has none yet ---------------------------------------------------------

@pytest.mark.parametrize("column, cell, stored", [
    ("last_order_at", "2025-03-01", "2025-03-01"),
    ("last_order_at", "2025-03-01 18:30:00 -0500", "2025-03-01 23:30"),
])
def test_a_last_order_date_reaches_a_contact_imported_without_one(tmp_path, capsys, column, cell, stored):
    """`new > NULL` is unknown in SQL: a contact first imported from a list without order history (a
    Mailchimp audience) never got its last order date from the shop's file, and every re-run of that
    file said `1 updated`."""
    db = str(tmp_path / "db.sqlite3")
    _import(capsys, tmp_path, db, "list.csv", "id,email\nc1,a@example.com\n")
    code, out, _ = _import(capsys, tmp_path, db, "shop.csv", f'id,email,{column}\nc1,a@example.com,"{cell}"\n')
    assert code == 0 and "0 new, 1 updated" in out
    assert _detail(db, "c1").fields[column].isoformat(" ").startswith(stored)
    code, out, _ = _import(capsys, tmp_path, db, "shop.csv", f'id,email,{column}\nc1,a@example.com,"{cell}"\n')
    assert "0 new, 0 updated, 1 unchanged" in out
    # An earlier date in a later file never lowers it.
    _import(capsys, tmp_path, db, "old.csv", f"id,email,{column}\nc1,a@example.com,2020-01-01\n")
    assert _detail(db, "c1").fields[column].isoformat(" ").startswith(stored)


def test_columns_a_recognised_layout_does_not_know_are_named_in_the_report(tmp_path, capsys):
    """A file with an `email` column is read as this app's own format: its `Newsletter` yes/no was kept
    as plain text without a word, so the shop owner believed the opt-outs were in."""
    code, out, _ = _import(capsys, tmp_path, str(tmp_path / "db.sqlite3"), "k.csv",
                           "Email,Newsletter,Geburtstag\nann@example.com,no,24.12.1990\n")
    assert code == 0 and "kept as custom attributes: Newsletter, Geburtstag" in out and "--map MAP.json" in out


@pytest.mark.parametrize("content, says", [
    ('{"columns": {"Email": "email"}}'.encode("utf-16"), "map.json: is not UTF-8 text; save the map as UTF-8"),
    (b'{"columns": {"Email": "email", "N": {"field": "attribute", "name": ["x"]}}}',
     "column 'N': the attribute name must be text"),
])
def test_a_map_that_cannot_be_used_is_named_not_the_contacts_file(tmp_path, capsys, content, says):
    mapping = tmp_path / "map.json"
    mapping.write_bytes(content)
    code, out, err = _import(capsys, tmp_path, str(tmp_path / "db.sqlite3"), "k.csv", "Email,N\nann@example.com,x\n",
                             "--map", str(mapping))
    assert code == 2 and out == "" and says in err and "k.csv" not in err and "Traceback" not in err


# --- a time zone guessed from a phone or an address never replaces one a contact has ---------------------------

@pytest.mark.parametrize("later", [
    # Shopify: no zone column; the zone comes from the phone's area (New York)
    "Customer ID,Email,Accepts Email Marketing,Phone,Total Spent,Total Orders\n'c1,a@example.com,yes,+12125550134,1.00,1\n",
    # WooCommerce: from the state (Colorado)
    '"Name","Email","Orders","Total spend","Country / Region","Region"\n"Ann Lee","a@example.com","1","1.00","US","CO"\n',
    # this app's own format, from the country (France)
    "id,email,country\nc1,a@example.com,FR\n",
])
def test_a_derived_time_zone_never_replaces_a_stored_one(tmp_path, capsys, later):
    """Mailchimp's TIMEZONE said Los Angeles (she moved, keeping her New York number); the Shopify
    export's phone then moved her messages three hours."""
    db = str(tmp_path / "db.sqlite3")
    _import(capsys, tmp_path, db, "first.csv", "id,email,timezone\nc1,a@example.com,America/Los_Angeles\n")
    code, _, err = _import(capsys, tmp_path, db, "later.csv", later)
    assert code == 0, err
    assert _detail(db, "c1").fields["timezone"] == "America/Los_Angeles"
    # A zone the file states is the contact's: it replaces the stored one.
    _import(capsys, tmp_path, db, "moved.csv", "id,email,timezone\nc1,a@example.com,Europe/Paris\n")
    assert _detail(db, "c1").fields["timezone"] == "Europe/Paris"


def test_a_derived_time_zone_fills_an_empty_one(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    _import(capsys, tmp_path, db, "first.csv", "id,email\nc1,a@example.com\n")
    _import(capsys, tmp_path, db, "later.csv", "id,email,phone\nc1,a@example.com,+12125550134\n")
    assert _detail(db, "c1").fields["timezone"] == "America/New_York"


@pytest.mark.parametrize("head, kind", [(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", "a PDF document"),
                                        (b"{\\rtf1\\ansi id,email\\par ann@example.com}", "an RTF document"),
                                        (b"\x1f\x8b\x08\x00" + b"x" * 40, "a gzip archive")])
def test_a_document_picked_by_mistake_cannot_be_read_exit_2(tmp_path, capsys, head, kind):
    path = tmp_path / "customers.csv"
    path.write_bytes(head)
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", str(tmp_path / "db.sqlite3"))
    assert code == 2 and out == "" and f"cannot be read ({kind}, not a CSV file; export the contacts as CSV)" in err


@pytest.mark.parametrize("header, row, who, args", [
    # A Shopify row known by its Customer ID: "no" to SMS must reach the stored contact.
    ("Customer ID,First Name,Email,Accepts SMS Marketing,Phone", "'7001,Ann,ann(at)example.com,no,+14165550123",
     "7001", ["--preset", "shopify"]),
    ("id,email,unsubscribed", "c1,ann@@example.com,sms", "c1", []),
    ("id,email,phone,unsubscribed", ",not-an-address,+4915112345678,all", None, []),     # known by the phone only
])
def test_an_email_that_is_not_an_address_loses_only_the_email_never_the_opt_out(tmp_path, capsys, header, row, who,
                                                                                  args):
    """A row whose email is malformed but which is known by its id or phone is kept with the email
    left out (as a bad phone is): refusing it whole would drop the opt-out it carries."""
    db = str(tmp_path / "db.sqlite3")
    path = tmp_path / "people.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), *args, "--db", db)
    assert code == 0 and "1 new" in out and "the email was left empty (row kept)" in err, (out, err)
    cid = who or next(iter(_ids(db)))
    assert _detail(db, cid).fields["email"] is None
    assert _consent(db, cid)["sms"] == "unsubscribed"


def test_an_email_that_is_not_an_address_leaves_the_stored_email_as_it_was(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("id,email\nc1,ann@example.com\n", encoding="utf-8")
    second.write_text("id,email,unsubscribed\nc1,ann(at)example.com,email\n", encoding="utf-8")
    run_cli(capsys, "contacts", "import", str(first), "--db", db)
    code, out, _ = run_cli(capsys, "contacts", "import", str(second), "--db", db)
    assert code == 0 and "1 updated" in out
    assert _detail(db, "c1").fields["email"] == "ann@example.com" and _consent(db, "c1")["email"] == "unsubscribed"
