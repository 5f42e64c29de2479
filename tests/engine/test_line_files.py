"""Files read as written: JSON lines split on "\n" only, CSV records on their own line ends, with
line numbers as an editor shows them."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.cli import main
from app.engine.importers import json_lines, parse_contacts, parse_events
from app.store.db import open_database
from app.store.tables import contacts, events

# Separators str.splitlines() splits at, all legal raw inside a JSON string.
SEPARATORS = ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


def _line(contact: str, note: str) -> str:
    record = {"contact": contact, "type": "review_left", "at": "2026-03-01T10:00:00Z", "properties": {"note": note}}
    return json.dumps(record, ensure_ascii=False)


def three_lines() -> str:
    """A valid 3-line file whose strings hold U+2028 and U+0085 raw."""
    return "\n".join([_line("c1", "great\u2028shop"), _line("c2", "fast\u0085delivery"),
                      _line("c3", "line\u2028one\u0085two")]) + "\n"


def test_a_three_line_file_with_unicode_separators_in_strings_is_three_events():
    found, problems = parse_events(three_lines())
    assert problems == []
    assert [(e.contact, e.properties["note"]) for e in found] == [
        ("c1", "great\u2028shop"), ("c2", "fast\u0085delivery"), ("c3", "line\u2028one\u0085two")]


@pytest.mark.parametrize("separator", SEPARATORS)
def test_every_separator_splitlines_knows_stays_inside_its_line(separator):
    text = "\n".join(_line(f"c{i}", f"a{separator}b") for i in range(3))
    found, problems = parse_events(text)
    assert problems == [] and [e.properties["note"] for e in found] == [f"a{separator}b"] * 3


def test_windows_line_ends_and_blank_lines_keep_the_line_numbers_right():
    text = "\r\n".join([_line("c1", "x\u2028y"), "", "{broken", _line("c2", "ok"), "[1]"]) + "\r\n"
    found, problems = parse_events(text)
    assert [e.contact for e in found] == ["c1", "c2"]
    assert [p.line for p in problems] == [3, 5]
    assert list(json_lines("a\r\nb\u2028c\nd")) == [(1, "a"), (2, "b\u2028c"), (3, "d")]


def test_a_nul_character_is_a_bad_line_not_a_failed_import():
    text = _line("c1", "fine") + "\n" + _line("c2", "bad\x00") + "\n"
    found, problems = parse_events(text)
    assert [e.contact for e in found] == ["c1"] and [p.line for p in problems] == [2]
    assert problems[0].reason.startswith("at /properties/note: contains a NUL character (\\u0000)")


def test_csv_values_with_unicode_separators_stay_in_their_row_and_lines_count_from_where_a_record_starts():
    text = ('id,first_name,city\r\n'
            'a1,Ann\u2028Marie,Paris\u0085Nord\r\n'
            'a2,Bo,"Lon\r\ndon"\r\n'
            'a3,Cy,Rome,extra\r\n'
            'a4,Di\x00,Oslo\r\n')
    rows, problems = parse_contacts(text)
    assert [(r.line, r.id, r.fields["first_name"], r.attributes["city"]) for r in rows] == [
        (2, "a1", "Ann\u2028Marie", "Paris\u0085Nord"), (3, "a2", "Bo", "Lon\r\ndon")]
    assert [p.line for p in problems] == [5, 6]


def test_the_cli_imports_the_three_events(tmp_path, capsys):
    path = tmp_path / "reviews.jsonl"
    path.write_text(three_lines(), encoding="utf-8")
    db = tmp_path / "db.sqlite3"
    code = main(["events", "import", str(path), "--db", str(db)])
    out = capsys.readouterr()
    assert code == 0 and out.err == ""
    assert out.out.strip().startswith(f"Imported 3 event(s) from {path}; 0 duplicate(s) skipped")
    engine = open_database(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = sorted(conn.execute(select(events.c.contact_id, events.c.properties)))
    engine.dispose()
    assert [(c, p["note"]) for c, p in stored] == [
        ("c1", "great\u2028shop"), ("c2", "fast\u0085delivery"), ("c3", "line\u2028one\u0085two")]


def test_the_cli_imports_csv_contacts_with_separators_in_values(tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text("id,first_name\nann,Ann\u2028Marie\nbo,Bo\u0085Li\n", encoding="utf-8")
    db = tmp_path / "db.sqlite3"
    assert main(["contacts", "import", str(path), "--db", str(db)]) == 0
    assert "Imported 2 contact(s)" in capsys.readouterr().out
    engine = open_database(f"sqlite:///{db}")
    with engine.connect() as conn:
        names = {r.id: r.first_name for r in conn.execute(select(contacts.c.id, contacts.c.first_name))}
    engine.dispose()
    assert names == {"ann": "Ann\u2028Marie", "bo": "Bo\u0085Li"}
