"""File → Import contacts / events / orders: the same readers as `journeys contacts import`,
`journeys events import` and `journeys orders import`, with bad lines reported and every good one
kept. Contacts open the import dialog (app/ui/contact_import_dialog.py: source, mapping, preview,
dry run, then an atomic import with Cancel). Events and orders first show what the file is and offer
history mode ("past data: update customers, start nothing", checked when all of it is more than a
day old: app/ui/import_choice.py).

For events and orders, everything — reading the file (in blocks: a million rows stay in bounded
memory), checking each line, the writes (a transaction per chunk) and the engine's reaction to the
events — runs on the engine host's worker; progress comes back through a queued signal, and Cancel
stops after the chunk being written.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

from app.engine.file_import import Cancelled, FileImport
from app.engine.file_import import import_events_file as import_events_from
from app.engine.importers import ContactImport, Problem
from app.engine.ingest import Ingested
from app.engine.order_import import OrderImport
from app.engine.order_import import import_orders_file as import_orders_from
from app.engine.peek import Peek, peek_events, peek_orders
from app.engine.textstream import NotText

from .import_choice import ImportChoiceDialog

if TYPE_CHECKING:
    from .main_window import MainWindow

SHOWN_PROBLEMS = 8


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _listed(items: list[Problem], total: int | None = None) -> str:
    total = len(items) if total is None else total
    lines = "\n".join(f"• {p}" for p in items[:SHOWN_PROBLEMS])
    return lines + (f"\n… and {total - SHOWN_PROBLEMS:,} more" if total > SHOWN_PROBLEMS else "")


def _report(window: "MainWindow", title: str, done: str, problems: list[Problem], unit: str,
            notices: list[Problem] | None = None, bad: int | None = None,
            kept: list[Problem] | None = None) -> None:
    """`problems`: the first ones of `bad` in all (default: all of them); `kept`: rows imported with a
    value left out (a phone that is not a number, a date that is not one)."""
    bad = len(problems) if bad is None else bad
    if not problems and not notices and not kept:
        window.statusBar().showMessage(done, 8000)
        return
    text = done
    if problems:
        text += (f"\n\n{_plural(bad, unit)} could not be read and "
                 f"{'was' if bad == 1 else 'were'} skipped:\n{_listed(problems, bad)}\n\n"
                 "Fix them in the file and import it again: the good ones are not doubled.")
    if kept:
        text += f"\n\nKept, with a value left out:\n{_listed(kept)}"
    if notices:
        text += (f"\n\n{_plural(len(notices), 'opt-out')} stayed as {'it was' if len(notices) == 1 else 'they were'}"
                 f" (a file never clears an opt-out):\n{_listed(notices)}")
    QMessageBox.warning(window, title, text)


def _pick(window: "MainWindow", caption: str, pattern: str) -> str | None:
    """The chosen file's path, or None (cancelled)."""
    path, _ = QFileDialog.getOpenFileName(window, caption, "", pattern)
    return path or None


class ImportProgress(QObject):
    """What a running import has done, for the GUI thread: the worker emits `advanced` after each
    committed chunk (a queued signal: this object lives on the GUI thread) and the window shows it in
    a progress dialog (after half a second, so a small file shows none) with Cancel, and in the
    status bar. Cancel stops the import after the chunk being written: what was committed stays."""

    advanced = Signal(int, float)          # rows taken so far, share of the file read (0.0–1.0)

    def __init__(self, window: "MainWindow", title: str, name: str, unit: str) -> None:
        super().__init__(window)
        self.window, self.name, self.unit = window, name, unit
        self._cancel = threading.Event()
        self.dialog = QProgressDialog(f"Importing {name}\n…", "Cancel", 0, 1000, window)
        self.dialog.setMinimumWidth(420)
        self.dialog.setWindowTitle(title)
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(500)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self._cancel.set)
        self.dialog.setValue(0)
        self.advanced.connect(self._show)

    def report(self, done: int, share: float) -> None:
        """Called on the worker thread."""
        self.advanced.emit(done, share)

    def cancelled(self) -> bool:
        """Called on the worker thread between chunks."""
        return self._cancel.is_set()

    def _show(self, done: int, share: float) -> None:
        so_far = f"{_plural(done, self.unit)} so far"
        self.window.statusBar().showMessage(f"Importing {self.name}: {so_far} ({share:.0%} of the file)…")
        if not self._cancel.is_set():       # the bar shows the share of the file
            self.dialog.setLabelText(f"Importing {self.name}\n{so_far}…")
            self.dialog.setValue(min(999, int(share * 1000)))

    def finish(self) -> None:
        self.dialog.reset()
        self.dialog.hide()
        self.dialog.deleteLater()
        self.window.statusBar().clearMessage()
        self.deleteLater()


