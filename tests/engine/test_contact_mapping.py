"""Any other layout goes through a mapping (issue 12): `--map MAP.json`, saved and reused by header
layout; `--preset`; `--dry-run`; identity by id, else email (any case), else phone; consent that
never clears an opt-out; history baselines that never lower what is stored."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.engine.contact_mapping import MappingError, mapping_from_json, signature
from app.store.contacts import contact_detail
from app.store.db import open_database

from .helpers import run_cli

GERMAN = ("Kundennummer;E-Mail;Handy;Name;Newsletter;Geburtstag;Umsatz;Bestellungen;Land;Notiz\r\n"
          "K-1;Jana.Koch@Example.de;0151 23456789;Jana Koch;ja;14.03.1990;1.234,50 €;4;DE;Stammkundin\r\n"
          "K-2;tom@example.de;12;Tom Berg;nein;31.02.1985;12,00;1;DE;\r\n"
          "K-3;ute@example.at;0664 1234567;Ute Graf;;;0,00;0;AT;\r\n")
MAP = {"columns": {"Kundennummer": "id", "E-Mail": "email", "Handy": "phone", "Name": "full_name",
                   "Newsletter": "consent:email", "Geburtstag": "date:DD.MM.YYYY:birthday",
                   "Umsatz": "lifetime_spend", "Bestellungen": "order_count", "Land": "country", "Notiz": "ignore"},
       "tags": "comma"}


def _detail(db: str, cid: str):
    engine = open_database(f"sqlite:///{db}")
    try:
        return contact_detail(engine, cid)
    finally:
        engine.dispose()


@pytest.fixture
def german(tmp_path):
    path = tmp_path / "kunden.csv"
    path.write_bytes(GERMAN.replace("ja;", "yes;").replace("nein;", "no;").encode("cp1252"))
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps(MAP), encoding="utf-8")
    return path, mapping


def test_an_unknown_layout_without_a_map_exits_1_and_proposes_one(tmp_path, capsys, german):
    path, _ = german
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", str(tmp_path / "db.sqlite3"))
    assert code == 1 and out == ""
    assert "are not a Shopify, Mailchimp, Klaviyo, WooCommerce or Journey Studio export" in err
    assert '"Handy": "phone"' in err and "--map MAP.json" in err and "nothing was imported" in err


def test_a_map_reads_every_column_and_is_remembered_for_the_same_layout(tmp_path, capsys, german):
    path, mapping = german
    db = str(tmp_path / "db.sqlite3")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--map", str(mapping), "--db", db)
    assert code == 0, err
    assert "(the column mapping): 3 new, 0 updated, 0 unchanged" in out
    assert "line 3: phone '12' is not a valid number in DE; the phone was left empty (row kept)" in err
    assert "line 3: Geburtstag: '31.02.1985' is not a date written DD.MM.YYYY; not stored" in err
    jana = _detail(db, "K-1")
    assert jana.fields["phone"] == "+4915123456789" and jana.fields["first_name"] == "Jana"
    assert jana.fields["last_name"] == "Koch" and jana.attributes["birthday"] == "1990-03-14"
    assert Decimal(str(jana.fields["lifetime_spend"])) == Decimal("1234.5") and jana.fields["order_count"] == 4
    assert "Notiz" not in jana.attributes and jana.fields["timezone"] == "Europe/Berlin"
    assert {c.channel: c.state for c in jana.consent}["email"] == "subscribed"
    assert {c.channel: c.state for c in _detail(db, "K-2").consent}["email"] == "unsubscribed"
    assert _detail(db, "K-3").fields["phone"] == "+436641234567"      # national, read in the row's country
    assert "birthday" not in _detail(db, "K-2").attributes
    # The next file with the same columns needs no --map.
    again = tmp_path / "kunden-dezember.csv"
    again.write_bytes(path.read_bytes() + "K-4;neu@example.de;;Neu Kunde;;;;;DE;\r\n".encode("cp1252"))
    code, out, _ = run_cli(capsys, "contacts", "import", str(again), "--db", db)
    assert code == 0 and "1 new, 0 updated, 3 unchanged" in out


def test_a_dry_run_counts_everything_and_writes_nothing(tmp_path, capsys, german):
    path, mapping = german
    db = str(tmp_path / "db.sqlite3")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--map", str(mapping), "--dry-run", "--db", db)
    assert code == 0
    assert "Dry run (nothing written): would import contacts from" in out and "3 new, 0 updated" in out
    assert "consent to record: email: 1 subscribed, 1 unsubscribed" in out
    assert _detail(db, "K-1") is None
    # A dry run does not remember the map either.
    assert run_cli(capsys, "contacts", "import", str(path), "--db", db)[0] == 1


@pytest.mark.parametrize("spec, says", [
    ({"columns": {"E-Mail": "mail"}}, "'mail' is not a field"),
    ({"columns": {"E-Mail": "consent"}}, "consent needs a channel"),
    ({"columns": {"E-Mail": "date:someday"}}, "a date needs its format"),
    ({"columns": {"E-Mail": "email"}, "tags": "spaces"}, "\"tags\" must be one of"),
    ({"columns": []}, "must be a JSON object with \"columns\""),
    ({"columns": {"E-Mail": "email"}, "country": "Atlantis"}, "is not a country"),
])
def test_a_bad_map_is_refused_naming_the_column(spec, says):
    with pytest.raises(MappingError, match=says.replace("(", r"\(")):
        mapping_from_json(spec)


def test_a_map_that_names_no_identity_or_a_field_twice_is_refused(tmp_path, capsys, german):
    path, mapping = german
    mapping.write_text(json.dumps({"columns": {"Kundennummer": "ignore", "E-Mail": "attribute", "Handy": "ignore"}}))
    code, _, err = run_cli(capsys, "contacts", "import", str(path), "--map", str(mapping),
                           "--db", str(tmp_path / "db.sqlite3"))
    assert code == 1 and "no column is mapped to id, email or phone" in err
    mapping.write_text(json.dumps({"columns": {"Kundennummer": "id", "E-Mail": "email", "Notiz": "email"}}))
    code, _, err = run_cli(capsys, "contacts", "import", str(path), "--map", str(mapping),
                           "--db", str(tmp_path / "db.sqlite3"))
    assert code == 1 and "are both mapped to email" in err


def test_a_map_file_that_cannot_be_read_exits_2(tmp_path, capsys, german):
    path, mapping = german
    mapping.write_text("{oops")
    code, _, err = run_cli(capsys, "contacts", "import", str(path), "--map", str(mapping),
                           "--db", str(tmp_path / "db.sqlite3"))
    assert code == 2 and "not valid JSON" in err


def test_the_signature_ignores_case_and_spaces_but_not_order():
    assert signature(["Email", " First  Name"]) == signature(["email", "first name"])
    assert signature(["Email", "First Name"]) != signature(["First Name", "Email"])


def test_a_preset_can_be_forced(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text("Email,First Name,Accepts Email Marketing,Total Spent\nann@example.com,Ann,no,5.00\n")
    db = str(tmp_path / "db.sqlite3")
    code, out, _ = run_cli(capsys, "contacts", "import", str(path), "--preset", "shopify", "--db", db)
    assert code == 0 and "(Shopify customers export)" in out
    assert {c.channel: c.state for c in _detail(db, "ann@example.com").consent}["email"] == "unsubscribed"


def test_rows_find_their_contact_by_id_else_email_in_any_case_else_phone(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    first = tmp_path / "first.csv"
    first.write_text("id,email,phone,first_name\nc1,Ann@Example.com,,Ann\nc2,,+14165550123,Bo\nc3,cy@example.com,,Cy\n")
    assert run_cli(capsys, "contacts", "import", str(first), "--db", db)[0] == 0
    later = tmp_path / "later.csv"     # no ids: matched by email (another case) and by phone ('-prefixed)
    later.write_text("email,phone,last_name\nann@EXAMPLE.com,,Lee\n,'+1 416 555 0123,Berg\nnew@example.com,,New\n")
    code, out, _ = run_cli(capsys, "contacts", "import", str(later), "--db", db)
    assert code == 0 and "1 new, 2 updated, 0 unchanged" in out
    assert _detail(db, "c1").fields["last_name"] == "Lee" and _detail(db, "c2").fields["last_name"] == "Berg"
    assert _detail(db, "new@example.com").fields["last_name"] == "New"
    code, out, _ = run_cli(capsys, "contacts", "import", str(later), "--db", db)
    assert "0 new, 0 updated, 3 unchanged" in out
    # A Shopify export of the same people (its own ids) updates them instead of doubling them.
    shop = tmp_path / "shop.csv"
    shop.write_text("Customer ID,Email,Accepts Email Marketing,Total Spent,Total Orders,Phone\n"
                    "'9001,cy@example.com,yes,10.00,1,\n")
    code, out, _ = run_cli(capsys, "contacts", "import", str(shop), "--db", db)
    assert "0 new, 1 updated" in out and _detail(db, "9001") is None


def test_the_same_person_twice_in_a_file_is_reported(tmp_path, capsys):
    path = tmp_path / "twice.csv"
    path.write_text("email,first_name\nann@example.com,Ann\nANN@example.com,Annie\n")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", str(tmp_path / "db.sqlite3"))
    assert code == 0 and "1 new" in out and "line 3: contact 'ann@example.com' appears twice in the file" in err


def test_an_import_never_clears_an_opt_out(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"contact": "7001", "type": "unsubscribed", "at": "2026-03-01T10:00:00Z"}) + "\n")
    first = tmp_path / "first.csv"
    first.write_text("id,email\n7001,ann@example.com\n")
    run_cli(capsys, "contacts", "import", str(first), "--db", db)
    run_cli(capsys, "events", "import", str(events), "--db", db)
    shop = tmp_path / "shop.csv"
    shop.write_text("Customer ID,Email,Accepts Email Marketing,Accepts SMS Marketing,Phone,Total Spent,Total Orders\n"
                    "'7001,ann@example.com,yes,yes,+14165550123,10.00,1\n")
    code, out, _ = run_cli(capsys, "contacts", "import", str(shop), "--db", db)
    assert code == 0 and "contact 7001 opted out of email and sms" in out
    assert {c.channel: c.state for c in _detail(db, "7001").consent} == {
        "email": "unsubscribed", "sms": "unsubscribed", "whatsapp": "unsubscribed"}


def test_history_baselines_raise_and_never_lower_what_is_stored(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    path = tmp_path / "people.csv"
    path.write_text("id,email,lifetime_spend,order_count,last_order_at\nc1,a@example.com,\"$1,200.00\",5,2026-01-10\n")
    run_cli(capsys, "contacts", "import", str(path), "--db", db)
    fields = _detail(db, "c1").fields
    assert Decimal(str(fields["lifetime_spend"])) == Decimal("1200") and fields["order_count"] == 5
    assert fields["last_order_at"].date().isoformat() == "2026-01-10"
    path.write_text("id,email,lifetime_spend,order_count,last_order_at\nc1,a@example.com,100.00,1,2025-01-01\n")
    code, out, _ = run_cli(capsys, "contacts", "import", str(path), "--db", db)
    assert "0 new, 0 updated, 1 unchanged" in out
    assert Decimal(str(_detail(db, "c1").fields["lifetime_spend"])) == Decimal("1200")
    path.write_text("id,email,lifetime_spend,order_count\nc1,a@example.com,\"1,500.50\",6\n")
    run_cli(capsys, "contacts", "import", str(path), "--db", db)
    fields = _detail(db, "c1").fields
    assert Decimal(str(fields["lifetime_spend"])) == Decimal("1500.50") and fields["order_count"] == 6


def test_a_bad_consent_value_refuses_its_row_only(tmp_path, capsys):
    path = tmp_path / "k.csv"
    path.write_text("Email,Email Marketing Consent\na@example.com,SUBSCRIBED\nb@example.com,MAYBE\n")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", str(tmp_path / "db.sqlite3"))
    assert code == 0 and "1 new" in out and "line 3: consent 'MAYBE' is not yes/no" in err


def test_a_preview_shows_the_source_the_mapping_and_the_first_rows_as_stored(german):
    from app.engine.contact_presets import SHOPIFY  # noqa: F401  (the preset the first file is)
    from app.engine.contact_preview import preview
    from app.paths import RESOURCES

    shop = preview(RESOURCES / "samples" / "shopify_customers_export.csv", rows=2)
    assert shop.source == "Shopify customers export" and shop.refused == ""
    assert shop.mapping.columns["Accepts SMS Marketing"].text() == "consent:sms"
    assert [r.fields["phone"] for r in shop.rows] == ["+14165550123", "+4915112345678"]
    path, _ = german
    unknown = preview(path, rows=2)       # no preset: a proposed mapping to check, nothing read yet
    assert unknown.source == "" and unknown.mapping.columns["Handy"].field == "phone"
    assert unknown.mapping.columns["Kundennummer"].field == "id" and unknown.rows[0].id == "K-1"
