"""Shop exports imported as downloaded (issue 12): Shopify, Mailchimp (zip or one CSV), Klaviyo,
WooCommerce and this app's own format, each from its faithful sample in resources/samples/, with
consent, tags, phones, time zones and spend checked on the stored contacts."""
from __future__ import annotations

import shutil
import zipfile
from decimal import Decimal

import pytest

from app.paths import RESOURCES
from app.store.contacts import contact_detail
from app.store.db import open_database

from .helpers import run_cli

SAMPLES = RESOURCES / "samples"


def _stored(url: str) -> dict:
    """Every contact as (fields, attributes, tags, consent by channel)."""
    from sqlalchemy import select

    from app.store.tables import contacts

    db = open_database(url)
    try:
        with db.connect() as conn:
            ids = list(conn.execute(select(contacts.c.id)).scalars())
        found = {}
        for cid in ids:
            d = contact_detail(db, cid)
            assert d is not None
            found[cid] = (d.fields, d.attributes, d.tags, {c.channel: c.state for c in d.consent})
        return found
    finally:
        db.dispose()


def _spend(fields: dict) -> Decimal:
    return Decimal(str(fields["lifetime_spend"])).quantize(Decimal("0.01"))


def test_a_shopify_export_imports_as_downloaded(any_url, capsys):
    path = SAMPLES / "shopify_customers_export.csv"
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", any_url)
    assert code == 0, err          # rows imported; the values left out are reported, not a failure
    assert "(Shopify customers export): 7 new, 0 updated, 0 unchanged; 2 row(s) kept with a value left out" in out
    # Known by its Customer ID, a row with an email that is not an address keeps the rest (its consent).
    assert ("line 8: email 'rita.gomez(at)example.com' is not an email address; the email was left empty "
            "(row kept)") in err
    assert "line 7: phone '555-0199' is not a valid number in US; the phone was left empty (row kept)" in err
    people = _stored(any_url)
    # The leading apostrophe Shopify writes before ids, phones and zip codes is not part of them.
    amelia = people["7023451234567"]
    assert amelia[0]["phone"] == "+14165550123" and amelia[0]["timezone"] == "America/Toronto"
    assert _spend(amelia[0]) == Decimal("1249.90") and amelia[0]["order_count"] == 7
    assert sorted(amelia[2]) == ["newsletter", "vip"] and amelia[1]["zip"] == "M5V 2T6"
    assert amelia[3] == {"email": "subscribed", "sms": "subscribed", "whatsapp": "unknown"}
    # "no" to marketing is an opt-out: the import never leaves them reachable by email.
    jonas = people["7023451234568"]
    assert jonas[3] == {"email": "unsubscribed", "sms": "unsubscribed", "whatsapp": "unknown"}
    assert jonas[0]["timezone"] == "Europe/Berlin" and jonas[0]["email"] == "JONAS.WEBER@example.com"
    chloe = people["7023451234569"]       # a national number read in the row's country; money with a comma
    assert chloe[0]["phone"] == "+33612345678" and _spend(chloe[0]) == Decimal("1020.00")
    assert chloe[2] == ["wholesale"] and chloe[0]["timezone"] == "Europe/Paris"
    assert people["7023451234570"][0]["timezone"] is None          # Texas keeps two clocks: no guess
    assert people["7023451234571"][0]["phone"] == "+447911123456"   # no email: the id still matches
    assert people["7023451234571"][0]["timezone"] == "Europe/London"
    sam = people["7023451234572"]
    assert sam[0]["phone"] is None and sam[0]["timezone"] == "America/Chicago"    # from Illinois
    assert "5 time zones derived (4 from the phone number, 1 from the province)" in out


