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


def _contacts_dialog(window, qtbot, monkeypatch, path):
    """File → Import contacts with `path`: the import dialog, once it has read the file (and dry-run it)."""
    from ..ui.test_contact_import_dialog import _dialog

    return _dialog(window, qtbot, monkeypatch, path)


def _import(dialog, qtbot) -> None:
    from ..ui.test_contact_import_dialog import _import as imported

    imported(dialog, qtbot)


def test_importing_contacts_keeps_the_good_rows_and_names_the_bad_lines(window, qtbot, monkeypatch, tmp_path):
    csv = tmp_path / "shoppers.csv"
    csv.write_text("id,email,first_name,loyalty_tier\nann,ann@example.com,Ann,gold\n"
                   ",nobody@example.com,No id,\n,not-an-email,Bo,\ncy,cy@example.com,Cy,silver\n")
    dialog = _contacts_dialog(window, qtbot, monkeypatch, csv)
    _import(dialog, qtbot)
    assert _count(window, contacts) == 3         # a row without an id is matched by its email (issue 12)
    assert dialog.result_text.startswith("Imported contacts from shoppers.csv (Journey Studio contacts): 3 new, "
                                         "0 updated, 0 unchanged; 1 bad row(s) skipped")
    assert "line 4: email &#x27;not-an-email&#x27;" in dialog.summary.text()
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


def test_a_bad_byte_refuses_only_its_row(window, qtbot, monkeypatch, tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_bytes("id,first_name\nann,Zoë\nbo,Bø\n".encode() + b"z\x81,Z\n")     # UTF-8, one stray byte
    dialog = _contacts_dialog(window, qtbot, monkeypatch, odd)
    assert "line 4: holds the byte 0x81" in dialog.summary.text()
    _import(dialog, qtbot)
    assert _count(window, contacts) == 2


def test_a_european_excel_csv_is_read_as_written(window, qtbot, monkeypatch, tmp_path):
    """Excel's plain "CSV" save in Europe: semicolons between columns, Windows-1252 text."""
    sheet = tmp_path / "excel.csv"
    sheet.write_bytes("id;email;first_name\r\nzoe;zoe@example.com;Zoé\r\n".encode("cp1252"))
    dialog = _contacts_dialog(window, qtbot, monkeypatch, sheet)
    assert dialog.about.text() == "excel.csv · Windows-1252, semicolon-separated · 1 row found"
    _import(dialog, qtbot)
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


def test_an_import_into_a_busy_database_says_so_and_goes_in_once_it_is_free(short_busy_wait, window, qtbot,
                                                                            monkeypatch, db_path, tmp_path):
    import sqlite3

    csv = tmp_path / "shoppers.csv"
    csv.write_text("id,email\nann,ann@example.com\n")
    other = sqlite3.connect(db_path, isolation_level=None)        # another process, mid-write
    other.execute("BEGIN IMMEDIATE")
    try:
        dialog = _contacts_dialog(window, qtbot, monkeypatch, csv)
        assert "the database is busy (another Journey Studio process is writing); try again" in dialog.message.text()
        dialog.import_button.click()
        qtbot.waitUntil(lambda: "The import stopped" in dialog.message.text(), timeout=10000)
        assert "Nothing was written" in dialog.message.text()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _count(window, contacts) == 0
    qtbot.waitUntil(lambda: dialog.import_button.isEnabled() and not dialog.busy(), timeout=10000)
    _import(dialog, qtbot)                                        # free again: it goes in
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
    dialog = _contacts_dialog(window, qtbot, monkeypatch, _shoppers(tmp_path, 12_000))
    shown: list[tuple[int, float, str]] = []
    advanced = dialog._advanced

    def watch(done: int, share: float) -> None:
        advanced(done, share)
        shown.append((done, share, dialog.progress.format()))
    monkeypatch.setattr(dialog, "_advanced", watch)
    _import(dialog, qtbot)
    assert [done for done, _, _ in shown] == [5_000, 10_000, 12_000]
    assert shown[-1][1] == 1.0 and all(0 < share <= 1 for _, share, _ in shown)
    assert shown[0][2] == "Importing… 5,000 rows so far (%p%)"
    assert _count(window, contacts) == 12_000 and not dialog.progress.isVisible()
    assert "Imported contacts from many.csv" in window.statusBar().currentMessage()
