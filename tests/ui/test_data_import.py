"""File → Import contacts / events: bad lines are reported with their numbers, good ones kept,
and the running journeys react to the events."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox
from sqlalchemy import func, select

from app.paths import RESOURCES
from app.store.tables import contacts, runs


def _choose(monkeypatch, path) -> list[str]:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a, **k: warnings.append(text))
    return warnings


def _confirm(window, qtbot, history: bool | None = None):
    """Answers the import dialog (what the file is; "past data…"): as offered, or with `history` set."""
    from app.ui.import_choice import ImportChoiceDialog

    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(ImportChoiceDialog)), timeout=10000)
    dialog = next(d for d in window.findChildren(ImportChoiceDialog) if d.isVisible())
    offered = dialog.history.isChecked()
    if history is not None:
        dialog.history.setChecked(history)
    dialog.import_button.click()
    return dialog, offered


def _count(window, table) -> int:
    with window.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_importing_contacts_keeps_the_good_rows_and_names_the_bad_lines(window, qtbot, monkeypatch, tmp_path):
    csv = tmp_path / "shoppers.csv"
    csv.write_text("id,email,first_name,loyalty_tier\nann,ann@example.com,Ann,gold\n"
                   ",nobody@example.com,No id,\nbo,not-an-email,Bo,\ncy,cy@example.com,Cy,silver\n")
    warnings = _choose(monkeypatch, csv)
    window.actions_["import_contacts"].trigger()
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert _count(window, contacts) == 3         # a row without an id is matched by its email (issue 12)
    assert "Imported 3 contacts from shoppers.csv: 3 new, 0 updated, 0 unchanged" in warnings[0]
    assert "line 4: email 'not-an-email'" in warnings[0]
    assert "loyalty_tier" in window.editor.catalog.contact_attributes     # suggested in templates from now on


def test_importing_events_moves_contacts_into_the_active_journey(window, qtbot, monkeypatch):
    journey_id = window.session.journey_id
    window.actions_["activate"].trigger()
    qtbot.waitUntil(lambda: window.store.get(journey_id).status == "active", timeout=5000)
    _choose(monkeypatch, RESOURCES / "sample_events.jsonl")
    window.actions_["import_events"].trigger()
    _, offered = _confirm(window, qtbot, history=False)       # March's events: offered as past data
    assert offered
    qtbot.waitUntil(lambda: "events from sample_events.jsonl" in window.statusBar().currentMessage(), timeout=10000)
    assert _count(window, runs) > 0
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    trigger = next(n for n in window.editor.journey.nodes.values() if n.kind == "trigger")
    assert window.editor.scene.item_for_node[trigger.id].stats_text().endswith("entered")
    assert window.editor.scene.item_for_node[trigger.id].stats_text() != "0 entered"


def test_a_file_that_cannot_be_read_is_reported_and_nothing_changes(window, qtbot, monkeypatch, tmp_path):
    broken = tmp_path / "binary.csv"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 300)      # not text at all
    warnings = _choose(monkeypatch, broken)
    window.actions_["import_contacts"].trigger()
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert len(warnings) == 1 and "binary.csv could not be read" in warnings[0]
    assert _count(window, contacts) == 0


def test_a_bad_byte_refuses_only_its_row(window, qtbot, monkeypatch, tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_bytes("id,first_name\nann,Zoë\nbo,Bø\n".encode() + b"z\x81,Z\n")     # UTF-8, one stray byte
    warnings = _choose(monkeypatch, odd)
    window.actions_["import_contacts"].trigger()
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert _count(window, contacts) == 2 and "line 4: holds the byte 0x81" in warnings[0]


def test_a_mailchimp_export_zip_imports_with_each_files_status(window, qtbot, monkeypatch):
    from app.store.contacts import contact_detail

    warnings = _choose(monkeypatch, RESOURCES / "samples" / "members_export_2f1a9c4b7e.zip")
    window.actions_["import_contacts"].trigger()
    qtbot.waitUntil(lambda: bool(warnings), timeout=10000)      # the birthday that is not a date is listed
    assert _count(window, contacts) == 5
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    states = {c.channel: c.state for c in contact_detail(window.store.engine, "noah.fischer@example.com").consent}
    assert states["email"] == "unsubscribed"


def test_a_european_excel_csv_is_read_as_written(window, qtbot, monkeypatch, tmp_path):
    """Excel's plain "CSV" save in Europe: semicolons between columns, Windows-1252 text."""
    sheet = tmp_path / "excel.csv"
    sheet.write_bytes("id;email;first_name\r\nzoe;zoe@example.com;Zoé\r\n".encode("cp1252"))
    _choose(monkeypatch, sheet)
    window.actions_["import_contacts"].trigger()
    qtbot.waitUntil(lambda: _count(window, contacts) == 1, timeout=5000)
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    with window.store.engine.connect() as conn:
        assert conn.execute(select(contacts.c.first_name)).scalar() == "Zoé"


def test_importing_the_same_events_again_says_they_were_duplicates_and_changes_nothing(window, qtbot, monkeypatch):
    journey_id = window.session.journey_id
    window.actions_["activate"].trigger()
    qtbot.waitUntil(lambda: window.store.get(journey_id).status == "active", timeout=5000)
    _choose(monkeypatch, RESOURCES / "sample_events.jsonl")
    lines = sum(1 for line in (RESOURCES / "sample_events.jsonl").read_text().split("\n") if line.strip())
    window.actions_["import_events"].trigger()
    _confirm(window, qtbot, history=False)
    qtbot.waitUntil(lambda: "events from sample_events.jsonl" in window.statusBar().currentMessage(), timeout=10000)
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    before = (_count(window, runs), _count(window, contacts))
    window.statusBar().clearMessage()
    window.actions_["import_events"].trigger()
    _confirm(window, qtbot, history=False)
    qtbot.waitUntil(lambda: "already present" in window.statusBar().currentMessage(), timeout=10000)
    assert window.statusBar().currentMessage().startswith(
        f"Imported events from sample_events.jsonl: 0 new, {lines} already present")
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    assert (_count(window, runs), _count(window, contacts)) == before