def test_importing_the_same_shopify_export_again_changes_nothing(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    path = str(SAMPLES / "shopify_customers_export.csv")
    run_cli(capsys, "contacts", "import", path, "--db", db)
    before = _stored(f"sqlite:///{db}")
    code, out, _ = run_cli(capsys, "contacts", "import", path, "--db", db)
    assert code == 0 and "0 new, 0 updated, 7 unchanged" in out and "consent recorded" not in out
    assert _stored(f"sqlite:///{db}") == before


def test_a_mailchimp_zip_takes_each_members_status_from_its_file(any_url, capsys):
    code, out, err = run_cli(capsys, "contacts", "import", str(SAMPLES / "members_export_2f1a9c4b7e.zip"),
                             "--db", any_url)
    assert code == 0, err
    people = _stored(any_url)
    assert set(people) == {"emma.stone@example.com", "liam.ochoa@example.com", "zoe.kim@example.com",
                           "noah.fischer@example.com", "old.address@example.net"}
    assert people["emma.stone@example.com"][3]["email"] == "subscribed"
    assert people["noah.fischer@example.com"][3]["email"] == "unsubscribed"      # unsubscribed file
    assert people["old.address@example.net"][3]["email"] == "unsubscribed"       # cleaned: bounced
    emma = people["emma.stone@example.com"]
    assert sorted(emma[2]) == ["newsletter", "vip"]                 # Mailchimp's "vip","newsletter"
    assert emma[0]["phone"] == "+13125550147" and emma[0]["timezone"] == "America/Chicago"
    assert emma[1]["birthday"] == "--03-14"                         # MM/DD: an anniversary without a year
    liam = people["liam.ochoa@example.com"]
    assert "birthday" not in liam[1] and liam[0]["timezone"] == "Europe/London"
    assert "line 3: Birthday: '13/45' is not a date written MM/DD" in err
    assert "member_rating" in emma[1] and "LEID" not in emma[1] and "OPTIN_IP" not in emma[1]


@pytest.mark.parametrize("name, state", [("subscribed", "subscribed"), ("unsubscribed", "unsubscribed"),
                                         ("cleaned", "unsubscribed")])
def test_one_mailchimp_csv_alone_keeps_its_status(tmp_path, capsys, name, state):
    source = SAMPLES / "mailchimp" / f"{name}_members_export_2f1a9c4b7e.csv"
    path = tmp_path / source.name
    shutil.copy(source, path)
    db = str(tmp_path / "db.sqlite3")
    assert run_cli(capsys, "contacts", "import", str(path), "--db", db)[0] == 0
    states = {cid: p[3]["email"] for cid, p in _stored(f"sqlite:///{db}").items()}
    assert states and set(states.values()) == {state}


def test_a_renamed_mailchimp_csv_without_its_status_changes_no_consent(tmp_path, capsys):
    path = tmp_path / "audience.csv"
    shutil.copy(SAMPLES / "mailchimp" / "subscribed_members_export_2f1a9c4b7e.csv", path)
    db = str(tmp_path / "db.sqlite3")
    code, out, _ = run_cli(capsys, "contacts", "import", str(path), "--db", db)
    assert code == 0 and "email consent left as it was" in out
    assert {p[3]["email"] for p in _stored(f"sqlite:///{db}").values()} == {"unknown"}


def test_a_klaviyo_export_maps_its_consent_values(any_url, capsys):
    code, out, err = run_cli(capsys, "contacts", "import", str(SAMPLES / "klaviyo_profiles_export.csv"),
                             "--db", any_url)
    assert code == 0, err
    people = _stored(any_url)
    sofia = people["sofia.rossi@example.com"]
    assert sofia[3] == {"email": "subscribed", "sms": "unknown", "whatsapp": "unknown"}   # NEVER_SUBSCRIBED
    assert sofia[0]["timezone"] == "Europe/Rome" and sofia[0]["phone"] == "+393471234567"
    jack = people["+61412345678"]           # no email: matched and named by phone
    assert jack[3] == {"email": "unknown", "sms": "subscribed", "whatsapp": "unknown"}
    assert jack[0]["timezone"] == "Australia/Melbourne"            # from Victoria
    mei = people["mei.tanaka@example.com"]
    assert mei[3] == {"email": "unsubscribed", "sms": "unsubscribed", "whatsapp": "unknown"}
    assert mei[0]["timezone"] == "Asia/Tokyo" and mei[1]["organization"] == "Tanaka Design"
    assert "klaviyo_id" in mei[1]


def test_a_woocommerce_customers_report_seeds_the_history(any_url, capsys):
    code, out, err = run_cli(capsys, "contacts", "import", str(SAMPLES / "woocommerce_customers.csv"),
                             "--db", any_url)
    assert code == 0, err
    people = _stored(any_url)
    olivia = people["olivia.brown@example.com"]
    assert (olivia[0]["first_name"], olivia[0]["last_name"]) == ("Olivia", "Brown")
    assert olivia[0]["order_count"] == 5 and _spend(olivia[0]) == Decimal("412.75")
    assert olivia[0]["timezone"] == "America/Denver"
    assert people["hans.mueller@example.de"][0]["first_name"] == "Hans"      # UTF-8 with a BOM
    assert people["hans.mueller@example.de"][1]["city"] == "München"
    assert _spend(people["ethan.walker@example.com"][0]) == Decimal("2310.40")
    assert people["ana@example.org"][0]["last_name"] is None
    assert all(p[3] == {"email": "unknown", "sms": "unknown", "whatsapp": "unknown"} for p in people.values())


def test_our_own_sample_still_imports(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    code, out, _ = run_cli(capsys, "contacts", "import", str(RESOURCES / "sample_contacts.csv"), "--db", db)
    assert code == 0 and "(Journey Studio contacts)" in out


def test_a_zip_without_a_csv_or_a_workbook_cannot_be_read(tmp_path, capsys):
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", str(tmp_path / "d.sqlite3"))
    assert code == 2 and "Excel workbook" in err and out == ""
