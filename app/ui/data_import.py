"""File → Import contacts / events: the same readers as `journeys contacts import` and
`journeys events import`, with bad lines reported and every good one kept.

Parsing happens here (a file a person picked is small enough); the writes and the
engine's reaction to the events run on the engine host's worker.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.engine.ingest import Ingested
from app.engine.importers import (ContactImport, Problem, import_contacts_report, parse_contacts, parse_events,
                                  read_csv_text, read_text)

if TYPE_CHECKING:
    from .main_window import MainWindow

SHOWN_PROBLEMS = 8


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _listed(items: list[Problem]) -> str:
    lines = "\n".join(f"• {p}" for p in items[:SHOWN_PROBLEMS])
    return lines + (f"\n… and {len(items) - SHOWN_PROBLEMS} more" if len(items) > SHOWN_PROBLEMS else "")


def _report(window: "MainWindow", title: str, done: str, problems: list[Problem], unit: str,
            notices: list[Problem] | None = None) -> None:
    if not problems and not notices:
        window.statusBar().showMessage(done, 8000)
        return
    text = done
    if problems:
        text += (f"\n\n{_plural(len(problems), unit)} could not be read and "
                 f"{'was' if len(problems) == 1 else 'were'} skipped:\n{_listed(problems)}\n\n"
                 "Fix them in the file and import it again: the good ones are not doubled.")
    if notices:
        text += (f"\n\n{_plural(len(notices), 'opt-out')} stayed as {'it was' if len(notices) == 1 else 'they were'}"
                 f" (a file never clears an opt-out):\n{_listed(notices)}")
    QMessageBox.warning(window, title, text)


def _pick(window: "MainWindow", caption: str, pattern: str,
          read: Callable[[str], str] = read_text) -> tuple[str, str] | None:
    """The chosen file's path and text, or None (cancelled, or it could not be read: said why)."""
    path, _ = QFileDialog.getOpenFileName(window, caption, "", pattern)
    if not path:
        return None
    try:
        return path, read(path)
    except (OSError, UnicodeDecodeError) as exc:
        QMessageBox.warning(window, caption, f"{Path(path).name} could not be read.\n\n{exc}")
        return None


def _run(window: "MainWindow", title: str, work: Callable[[], Any], done: str | Callable[[Any], str],
         problems: list[Problem], unit: str) -> None:
    """Runs `work` on the engine's worker; then reports `done` (or `done(result)`) and any problems."""
    def finished(result: Any) -> None:
        window.refresh_catalog()
        window.run_controls.poll()
        contacts = getattr(window, "contacts_dialog", None)
        if contacts is not None and contacts.isVisible():
            contacts.run_search()          # what was imported shows in the open Contacts dialog
        _report(window, title, done(result) if callable(done) else done, problems, unit,
                result.notices if isinstance(result, ContactImport) else None)

    def failed(exc: Exception) -> None:
        # Imports commit in chunks: what went in before the fault stays, and a re-run adds only the rest.
        QMessageBox.warning(window, title, f"The import stopped: {exc}\n\nWhatever was imported before it "
                                           "stopped is kept; import the file again to add the rest — nothing "
                                           "is counted twice.")

    window.host.submit(work, finished, failed)


def import_contacts_file(window: "MainWindow") -> None:
    picked = _pick(window, "Import contacts", "Contacts (*.csv);;All files (*)", read_csv_text)
    if picked is None:
        return
    path, text = picked
    rows, problems = parse_contacts(text)
    name = Path(path).name
    if not rows:
        _report(window, "Import contacts", f"No contacts were imported from {name}.", problems, "line")
        return
    db = window.store.engine
    _run(window, "Import contacts", lambda: import_contacts_report(db, rows, datetime.now(timezone.utc), name),
         lambda done: f"Imported {_plural(len(rows), 'contact')} from {name}: {done.summary()}.", problems, "line")


def import_events_file(window: "MainWindow") -> None:
    picked = _pick(window, "Import events", "Events, one JSON object per line (*.jsonl *.json);;All files (*)")
    if picked is None:
        return
    path, text = picked
    found, problems = parse_events(text)
    name = Path(path).name
    if not found:
        _report(window, "Import events", f"No events were imported from {name}.", problems, "line")
        return
    host = window.host
    _run(window, "Import events", lambda: host.engine.ingest(found), lambda done: _events_done(done, name),
         problems, "line")


def _events_done(done: Ingested, name: str) -> str:
    """What an events import did, short enough for the status bar: new and already present (each
    event counts once), feedback that matched no message (ignored), events set aside (dead-lettered)."""
    parts = [f"Imported events from {name}: {done.summary()}"]
    if done.unmatched:
        parts.append(f"{_plural(done.unmatched, 'feedback event')} matched no message (ignored)")
    if done.dead:       # the rest were applied; `journeys events dead-letters` lists these with the reason
        parts.append(f"{_plural(len(done.dead), 'event')} could not be applied and {'was' if len(done.dead) == 1 else 'were'}"
                     f" set aside (first: {done.dead[0][1]})")
    if len(parts) == 1 and done.stored:
        parts[0] += "; active journeys have reacted to the new ones"
    return "; ".join(parts) + "."
