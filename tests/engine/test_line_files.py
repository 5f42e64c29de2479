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
    assert out.out.strip().startswith(f"Imported events from {path}: 3 new, 0 already present; 0 bad line(s) skipped")
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
    assert "2 new, 0 updated, 0 unchanged" in capsys.readouterr().out
    engine = open_database(f"sqlite:///{db}")
    with engine.connect() as conn:
        names = {r.id: r.first_name for r in conn.execute(select(contacts.c.id, contacts.c.first_name))}
    engine.dispose()
    assert names == {"ann": "Ann\u2028Marie", "bo": "Bo\u0085Li"}


def test_a_line_nested_too_deep_is_one_bad_line_with_its_number_not_a_crash():
    deep = '{"contact": "ann", "type": "x", "at": "2026-03-01T10:00:00Z", "properties": {"a": ' \
           + "[" * 50_000 + "]" * 50_000 + "}}"
    text = "\n".join([_line("ann", "one"), deep, _line("bob", "three")]) + "\n"
    found, problems = parse_events(text)
    assert [e.contact for e in found] == ["ann", "bob"]
    assert [p.line for p in problems] == [2] and "nested more than 64 levels deep" in str(problems[0])


def test_the_cli_refuses_a_journey_file_nested_too_deep_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text('{"format": "journey/1", "nodes": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    for args in (["validate", str(path)], ["import", str(path), "--db", str(tmp_path / "db.sqlite3")]):
        code = main(args)
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err
        assert "is nested too deeply (more than 64 levels of objects and lists)" in err


def _raw_line(contact: str, note: str) -> str:
    """A line as a spreadsheet or shop export writes it: the note's characters raw, not escaped."""
    return '{"contact": "%s", "type": "review_left", "at": "2026-03-01T10:00:00Z", "properties": {"note": "%s"}}' % (
        contact, note)


@pytest.mark.parametrize("separator", SEPARATORS + ["\t"])
def test_separators_written_raw_inside_strings_keep_a_three_line_file_three_events(separator):
    text = "\n".join(_raw_line(f"c{i}", f"a{separator}b") for i in range(3)) + "\n"
    found, problems = parse_events(text)
    assert problems == [] and [e.properties["note"] for e in found] == [f"a{separator}b"] * 3


def test_a_byte_order_mark_at_the_start_is_not_part_of_the_first_line_or_column():
    found, problems = parse_events("\ufeff" + three_lines())
    assert problems == [] and [e.contact for e in found] == ["c1", "c2", "c3"]
    rows, problems = parse_contacts('\ufeffid,first_name\r\nann,"Ann\r\nMarie"\r\n\r\nbo,Bo\r\ncy\r\n')
    assert [(r.line, r.id, r.fields["first_name"]) for r in rows] == [(2, "ann", "Ann\r\nMarie"), (5, "bo", "Bo")]
    assert [p.line for p in problems] == [6]


def test_a_final_line_without_newline_and_crlf_blank_lines_count_right(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    text = "\ufeff" + "\r\n".join([_raw_line("c1", "x\u2028y"), "", "{oops", _raw_line("c2", "p\x1cq")])
    path.write_bytes(text.encode("utf-8"))
    code = main(["events", "import", str(path), "--db", str(tmp_path / "db.sqlite3")])
    out = capsys.readouterr()
    assert code == 0 and ": 2 new, 0 already present; 1 bad line(s) skipped" in out.out    # taken, bad listed
    assert f"{path}: line 3: not valid JSON" in out.err and "line 4" not in out.err


@pytest.mark.parametrize("separator", [";", "\t"])
def test_csv_columns_separated_by_semicolons_or_tabs_are_read(separator):
    text = separator.join(["id", "email", "first_name", "tags"]) + "\r\n" + separator.join(
        ["ann", "ann@example.com", '"Ann; Marie"', "vip"]) + "\r\n"
    rows, problems = parse_contacts(text)
    assert problems == [] and [(r.id, r.fields["email"], r.fields["first_name"], r.tags) for r in rows] == [
        ("ann", "ann@example.com", "Ann; Marie", ["vip"])]


def test_a_comma_csv_keeps_semicolons_inside_values():
    rows, problems = parse_contacts('id,first_name,tags\nann,"Ann, Jr",vip;new\n')
    assert problems == [] and (rows[0].fields["first_name"], rows[0].tags) == ("Ann, Jr", ["vip", "new"])


def test_the_cli_imports_an_excel_csv_in_windows_1252_with_semicolons(tmp_path, capsys):
    path = tmp_path / "excel.csv"
    path.write_bytes("id;first_name;city\r\nzoe;Zoé;Málaga\r\nbo;Bø;Köln".encode("cp1252"))
    db = tmp_path / "db.sqlite3"
    assert main(["contacts", "import", str(path), "--db", str(db)]) == 0
    assert ": 2 new, 0 updated, 0 unchanged" in capsys.readouterr().out
    engine = open_database(f"sqlite:///{db}")
    with engine.connect() as conn:
        names = {r.id: r.first_name for r in conn.execute(select(contacts.c.id, contacts.c.first_name))}
    engine.dispose()
    assert names == {"zoe": "Zoé", "bo": "Bø"}


def test_a_csv_whose_lines_end_in_a_lone_carriage_return_is_read_line_by_line():
    """Excel for Mac's "CSV (Macintosh)" ends every line with \\r alone."""
    rows, problems = parse_contacts("id,first_name\rann,Ann\rbo,Bo\rcy,Cy,extra\r")
    assert [(r.line, r.id) for r in rows] == [(2, "ann"), (3, "bo")] and [p.line for p in problems] == [4]


def test_a_stray_carriage_return_is_a_bad_line_not_a_crash(tmp_path, capsys):
    rows, problems = parse_contacts("id,first_name\nann,A\rnn\nbo,Bo\n")
    assert [r.id for r in rows] == ["bo"] and [p.line for p in problems] == [2]
    assert "line break" in problems[0].reason and "universal-newline" not in problems[0].reason
    path = tmp_path / "odd.csv"
    path.write_bytes(b"id,first\r_name\nann,Ann\n")
    code = main(["contacts", "import", str(path), "--db", str(tmp_path / "db.sqlite3")])
    err = capsys.readouterr().err
    # No usable header: exit 1 (issue 12), one line; rows alone are bad rows.
    assert code == 1 and "Traceback" not in err and f"{path}: line 1: the first line cannot be read as CSV" in err
    assert len(err.strip().splitlines()) == 1


def test_files_joined_with_cat_keep_every_event_though_each_started_with_a_bom():
    text = "\ufeff" + _line("c1", "a") + "\r\n" + "\ufeff" + _line("c2", "b") + "\r\n"
    found, problems = parse_events(text)
    assert problems == [] and [e.contact for e in found] == ["c1", "c2"]
