"""File → Import contacts: what the file is, its mapping, its first rows as they will be stored and a
dry run of the whole file — before anything is written — then the import, in the background, with
progress and Cancel.

Everything that reads the file or the database runs on the dialog's own thread pool (contact_import_jobs):
opening the source (a Mailchimp archive is extracted once), the preview after each change of the
mapping (debounced), the dry run (the engine's `dry_run=True`, rolled back) and the import. The
import is atomic (one transaction for the file or archive): Cancel leaves the store as it was. One
database job at a time: a new dry run or the import waits for the previous one to stop.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import shiboken6
from PySide6.QtCore import QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QDialog, QLabel, QProgressBar, QPushButton, QTableView, QWidget
from sqlalchemy.engine import Engine

from app.engine.contact_mapping import Mapping, MappingError
from app.engine.contact_preview import Preview
from app.engine.contact_source import ContactSource
from app.engine.file_import import Cancelled, FileImport, import_contact_source
from app.engine.import_rows import ContactImport, ReadStats

from .contact_import_jobs import Job, report_text, start, summary_html
from .contact_import_layout import setup_ui
from .contact_mapping_table import MappingTable
from .contact_preview_model import PreviewModel

DEBOUNCE_MS = 300
PREVIEW_ROWS = 8
ATOMIC_DRY_RUN_BYTES = 5_000_000     # ~50,000 rows: a second or two of the database's write lock


@dataclass
class Outcome:
    """What a dry run or the import found (the engine's report, the file's problems, what was derived)."""

    report: ContactImport
    found: FileImport
    stats: ReadStats


def _open(path: str, db: Engine) -> tuple[ContactSource, str | None, Preview | None]:
    from app.engine.contact_values import country_of_zone
    from app.store.app_settings import business_timezone

    source = ContactSource(path, db)
    region = country_of_zone(business_timezone(db))
    return source, region, None if source.problem() else source.preview(source.initial, PREVIEW_ROWS, region)


class ContactImportDialog(QDialog):
    """The import of the contacts file at `path` into `db`; `imported(Outcome)` after it committed."""

    imported = Signal(object)
    # The widgets (contact_import_layout.setup_ui).
    heading: QLabel
    about: QLabel
    hint: QLabel
    message: QLabel
    mapping_table: MappingTable
    summary: QLabel
    checking: QProgressBar           # the dry run's progress
    model: PreviewModel
    preview: QTableView
    progress: QProgressBar           # the import's
    cancel_button: QPushButton
    close_button: QPushButton
    import_button: QPushButton

    def __init__(self, path: str | Path, db: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path, self.db, self.name = str(path), db, Path(path).name
        self.setObjectName("contactImport")
        self.setWindowTitle(f"Import contacts — {self.name}")
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)           # the preview never waits behind a dry run
        self.source: ContactSource | None = None
        self.region: str | None = None
        self.outcome: Outcome | None = None      # the last dry run (or the import's result)
        self.result_text = ""
        self._generation = 0                     # results of an older mapping are dropped
        self._db_job: Job | None = None          # the dry run or the import running, if any
        self._next: Callable[[], None] | None = None     # the database job to start when it ends
        self._importing = self._closing = self._blocked = False
        self._previewing = 0                      # preview jobs running
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._refresh)
        setup_ui(self)
        self.resize(1180, 800)
        self._run(lambda job: _open(self.path, db), self._opened, self._unreadable)

    def _say(self, text: str, blocking: bool = True) -> None:
        """A problem in the dialog (red), or nothing; `blocking`: nothing can be imported until it is solved."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.message.setStyleSheet("color: #d93025; font-weight: 600;" if text else "")
        self._blocked = bool(text) and blocking

    def busy(self) -> bool:
        """Something is still being read or computed (tests wait for it; the import button says it)."""
        return self._debounce.isActive() or self._db_job is not None or self._previewing > 0

    # -- opening ---------------------------------------------------------------------------------

    def _opened(self, opened: tuple[ContactSource, str | None, Preview | None]) -> None:
        self.source, self.region, first = opened
        source = self.source
        self.heading.setText(html.escape(source.describe()) + (" — your saved mapping" if source.saved else ""))
        self.hint.setVisible(not source.title)
        self._describe(source, None)
        if source.problem():
            self._say(source.problem())
            return
        self.mapping_table.show_mapping(source.header, source.initial, first.samples if first else {})
        problem = self._problem(source.initial)
        self._say(problem)
        if first is not None:
            self._show_preview(first)
        if not problem:
            self._request_dry_run()

    def _describe(self, source: ContactSource, rows: int | None) -> None:
        found = f" · {rows:,} row{'' if rows == 1 else 's'} found" if rows is not None else ""
        if not source.is_archive:
            self.about.setText(f"{html.escape(self.name)} · {source.files[0].described()}{found}")
            return
        status = {"subscribed": "email subscribed", "unsubscribed": "email unsubscribed"}
        lines = [f"• {html.escape(f.short_name)} — {status.get(f.status, 'consent left as it is')} "
                 f"({f.described()})" for f in source.files]
        self.about.setText(f"{html.escape(self.name)}{found}, one import for its {len(source.files)} files:<br>"
                           + "<br>".join(lines))

    def _unreadable(self, exc: Exception) -> None:
        self.heading.setText(f"{html.escape(self.name)} cannot be imported")
        self._say(f"{self.name} cannot be read: {exc}. Nothing was imported.")

    # -- mapping → preview and dry run -------------------------------------------------------------

    def mapping(self) -> Mapping:
        return self.mapping_table.mapping()

    def _problem(self, mapping: Mapping) -> str:
        assert self.source is not None
        for f in self.source.files:
            try:
                self.source.mapping_for(f, mapping).check(f.header)
            except MappingError as exc:
                where = f"{f.short_name}: " if self.source.is_archive else ""
                return f"{where}{str(exc)[0].upper()}{str(exc)[1:]}. Choose what the columns are below."
        return ""

    def _refresh(self) -> None:
        """After the mapping changed (debounced): a new preview and a new dry run."""
        if self.source is None or self._importing:
            return
        self._generation += 1
        mapping, generation, source, region = self.mapping(), self._generation, self.source, self.region
        problem = self._problem(mapping)
        self._say(problem)
        self.import_button.setEnabled(False)
        self._previewing += 1
        self._run(lambda job: source.preview(mapping, PREVIEW_ROWS, region),
                  lambda found: self._previewed(generation, found), self._preview_failed)
        if problem:
            self.summary.setText("")
            if self._db_job is not None:
                self._db_job.cancel()
            return
        self._request_dry_run()

    def _previewed(self, generation: int, found: Preview) -> None:
        self._previewing -= 1
        if generation == self._generation:
            self._show_preview(found)

    def _preview_failed(self, exc: Exception) -> None:
        self._previewing -= 1
        self._unreadable(exc)

    def _show_preview(self, found: Preview) -> None:
        if found.refused and not self._blocked:
            self._say(found.refused)
        self.model.show(found.items)
        self.preview.resizeColumnsToContents()
        for c in range(self.model.columnCount()):
            self.preview.setColumnWidth(c, min(self.preview.columnWidth(c), 220 if c == 1 else 280))

    def _request_dry_run(self) -> None:
        self.import_button.setEnabled(False)
        self._after_db_job(self._dry_run)

    def _after_db_job(self, then: Callable[[], None]) -> None:
        """Runs `then` now, or when the database job running has stopped (it is asked to)."""
        if self._db_job is not None and self._db_job.running:
            self._db_job.cancel()
            self._next = then
        else:
            then()

    def _db_job_ended(self) -> None:
        self._db_job = None
        then, self._next = self._next, None
        if self._closing:
            self.reject()
        elif then is not None:
            then()

    def _dry_run(self) -> None:
        assert self.source is not None
        mapping, generation, source = self.mapping(), self._generation, self.source
        self.summary.setText("")
        self.checking.setValue(0)
        self.checking.setVisible(True)
        self._db_job = self._run(lambda job: self._work(job, source.mappings(mapping), dry_run=True),
                                 lambda out: self._dry_ran(generation, out), self._dry_run_failed)
        self._db_job.progressed.connect(lambda rows, share: self.checking.setValue(int(share * 1000)))

    def _work(self, job: Job, mappings: dict[str, Mapping], dry_run: bool) -> Outcome:
        stats = ReadStats()
        # The import is one transaction (Cancel undoes it all). A dry run is one too — exact, even across
        # an archive's files — unless the source is big: then it rolls back chunk by chunk, so that the
        # engine's own writes are not kept waiting while the user looks at the mapping.
        size = sum(f.file.size for f in self.source.files) if self.source else 0
        atomic = not dry_run or size <= ATOMIC_DRY_RUN_BYTES
        report, found = import_contact_source(self.db, self.path, datetime.now(timezone.utc), progress=job.report,
                                              cancelled=job.cancelled, region=self.region, dry_run=dry_run,
                                              atomic=atomic, mappings=mappings, stats=stats)
        return Outcome(report, found, stats)

    def _dry_ran(self, generation: int, outcome: Outcome) -> None:
        self.checking.setVisible(False)
        if generation == self._generation and self.source is not None and not self._importing:
            self._show_dry_run(outcome)
        self._db_job_ended()

    def _show_dry_run(self, outcome: Outcome) -> None:
        assert self.source is not None
        self.outcome = outcome
        self._describe(self.source, outcome.found.rows + outcome.found.bad)
        self.summary.setText(summary_html(outcome.report, outcome.found, outcome.stats, dry_run=True))
        count = outcome.report.count
        self.import_button.setText(f"Import {count:,} contact{'s' if count != 1 else ''}")
        self.import_button.setEnabled(count > 0 and not self._blocked)

    def _dry_run_failed(self, exc: Exception) -> None:
        self.checking.setVisible(False)
        self._db_job_ended()
        if not isinstance(exc, Cancelled) and not self._importing:
            # Not checked (a busy database…): said; the import may still be tried, and says if it fails.
            self._say(f"The file could not be checked: {exc}", blocking=False)
            self.import_button.setText("Import")
            self.import_button.setEnabled(not self._blocked)

    # -- the import ------------------------------------------------------------------------------

    def start_import(self) -> None:
        """Import (the button): waits for a dry run still running to stop, then imports in one transaction."""
        if self.source is None or self._importing or self._blocked:
            return
        self._importing = True
        self._debounce.stop()
        self._say("")                            # a cancel or a busy database said before: a new try
        self.import_button.setEnabled(False)
        self.mapping_table.setEnabled(False)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat("Importing… %p%")
        self.progress.setVisible(True)
        self._after_db_job(self._import)

    def _import(self) -> None:
        assert self.source is not None
        mapping, source = self.mapping(), self.source

        def work(job: Job) -> Outcome:
            outcome = self._work(job, source.mappings(mapping), dry_run=False)
            source.remember(self.db, mapping)      # the next file with these columns opens with it
            return outcome

        self._db_job = self._run(work, self._imported, self._import_failed)
        self._db_job.progressed.connect(self._advanced)

    def _advanced(self, rows: int, share: float) -> None:
        self.progress.setValue(int(share * 1000))
        self.progress.setFormat(f"Importing… {rows:,} rows so far (%p%)")

    def cancel_import(self) -> None:
        if self._db_job is not None:
            self._db_job.cancel()
            self.cancel_button.setEnabled(False)
            self.progress.setFormat("Cancelling: nothing will be kept…")

    def _imported(self, outcome: Outcome) -> None:
        self._finish_import()
        self.outcome = outcome
        assert self.source is not None
        self.result_text = report_text(self.name, self.source.describe(), outcome.report, outcome.found,
                                       outcome.stats)
        self.heading.setText(f"Imported {outcome.report.count:,} contacts from {html.escape(self.name)}")
        self.summary.setText(summary_html(outcome.report, outcome.found, outcome.stats, dry_run=False))
        self.import_button.setVisible(False)
        self.close_button.setText("Done")
        self.imported.emit(outcome)
        self._db_job_ended()

    def _import_failed(self, exc: Exception) -> None:
        self._finish_import()
        self.mapping_table.setEnabled(True)
        self._say("The import was cancelled: nothing was written, the contacts are as they were." if isinstance(
            exc, Cancelled) else f"The import stopped: {exc}. Nothing was written: the contacts are as they were.",
            blocking=False)
        self._db_job_ended()
        if not self._closing:
            self._request_dry_run()

    def _finish_import(self) -> None:
        self._importing = False
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    # -- plumbing --------------------------------------------------------------------------------

    def _run(self, work: Callable[[Job], Any], done: Callable[[Any], None],
             failed: Callable[[Exception], None]) -> Job:
        job = Job(work)
        job.setParent(self)              # lives on the GUI thread: its outcome is delivered there
        job.done.connect(lambda value: done(value) if shiboken6.isValid(self) else None)
        job.failed.connect(lambda exc: failed(exc) if shiboken6.isValid(self) else None)
        job.done.connect(job.deleteLater)
        job.failed.connect(job.deleteLater)
        return start(self.pool, job)

    def reject(self) -> None:
        """Close: a running dry run or import is cancelled first (nothing half-written), then it closes."""
        if self._db_job is not None and self._db_job.running:
            self._closing = True         # for good: the job's end closes the dialog
            self.cancel_import()
            return
        super().reject()

    def done(self, result: int) -> None:
        self.pool.waitForDone(30_000)            # a preview still reading the extracted files
        if self.source is not None:
            self.source.close()
        super().done(result)
