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

from app.engine.importers import Problem, import_contacts, parse_contacts, parse_events, read_text

if TYPE_CHECKING:
    from .main_window import MainWindow

SHOWN_PROBLEMS = 8


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _report(window: "MainWindow", title: str, done: str, problems: list[Problem], unit: str) -> None:
    if not problems:
        window.statusBar().showMessage(done, 8000)
        return
    lines = "\n".join(f"• {p}" for p in problems[:SHOWN_PROBLEMS])
    more = f"\n… and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
    QMessageBox.warning(window, title, f"{done}\n\n{_plural(len(problems), unit)} could not be read and "
                                       f"{'was' if len(problems) == 1 else 'were'} skipped:\n{lines}{more}\n\n"
                                       "Fix them in the file and import it again: the good ones are not doubled.")


def _pick(window: "MainWindow", caption: str, pattern: str) -> tuple[str, str] | None:
    """The chosen file's path and text, or None (cancelled, or it could not be read: said why)."""
    path, _ = QFileDialog.getOpenFileName(window, caption, "", pattern)
    if not path:
        return None
    try:
        return path, read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        QMessageBox.warning(window, caption, f"{Path(path).name} could not be read.\n\n{exc}")
        return None


def _run(window: "MainWindow", title: str, work: Callable[[], Any], done: str, problems: list[Problem],
         unit: str) -> None:
    def finished(_: Any) -> None:
        window.refresh_catalog()
        window.run_controls.poll()
        _report(window, title, done, problems, unit)

    def failed(exc: Exception) -> None:
        QMessageBox.warning(window, title, f"Nothing was imported.\n\n{exc}")

    window.host.submit(work, finished, failed)


def import_contacts_file(window: "MainWindow") -> None:
    picked = _pick(window, "Import contacts", "Contacts (*.csv);;All files (*)")
    if picked is None:
        return
    path, text = picked
    rows, problems = parse_contacts(text)
    name = Path(path).name
    if not rows:
        _report(window, "Import contacts", f"No contacts were imported from {name}.", problems, "line")
        return
    db = window.store.engine
    _run(window, "Import contacts", lambda: import_contacts(db, rows, datetime.now(timezone.utc)),
         f"Imported {_plural(len(rows), 'contact')} from {name}.", problems, "line")


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
    _run(window, "Import events", lambda: host.engine.ingest(found),
         f"Imported {_plural(len(found), 'event')} from {name}; active journeys have reacted to them.",
         problems, "line")
