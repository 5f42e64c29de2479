"""Contacts files read as people save them (issue 12): delimiters, encodings, line ends, quoted
newlines, a bad byte or row that never refuses the file, and exit codes that tell the truth."""
from __future__ import annotations

import pytest

from app.store.contacts import contact_detail
from app.store.db import open_database

from .helpers import run_cli

ROWS = [["id", "email", "first_name", "city"], ["c1", "ann@example.com", "Zoë", "Köln"],
        ["c2", "bo@example.com", "Renée", "Genève"], ["c3", "cy@example.com", "Ærø", "Malmö"]]


def _names(db: str) -> dict[str, tuple[str, str]]:
    engine = open_database(f"sqlite:///{db}")
    try:
        found = {}
        for cid in ("c1", "c2", "c3"):
            d = contact_detail(engine, cid)
            if d is not None:
                found[cid] = (d.fields["first_name"], d.attributes.get("city"))
        return found
    finally:
        engine.dispose()


def _text(delimiter: str, newline: str) -> str:
    return "".join(delimiter.join(r) + newline for r in ROWS)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding, bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16", b""),
                                           ("cp1252", b""), ("latin-1", b"")])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_is_read_whatever_its_delimiter_encoding_and_line_ends(tmp_path, capsys, delimiter, encoding, bom,
                                                                      newline):
    path = tmp_path / "people.csv"
    path.write_bytes(bom + _text(delimiter, newline).encode(encoding))
    db = str(tmp_path / "db.sqlite3")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", db)
    assert code == 0 and err == "" and "3 new" in out
    assert _names(db) == {"c1": ("Zoë", "Köln"), "c2": ("Renée", "Genève"), "c3": ("Ærø", "Malmö")}


@pytest.mark.parametrize("encoding, people", [
    ("cp1250", [("Łukasz", "Łódź"), ("Jiří", "Brno"), ("Żaneta", "Gdańsk")]),
    ("cp1251", [("Иван", "Москва"), ("Ольга", "Казань"), ("Пётр", "Омск")]),
])
def test_a_file_in_another_code_page_is_read_in_its_own(tmp_path, capsys, encoding, people):
    path = tmp_path / "people.csv"
    rows = "".join(f"c{i};p{i}@example.com;{name};{city}\r\n" for i, (name, city) in enumerate(people, start=1))
    path.write_bytes(("id;email;first_name;city\r\n" + rows).encode(encoding))
    db = str(tmp_path / "db.sqlite3")
    assert run_cli(capsys, "contacts", "import", str(path), "--db", db)[0] == 0
    assert _names(db) == {f"c{i}": p for i, p in enumerate(people, start=1)}


@pytest.mark.parametrize("people", [
    [("Zoë", "Müller")],                                     # a Cyrillic code page reads "Zoл Mьller"
    [("José", "Peña"), ("Inês", "Évora")],
    [("Søren", "Ærø"), ("Åsa", "Göteborg")],
    [("Zoë", "Köln"), ("François", "Orléans"), ("Jürgen", "Düsseldorf")],
])
def test_a_short_western_file_is_not_read_in_a_cyrillic_code_page(tmp_path, capsys, people):
    """A few accented names are too little for a detector to tell Windows-1252 from Windows-1251 by
    statistics; letters of two scripts in one word ("Mьller") are what tells them apart."""
    path = tmp_path / "people.csv"
    rows = "".join(f"c{i};p{i}@example.com;{name};{city}\r\n" for i, (name, city) in enumerate(people, start=1))
    path.write_bytes(("id;email;first_name;city\r\n" + rows).encode("cp1252"))
    db = str(tmp_path / "db.sqlite3")
    assert run_cli(capsys, "contacts", "import", str(path), "--db", db)[0] == 0
    assert _names(db) == {f"c{i}": p for i, p in enumerate(people, start=1)}


def test_one_bad_byte_refuses_only_its_row(tmp_path, capsys):
    text = _text(",", "\r\n").encode("utf-8")
    path = tmp_path / "people.csv"
    path.write_bytes(text.replace("Renée".encode(), b"Ren\xe9e"))      # one Windows-1252 byte in a UTF-8 file
    db = str(tmp_path / "db.sqlite3")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", db)
    assert code == 0 and "2 new" in out and "1 bad row(s) skipped" in out
    assert "line 3: holds the byte 0xE9, which is not text in this file's encoding" in err
    assert set(_names(db)) == {"c1", "c3"}


def test_a_bad_row_is_reported_at_the_line_where_it_starts(tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text('id,email,note\r\nc1,ann@example.com,"two\r\nlines"\r\n,not-an-email,x\r\n'
                    'c3,"cy@example.com","a ""quoted""\nnote"\r\nc4,"x,y",z,extra\r\n', encoding="utf-8", newline="")
    db = str(tmp_path / "db.sqlite3")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", db)
    assert code == 0 and "2 new" in out
    assert "line 4: email 'not-an-email' is not an email address" in err
    assert "line 7: has 4 values but the header names 3 columns" in err
    engine = open_database(f"sqlite:///{db}")
    assert contact_detail(engine, "c3").attributes["note"] == 'a "quoted"\nnote'
    engine.dispose()


@pytest.mark.parametrize("text", ["id,email\n", "id,email\r\n\r\n", "Customer ID,First Name,Email\n"])
def test_a_header_with_no_rows_below_it_exits_1_saying_so(tmp_path, capsys, text):
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", str(tmp_path / "db.sqlite3"))
    assert code == 1 and "no rows below the header; nothing was imported" in err and "Traceback" not in err


@pytest.mark.parametrize("text", ["", "\ufeff", "\n\n", "name,city\nAnn,Paris\n"])
def test_an_unusable_header_exits_1_and_imports_nothing(tmp_path, capsys, text):
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", str(tmp_path / "db.sqlite3"))
    assert code == 1 and "nothing was imported" in err and "Traceback" not in err


def test_a_file_whose_every_row_is_bad_exits_1(tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text("email,first_name\nnope,Ann\nalso nope,Bo\n", encoding="utf-8")   # the email names each
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", str(tmp_path / "db.sqlite3"))
    assert code == 1 and "0 new" in out and err.count("(skipped)") == 2


@pytest.mark.parametrize("content, says", [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "a PNG image"),
    (b"\x7fELF" + b"\x00" * 200, "binary data"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200, "old Excel workbook"),
    (None, "no such file"),
])
def test_a_file_that_cannot_be_read_at_all_exits_2(tmp_path, capsys, content, says):
    path = tmp_path / "people.csv"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_cli(capsys, "contacts", "import", str(path), "--db", str(tmp_path / "db.sqlite3"))
    assert code == 2 and says in err and out == ""
