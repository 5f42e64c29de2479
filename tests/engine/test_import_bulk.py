"""Importing contacts in bulk: new contacts, updates that keep empty fields, merged attributes, added tags,
recorded unsubscriptions, and files larger than one transaction."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from app.engine.context import load_contacts
from app.engine.importers import import_contacts, parse_contacts
from app.store.catalog import known_variables
from app.store.db import open_database
from app.store.sql import write_transaction
from app.store.tables import contact_channels, contacts

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)

FIRST = """id,email,first_name,last_name,timezone,tags,unsubscribed,plan
ann,ann@example.com,Ann,Lee,Europe/Paris,vip,,gold
bob,bob@example.com,Bob,,UTC,,sms,
cat,cat@example.com,Cat,Ng,,new;trial,,silver
"""

# ann: empty name and zone are kept, a new attribute and tag; bob: all channels off; cat: email off;
# dan is new.
SECOND = """id,email,first_name,last_name,timezone,tags,unsubscribed,plan,city
ann,ann@new.example,,,,loyal,,,Lyon
bob,,Robert,Jones,,vip,all,bronze,
cat,,,,Asia/Tokyo,trial,email,,
dan,dan@example.com,Dan,,,,,,Oslo
"""


def _import(db, text: str, now: datetime) -> int:
    rows, problems = parse_contacts(text)
    assert not problems, problems
    return import_contacts(db, rows, now)


def test_reimport_updates_merges_adds_and_unsubscribes(any_url):
    db = open_database(any_url)
    try:
        assert _import(db, FIRST, T0) == 3
        with write_transaction(db) as conn:      # cat had opted in to email through the app
            conn.execute(contact_channels.insert(), [
                {"contact_id": "cat", "channel": "email", "state": "subscribed", "changed_at": T0, "source": "app"}])
        later = T0 + timedelta(days=1)
        assert _import(db, SECOND, later) == 4
        with db.connect() as conn:
            found = load_contacts(conn, ["ann", "bob", "cat", "dan"])
            stamps = dict(conn.execute(select(contacts.c.id, contacts.c.updated_at)).all())
            created = dict(conn.execute(select(contacts.c.id, contacts.c.created_at)).all())
            changed = conn.execute(select(contact_channels.c.changed_at).where(
                contact_channels.c.contact_id == "cat")).scalar_one()
    finally:
        db.dispose()

    ann, bob, cat, dan = (found[c] for c in ("ann", "bob", "cat", "dan"))
    assert (ann.fields["email"], ann.fields["first_name"], ann.fields["last_name"], ann.fields["timezone"]) == (
        "ann@new.example", "Ann", "Lee", "Europe/Paris")
    assert ann.attributes == {"plan": "gold", "city": "Lyon"}
    assert ann.tags == {"vip", "loyal"}
    assert ann.unsubscribed == set()

    assert (bob.fields["email"], bob.fields["first_name"], bob.fields["last_name"]) == (
        "bob@example.com", "Robert", "Jones")
    assert bob.attributes == {"plan": "bronze"}
    assert bob.tags == {"vip"}
    assert bob.unsubscribed == {"email", "sms", "whatsapp"}

    assert (cat.fields["email"], cat.fields["last_name"], cat.fields["timezone"]) == (
        "cat@example.com", "Ng", "Asia/Tokyo")
    assert cat.attributes == {"plan": "silver"}
    assert cat.tags == {"new", "trial"}
    assert cat.unsubscribed == {"email"}       # the opt-in row now says unsubscribed, as of the import
    assert changed == later

    assert (dan.fields["email"], dan.fields["first_name"], dan.fields["last_name"]) == (
        "dan@example.com", "Dan", None)
    assert dan.attributes == {"city": "Oslo"}
    assert dan.tags == set() and dan.unsubscribed == set()

    assert stamps == {"ann": later, "bob": later, "cat": later, "dan": later}
    assert created == {"ann": T0, "bob": T0, "cat": T0, "dan": later}


def test_reimport_records_attribute_names_for_templates(db_url):
    db = open_database(db_url)
    try:
        _import(db, FIRST, T0)
        _import(db, SECOND, T0)
        assert {"plan", "city"} <= known_variables(db).contact_attributes
    finally:
        db.dispose()


def test_a_file_larger_than_one_transaction(db_url):
    count = 12_000
    header = "id,email,first_name,tags,unsubscribed,n\n"
    first = header + "".join(f"c{i:05d},c{i}@example.com,Name{i},t,,{i}\n" for i in range(count))
    # The second file updates every other contact and adds 1,000 new ones across the chunk boundaries.
    second = header + "".join(f"c{i:05d},,Renamed{i},u,sms,\n" for i in range(0, count + 1_000, 2))
    db = open_database(db_url)
    try:
        assert _import(db, first, T0) == count
        _import(db, second, T0 + timedelta(hours=1))
        with db.connect() as conn:
            total = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
            last, kept, new = (load_contacts(conn, ["c11998", "c11999", "c12998"])[c]
                               for c in ("c11998", "c11999", "c12998"))
    finally:
        db.dispose()
    assert total == count + 500
    assert (last.fields["email"], last.fields["first_name"]) == ("c11998@example.com", "Renamed11998")
    assert last.attributes == {"n": "11998"} and last.tags == {"t", "u"} and last.unsubscribed == {"sms"}
    assert (kept.fields["first_name"], kept.tags, kept.unsubscribed) == ("Name11999", {"t"}, set())
    assert (new.fields["email"], new.fields["first_name"], new.tags) == (None, "Renamed12998", {"u"})