def _run(window: "MainWindow", title: str, name: str, unit: str,
         work: Callable[[ImportProgress], tuple[Any, FileImport]], done: Callable[[Any], str]) -> None:
    """Runs `work` (read, check and import the file, chunk by chunk) on the engine's worker with a
    progress dialog; then reports `done(result)` and the file's problems."""
    progress = ImportProgress(window, title, name, unit)

    def finished(outcome: tuple[Any, FileImport]) -> None:
        progress.finish()
        result, found = outcome
        window.refresh_catalog()
        window.run_controls.poll()
        contacts = getattr(window, "contacts_dialog", None)
        if contacts is not None and contacts.isVisible():
            contacts.run_search()          # what was imported shows in the open Contacts dialog
        text = done(result) if found.rows else f"No {unit}s were imported from {name}."
        warnings = found.warnings
        if isinstance(result, OrderImport):       # orders kept without a bad phone, or with nobody to go to
            warnings = sorted(warnings + result.notes, key=lambda p: p.line)
        _report(window, title, text, found.problems, "line",
                result.notices if isinstance(result, ContactImport) else None, found.bad, warnings)

    def failed(exc: Exception) -> None:
        progress.finish()
        if isinstance(exc, (OSError, UnicodeDecodeError, NotText)):     # found by the first pass: nothing imported
            QMessageBox.warning(window, title, f"{name} could not be read.\n\n{exc}")
            return
        # Imports commit in chunks: what went in before the fault stays, and a re-run adds only the rest.
        stopped = (f"The import was cancelled ({exc})." if isinstance(exc, Cancelled)
                   else f"The import stopped: {exc}")
        QMessageBox.warning(window, title, f"{stopped}\n\nWhatever was imported before it "
                                           "stopped is kept; import the file again to add the rest — nothing "
                                           "is counted twice.")

    window.host.submit(lambda: work(progress), finished, failed)


def import_contacts_file(window: "MainWindow") -> None:
    """File → Import contacts: the chosen file opens in the import dialog (app/ui/contact_import_dialog.py:
    source, mapping, preview and dry run first; the import in the background, atomic, with Cancel)."""
    path = _pick(window, "Import contacts", "Contacts: CSV, or a Mailchimp export (*.csv *.txt *.zip);;All files (*)")
    if path is None:
        return
    from .contact_import_dialog import ContactImportDialog

    dialog = ContactImportDialog(path, window.store.engine, window)

    def imported(_: object) -> None:
        window.refresh_catalog()              # new attributes are suggested in templates
        window.run_controls.poll()
        contacts = getattr(window, "contacts_dialog", None)
        if contacts is not None and contacts.isVisible():
            contacts.run_search()             # what was imported shows in the open Contacts window
        window.statusBar().showMessage(dialog.result_text, 15000)

    dialog.imported.connect(imported)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()


def _choose_then(window: "MainWindow", title: str, name: str, unit: str, look: Callable[[], Peek],
                 go: Callable[[bool], None]) -> None:
    """Reads the file's first events or orders on the worker, then asks (ImportChoiceDialog, not
    blocking) whether it is past data; `go(history)` runs the import. A file that cannot be read, or
    is not such a file, is said and nothing is imported."""
    def show(peek: Peek) -> None:
        if peek.problem:
            QMessageBox.warning(window, title, f"{name} was not imported: {peek.problem}")
            return
        dialog = ImportChoiceDialog(title, name, peek, unit, window)
        dialog.chosen.connect(go)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def failed(exc: Exception) -> None:
        QMessageBox.warning(window, title, f"{name} could not be read.\n\n{exc}")

    window.host.submit(look, show, failed)


def import_events_file(window: "MainWindow") -> None:
    path = _pick(window, "Import events", "Events, one JSON object per line (*.jsonl *.json);;All files (*)")
    if path is None:
        return
    name, host = Path(path).name, window.host

    def go(history: bool) -> None:
        def work(progress: ImportProgress) -> tuple[Ingested, FileImport]:
            return import_events_from(host.engine, path, progress=progress.report, cancelled=progress.cancelled,
                                      history=history)

        _run(window, "Import events", name, "event", work, lambda done: _events_done(done, name, history))

    _choose_then(window, "Import events", name, "event", lambda: peek_events(path), go)


def import_orders_file(window: "MainWindow") -> None:
    """File → Import orders: a Shopify or WooCommerce order export (as `journeys orders import`)."""
    path = _pick(window, "Import orders", "Order exports (*.csv);;All files (*)")
    if path is None:
        return
    name, host = Path(path).name, window.host

    def go(history: bool) -> None:
        def work(progress: ImportProgress) -> tuple[OrderImport, FileImport]:
            # Unchecked: today's orders are live, older ones still past data (the command's default) —
            # a year of orders must not all be thanked now because today's buyers should be.
            return import_orders_from(host.engine, path, history=True if history else None,
                                      progress=progress.report, cancelled=progress.cancelled)

        _run(window, "Import orders", name, "order", work, lambda done: f"Imported orders from {name}: {done.summary()}.")

    _choose_then(window, "Import orders", name, "order", lambda: peek_orders(path), go)


def _events_done(done: Ingested, name: str, history: bool = False) -> str:
    """What an events import did, short enough for the status bar: new and already present (each
    event counts once), feedback that matched no message (ignored), events set aside (dead-lettered)."""
    parts = [f"Imported events from {name}: {done.summary()}"]
    if done.unmatched:
        parts.append(f"{_plural(done.unmatched, 'feedback event')} matched no message (ignored)")
    if done.dead:       # the rest were applied; `journeys events dead-letters` lists these with the reason
        parts.append(f"{_plural(len(done.dead), 'event')} could not be applied and {'was' if len(done.dead) == 1 else 'were'}"
                     f" set aside (first: {done.dead[0][1]})")
    if history and done.stored:
        parts[0] += "; past data: customers updated, no journey started"
    elif len(parts) == 1 and done.stored:
        parts[0] += "; active journeys have reacted to the new ones"
    return "; ".join(parts) + "."
