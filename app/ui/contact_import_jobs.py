"""The import dialog's work off the GUI thread, and the words it reports with.

A `Job` runs a function on the dialog's own QThreadPool with a cancel flag and a progress callback
the engine calls between chunks (`file_import`'s `progress`/`cancelled`); its outcome comes back
through queued signals and is dropped when the dialog is gone. `summary_html` and `report_text`
put a dry run or an import into the shop owner's words (what `journeys contacts import` prints).
"""
from __future__ import annotations

import html
import logging
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, Signal, Slot

from app.engine.file_import import Cancelled, FileImport
from app.engine.contact_mapping import MappingError
from app.engine.import_rows import ContactImport, Problem, ReadStats
from app.engine.textstream import NotText
from app.store.faults import DatabaseUnavailable

log = logging.getLogger(__name__)
# Faults of the file or the database, said in the dialog as they are: no traceback in the log.
_SAID = (Cancelled, NotText, OSError, UnicodeDecodeError, MappingError, DatabaseUnavailable)
SHOWN = 8           # bad rows listed before "… and N more"
CHANNELS = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}


class Job(QObject):
    """`work(job)` on a pool thread; `done(result)` or `failed(exception)` on the GUI thread;
    `progressed(rows, share)` as the engine reports. `cancel()` makes `cancelled()` true: the engine
    raises Cancelled after its current chunk. `running` turns false when the outcome is delivered."""

    progressed = Signal(int, float)
    done = Signal(object)
    failed = Signal(object)
    _ended = Signal(bool, object)        # emitted on the worker; delivered (queued) to this GUI-thread object
    _moved = Signal(int, float)

    def __init__(self, work: Callable[["Job"], Any]) -> None:
        super().__init__()
        self.work = work
        self._cancel = threading.Event()
        self.running = True
        self._ended.connect(self._deliver)
        self._moved.connect(self._progress)

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def report(self, rows: int, share: float) -> None:
        """The engine's progress callback (worker thread)."""
        self._moved.emit(rows, share)

    def run(self) -> None:
        """On the worker thread."""
        try:
            result = self.work(self)
        except Exception as exc:  # noqa: BLE001 - said in the dialog, never a traceback
            if isinstance(exc, _SAID):          # the file or the database as the user will be told
                log.info("contacts import: %s", exc)
            else:
                log.exception("contacts import work failed")
            self._ended.emit(False, exc)
            return
        self._ended.emit(True, result)

    @Slot(bool, object)
    def _deliver(self, ok: bool, value: Any) -> None:
        self.running = False
        (self.done if ok else self.failed).emit(value)

    @Slot(int, float)
    def _progress(self, rows: int, share: float) -> None:
        self.progressed.emit(rows, share)


class _Runnable(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job

    def run(self) -> None:
        self.job.run()


def start(pool: Any, job: Job) -> Job:
    """Runs `job` on `pool` (a QThreadPool) and returns it."""
    pool.start(_Runnable(job))
    return job


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def consent_words(report: ContactImport) -> str:
    """`email: 120 subscribed, 14 unsubscribed; SMS: 30 subscribed`, or "no change"."""
    parts = []
    for channel, name in CHANNELS.items():
        states = [f"{report.consent[(channel, s)]:,} {s}" for s in ("subscribed", "unsubscribed")
                  if report.consent.get((channel, s))]
        if states:
            parts.append(f"{name}: {', '.join(states)}")
    return "; ".join(parts) or "no change"


def _listed(problems: list[Problem], total: int) -> list[str]:
    lines = [f"line {p.line}: {p.reason}" for p in problems[:SHOWN]]
    if total > SHOWN:
        lines.append(f"… and {total - SHOWN:,} more")
    return lines


def _block(title: str, lines: list[str]) -> str:
    body = "".join(f"<div style='margin-left:10px'>{html.escape(x)}</div>" for x in lines)
    return f"<div style='margin-top:8px'><b>{html.escape(title)}</b></div>{body}"


def summary_html(report: ContactImport, found: FileImport, stats: ReadStats, dry_run: bool) -> str:
    """The dry run (or the import's result) as the dialog's summary: counts, consent per channel, time
    zones derived, bad rows with their lines and reasons, rows kept with a value left out, opt-outs kept."""
    verb = "Will import" if dry_run else "Imported"
    out = (f"<div style='font-size:14px'><b>{verb} {_plural(report.count, 'contact')}</b></div>"
           f"<div>{report.new:,} new · {report.updated:,} updated · {report.unchanged:,} unchanged"
           + (f" · <span style='color:{_red()}'>{_plural(found.bad, 'bad row')} skipped</span>" if found.bad else "")
           + "</div>")
    consent = consent_words(report)
    out += _block(f"Consent {'to record' if dry_run else 'recorded'}", consent.split("; "))
    zones = stats.zones()
    out += _block("Time zones", [zones if zones else "none derived (the file's, else the business's applies)"])
    if found.problems:
        out += _block("Bad rows, skipped", _listed(found.problems, found.bad))
    if found.warnings:
        out += _block("Kept with a value left out", _listed(found.warnings, len(found.warnings)))
    if report.notices:
        out += _block("Left as stored (a file never clears an opt-out)", _listed(report.notices, len(report.notices)))
    return out


def report_text(name: str, source: str, report: ContactImport, found: FileImport, stats: ReadStats) -> str:
    """One paragraph as `journeys contacts import` prints it, for the status bar and the dialog."""
    text = (f"Imported contacts from {name} ({source}): {report.summary()}"
            + (f"; {found.bad} bad row(s) skipped" if found.bad else "")
            + (f"; {found.warned} row(s) kept with a value left out" if found.warned else "") + ".")
    consent = consent_words(report)
    if report.consent:
        text += f" Consent recorded: {consent}."
    if stats.zones():
        text += f" {stats.zones()}."
    return text


def _red() -> str:
    from .theme import colours

    return "#f28b82" if colours()["base"].lower() != "#ffffff" else "#b3261e"