def test_a_json_lines_file_with_unicode_separators_in_strings_imports_every_line(window, qtbot, monkeypatch, tmp_path):
    from app.store.tables import events

    from ..engine.test_line_files import three_lines

    path = tmp_path / "reviews.jsonl"
    path.write_text(three_lines(), encoding="utf-8")
    warnings = _choose(monkeypatch, path)
    window.actions_["import_events"].trigger()
    _confirm(window, qtbot)
    qtbot.waitUntil(lambda: "Imported events from reviews.jsonl: 3 new" in window.statusBar().currentMessage(),
                    timeout=10000)
    assert warnings == [] and _count(window, events) == 3


@pytest.fixture
def short_busy_wait(monkeypatch):
    """Before the window's database connects: a writer gives up on a busy database after 0.2 s."""
    monkeypatch.setenv("JOURNEYS_BUSY_TIMEOUT", "0.2")


def test_an_import_into_a_busy_database_says_so_and_that_a_re_run_adds_the_rest(short_busy_wait, window, qtbot,
                                                                                  monkeypatch, db_path, tmp_path):
    import sqlite3

    csv = tmp_path / "shoppers.csv"
    csv.write_text("id,email\nann,ann@example.com\n")
    warnings = _choose(monkeypatch, csv)
    other = sqlite3.connect(db_path, isolation_level=None)        # another process, mid-write
    other.execute("BEGIN IMMEDIATE")
    try:
        window.actions_["import_contacts"].trigger()
        qtbot.waitUntil(lambda: bool(warnings), timeout=10000)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "the database is busy (another Journey Studio process is writing); try again" in warnings[0]
    assert "import the file again to add the rest" in warnings[0]
    assert _count(window, contacts) == 0
    window.actions_["import_contacts"].trigger()                  # free again: it goes in
    qtbot.waitUntil(lambda: len(warnings) == 2 or _count(window, contacts) == 1, timeout=10000)
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    assert _count(window, contacts) == 1


def test_the_status_bar_says_which_events_were_set_aside():
    """Issue 9 §3: an event that could not be applied is dead-lettered; the import says so in one line."""
    from datetime import datetime, timezone

    from app.engine.ingest import EventIn, Ingested
    from app.ui.data_import import _events_done

    bad = EventIn("s250", "order_placed", datetime(2026, 3, 2, tzinfo=timezone.utc), {})
    text = _events_done(Ingested(stored=499, dead=[(bad, "ArithmeticError: spend overflow")]), "events.jsonl")
    assert text == ("Imported events from events.jsonl: 499 new, 0 already present; 1 event could not be applied "
                    "and was set aside (first: ArithmeticError: spend overflow).")


def _shoppers(tmp_path, rows: int):
    csv = tmp_path / "many.csv"
    csv.write_text("id,email\n" + "".join(f"p{i},p{i}@example.com\n" for i in range(rows)))
    return csv


def test_a_big_import_shows_its_progress_while_the_worker_writes(window, qtbot, monkeypatch, tmp_path):
    from app.ui.data_import import ImportProgress

    warnings = _choose(monkeypatch, _shoppers(tmp_path, 12_000))
    window.actions_["import_contacts"].trigger()
    progress = window.findChild(ImportProgress)
    shown: list[tuple[int, float]] = []
    labels: list[str] = []
    progress.advanced.connect(lambda done, share: (shown.append((done, share)),
                                                   labels.append(progress.dialog.labelText())))
    qtbot.waitUntil(lambda: "Imported 12,000 contacts from many.csv" in window.statusBar().currentMessage(),
                    timeout=20000)
    assert [done for done, _ in shown] == [5_000, 10_000, 12_000]
    assert shown[-1][1] == 1.0 and all(0 < share <= 1 for _, share in shown)
    assert labels[0] == "Importing many.csv\n5,000 contacts so far…"
    assert warnings == [] and _count(window, contacts) == 12_000
    assert window.findChild(ImportProgress) is None or not progress.dialog.isVisible()


def test_cancel_stops_a_big_import_between_chunks_and_keeps_what_went_in(window, qtbot, monkeypatch, tmp_path):
    from app.ui.data_import import ImportProgress

    warnings = _choose(monkeypatch, _shoppers(tmp_path, 12_000))
    window.actions_["import_contacts"].trigger()
    window.findChild(ImportProgress).dialog.canceled.emit()      # the user presses Cancel (or Esc) at once
    qtbot.waitUntil(lambda: bool(warnings), timeout=20000)
    assert "The import was cancelled (cancelled after 5,000 rows)" in warnings[0]
    assert "import the file again to add the rest" in warnings[0]
    assert _count(window, contacts) == 5_000
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    window.actions_["import_contacts"].trigger()             # the re-run adds the rest, nothing twice
    qtbot.waitUntil(lambda: "many.csv: 7000 new, 0 updated, 5000 unchanged" in window.statusBar().currentMessage(),
                    timeout=20000)
    assert _count(window, contacts) == 12_000
