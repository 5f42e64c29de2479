"""Values SQLite would keep and PostgreSQL refuse are refused (or cleaned) by the importers, with the same
one-line message on both databases, and never reach the database (issue 9, "Values are bounded where
they enter"). Every test runs on a SQLite file, and on PostgreSQL when JOURNEYS_TEST_PG_URL is set."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.engine.importers import parse_contacts, parse_events
from app.journey.schema import MAX_AMOUNT
from app.store.db import open_database
from app.store.sql import numeric_ceiling
from app.store.tables import contact_tags, contacts, events

AT = "2026-03-01T10:00:00Z"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def event(**fields) -> str:
    return json.dumps({"contact": "c1", "type": "page_viewed", "at": AT, **fields})


# --- contacts -------------------------------------------------------------------------------------

CSV_HEAD = "id,email,phone,first_name,last_name,timezone,tags,city\n"
# Issue 12: emails and phones are checked too, so the row at the limits holds a valid email (its local
# part at RFC 5321's 64) and phone; the widths are still enforced before the checks (ONE_OVER).
AT_THE_LIMITS = ("i" * 200, "e" * 64 + "@example.com", "+14165550123", "f" * 100, "l" * 100,
                 "America/Argentina/ComodRivadavia", "t" * 100 + ";vip", "Paris")
ONE_OVER = [   # (column, value, reason)
    ("id", "i" * 201, "id is longer than 200 characters"),
    ("email", "e" * 309 + "@example.com", "email is longer than 320 characters"),
    ("phone", "+" + "1" * 32, "phone is longer than 32 characters"),
    ("first_name", "f" * 101, "first_name is longer than 100 characters"),
    ("last_name", "l" * 101, "last_name is longer than 100 characters"),
    ("timezone", "Z" * 65, "timezone is longer than 64 characters"),
    ("tags", "vip;" + "t" * 101, "the tag 'tttttttttttttttttttt'… is longer than 100 characters"),
    ("city", "Par\x00is", "city contains a NUL character (\\x00)"),
    ("first_name", "A\x00", "first_name contains a NUL character (\\x00)"),
]


def _row(**changes: str) -> str:
    values = dict(zip(CSV_HEAD.strip().split(","), AT_THE_LIMITS))
    values.update(changes)
    return ",".join(values.values()) + "\n"


def test_contacts_over_a_column_width_or_with_nul_are_refused_alike_on_both_databases(any_url, tmp_path, capsys):
    path = tmp_path / "people.csv"
    rows = [_row()] + [_row(id=f"c{i}", **{column: value}) if column != "id" else _row(id=value)
                       for i, (column, value, _) in enumerate(ONE_OVER)]
    path.write_text(CSV_HEAD + "".join(rows), encoding="utf-8")
    code, out, err = run(capsys, "contacts", "import", str(path), "--db", any_url)
    assert "Traceback" not in err and code in (0, 1)
    assert err.splitlines() == [f"{path}: line {i + 3}: {reason} (skipped)"
                                for i, (_, _, reason) in enumerate(ONE_OVER)]
    assert ": 1 new, 0 updated, 0 unchanged" in out
    db = open_database(any_url)
    with db.connect() as conn:                       # the row at every limit went in whole
        stored = conn.execute(select(contacts)).one()._mapping
        tags = sorted(conn.execute(select(contact_tags.c.tag)).scalars())
    db.dispose()
    assert (stored["id"], stored["email"], stored["phone"], stored["first_name"], stored["last_name"],
            stored["timezone"]) == AT_THE_LIMITS[:6]
    assert tags == ["t" * 100, "vip"]


def test_a_column_name_no_database_keeps_refuses_the_file_and_a_long_one_is_kept():
    rows, problems = parse_contacts("id,ci\x00ty\nc1,1\n")
    assert rows == [] and [p.line for p in problems] == [1] and "NUL" in problems[0].reason
    rows, problems = parse_contacts("id,ci\udc00ty\nc1,1\n")
    assert rows == [] and "lone surrogate" in problems[0].reason
    rows, problems = parse_contacts("id," + "x" * 300 + "\nc1,1\n")     # an attribute; too long for the catalog
    assert problems == [] and rows[0].attributes == {"x" * 300: "1"}


def test_a_lone_surrogate_handed_in_as_text_is_refused():
    rows, problems = parse_contacts("id,city\nc1,Pa\ud800ris\nc2,Rome\n")
    assert [r.id for r in rows] == ["c2"] and "city contains a lone surrogate (\\ud800)" in problems[0].reason


# --- events -----------------------------------------------------------------------------------------

BAD_EVENTS = [   # (line, reason)
    ('{"contact": "c1", "type": "page_viewed", "at": "' + AT + '", "properties": {"note": "a\\u0000b"}}',
     "at /properties/note: contains a NUL character (\\u0000), which is not text the store can keep"),
    ('{"contact": "c1", "type": "page_viewed", "at": "' + AT + '", "properties": {"score": NaN}}',
     "at /properties/score: NaN is not a number JSON allows; write a number"),
    ('{"contact": "c1", "type": "page_viewed", "at": "' + AT + '", "properties": {"x": [1, Infinity]}}',
     "at /properties/x/1: Infinity is not a number JSON allows; write a number"),
    ('{"contact": "c1", "type": "page_viewed", "at": "' + AT + '", "properties": {"x": -Infinity}}',
     "at /properties/x: -Infinity is not a number JSON allows; write a number"),
    ('{"contact": "c1", "type": "page_viewed", "at": "' + AT + '", "properties": {"x": 1e999}}',
     "at /properties/x: the number is too large (not finite); numbers must be finite"),
    ('{"contact": "c1", "type": "page_viewed", "at": "' + AT + '", "properties": {"x": ' + "7" * 5000 + "}}",
     "at /properties/x: a number with 5000 digits is too large; numbers must be finite"),
    ('{"contact": "c1", "type": "page_viewed", "at": "' + AT + '", "properties": {"\\udc80": 1}}',
     "at /properties/\\udc80: the name contains a lone surrogate (\\udc80), which is not a character (an "
     "escape with its pair missing); remove it or write the character itself"),
    ('{"contact": "c\\ud800", "type": "page_viewed", "at": "' + AT + '"}',
     "at /contact: contains a lone surrogate (\\ud800), which is not a character (an escape with its pair "
     "missing); remove it or write the character itself"),
    ('{"contact": "c1", "type": "order_placed", "at": "' + AT + '", "properties": {"total": 1e20}}',
     "order_placed 'total' must be at most 999,999,999,999.99 (the largest amount the store keeps), not 1e+20"),
    ('{"contact": "c1", "type": "order_placed", "at": "' + AT + '", "properties": {"total": 1000000000000}}',
     "order_placed 'total' must be at most 999,999,999,999.99 (the largest amount the store keeps), not 1e+12"),
    ('{"contact": "c1", "type": "order_placed", "at": "' + AT + '", "properties": {"total": true}}',
     "order_placed 'total' must be a non-negative number, not True"),
    ('{"contact": "c1", "type": "' + "t" * 101 + '", "at": "' + AT + '"}', "'type' is longer than 100 characters"),
    ('{"contact": "' + "c" * 201 + '", "type": "page_viewed", "at": "' + AT + '"}',
     "'contact' is longer than 200 characters"),
    ('{"contact": "c1", "type": "page_viewed", "at": "9999-12-31T23:59:59-14:00"}',
     "'at' 9999-12-31T23:59:59-14:00 must be within 100 years of today (between "),
    ('{"contact": "c1", "type": "page_viewed", "at": "\u0662\u0660\u0662\u0666-03-01T10:00:00Z"}',
     "'at' '\u0662\u0660\u0662\u0666-03-01T10:00:00Z' is not an ISO-8601 time with a time zone"),
    ('{"contact": "c1", "type": "page_viewed", "at": "' + AT + '", "properties": ' + "[" * 1000 + "]" * 1000 + "}",
     "not valid JSON (nested more than 64 levels deep)"),
    ('{"contact": "c1", "type": "page_viewed", "at": "' + AT + '", "properties": {"a": ' + "[" * 80 + "]" * 80 + "}}",
     "at /properties/a/0/0/0/0/0/0/0/0/0/0/…: is nested too deeply (more than 64 levels of objects and lists)"),
]
GOOD = [   # properties as written, as stored on both databases
    ({"zero": -0.0, "also": -0, "big": 1e20, "huge": 10**30, "pi": 3.25, "tiny": 1e-7},
     {"zero": 0.0, "also": 0, "big": 10**20, "huge": 10**30, "pi": 3.25, "tiny": 1e-7}),
]


def test_event_values_postgresql_would_refuse_are_refused_alike_on_both_databases(any_url, tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    good = [event(properties=written) for written, _ in GOOD]
    good.append(json.dumps({"contact": "c2", "type": "order_placed", "at": AT, "properties": {"total": MAX_AMOUNT}}))
    path.write_text("\n".join([line for line, _ in BAD_EVENTS] + good) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "events", "import", str(path), "--db", any_url)
    assert "Traceback" not in err and code in (0, 1)
    lines = err.splitlines()
    assert len(lines) == len(BAD_EVENTS)
    for number, (line, (_, reason)) in enumerate(zip(lines, BAD_EVENTS), start=1):
        assert line.startswith(f"{path}: line {number}: {reason}"), line
    assert f": {len(good)} new, 0 already present" in out
    db = open_database(any_url)
    with db.connect() as conn:
        stored = [r.properties for r in conn.execute(select(events.c.properties).order_by(events.c.id))]
        spend = conn.execute(select(contacts.c.lifetime_spend).where(contacts.c.id == "c2")).scalar()
    db.dispose()
    assert stored[:len(GOOD)] == [kept for _, kept in GOOD]
    assert [type(v) for v in stored[0].values()] == [type(v) for v in GOOD[0][1].values()]
    assert float(spend) == MAX_AMOUNT


def test_a_total_at_most_the_column_is_kept_and_one_cent_more_is_not():
    found, problems = parse_events("\n".join([
        json.dumps({"contact": "c", "type": "order_placed", "at": AT, "properties": {"total": MAX_AMOUNT}}),
        json.dumps({"contact": "c", "type": "order_placed", "at": AT, "properties": {"total": 1e12}}),
        json.dumps({"contact": "c", "type": "order_placed", "at": AT, "properties": {"total": -0.0}})]))
    assert [e.properties["total"] for e in found] == [MAX_AMOUNT, 0.0] and [p.line for p in problems] == [2]
    assert float(numeric_ceiling(contacts.c.lifetime_spend)) == MAX_AMOUNT


def test_dates_within_a_century_are_kept():
    found, problems = parse_events("\n".join([
        json.dumps({"contact": "c", "type": "x", "at": "1930-01-01T00:00:00Z"}),
        json.dumps({"contact": "c", "type": "x", "at": "0001-01-01T00:00:00+14:00"}),
        json.dumps({"contact": "c", "type": "x", "at": "2120-01-01T00:00:00-12:00"})]))
    assert len(found) == 2 and [p.line for p in problems] == [2]


def test_event_files_answer_alike_whatever_the_database(tmp_path: Path, capsys):
    """The reasons come from the file alone: the same lines, checked twice, give the same words."""
    text = "\n".join(line for line, _ in BAD_EVENTS)
    first = [str(p) for p in parse_events(text)[1]]
    assert first == [str(p) for p in parse_events(text)[1]] and len(first) == len(BAD_EVENTS)
