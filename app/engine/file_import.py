"""Importing a contacts or events file of any size in bounded memory, with progress.

The file is checked for its encoding in a first cheap pass (textstream.inspect: nothing is written
when it cannot be read), then read, parsed and imported chunk by chunk (5,000 contacts or 500
events per transaction): a 1,000,000-row file stays far below 300 MB. Bad lines are reported by
number and every good row is kept, exactly as when the whole text is parsed at once; imports stay
idempotent, so a re-run after a crash or a fix adds only what is missing.
"""
from __future__ import annotations

import gc
import shutil
import tempfile
import threading
import zipfile
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

from sqlalchemy.engine import Connection, Engine

from .contact_import import file_transaction
from .contact_mapping import Mapping
from .importers import ContactImport, MappingChoice, Problem, contact_records, event_records, import_contacts_report
from .importers import MAX_CONTACT_LINE, MAX_EVENT_LINE, json_lines
from .import_rows import ContactRow, Note, ReadStats
from .ingest import Ingested
from .textstream import Blocks, NotText, TextFile, inspect, inspect_table, split_lines

if TYPE_CHECKING:
    from .engine import JourneyEngine

T = TypeVar("T")

Progress = Callable[[int, float], None]
"""Called after each committed chunk with the rows (or lines' events) taken so far and the share
of the file's bytes read (0.0–1.0)."""


class Cancelled(Exception):
    """The import was cancelled between two chunks: what was committed stays (a re-run adds the rest);
    an `atomic` contacts import rolls the whole file back instead (nothing stays)."""


KEPT_PROBLEMS = 1_000
"""Problems kept for the report (every one is counted, and given to `on_problem` as it is read): a
file whose million lines are all bad must not fill the memory the streaming saves."""


@dataclass
class FileImport:
    """The file's first KEPT_PROBLEMS problems (bad lines, by number) in file order, `bad`: how many
    there were in all; `rows`: good rows or events."""
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0
    bad: int = 0
    warnings: list[Problem] = field(default_factory=list)     # rows kept with something left out (first ones)
    warned: int = 0

    def add_problem(self, problem: Problem, told: Callable[[Problem], None] | None) -> None:
        """A bad line: counted, kept among the first KEPT_PROBLEMS, and told at once."""
        self.bad += 1
        if len(self.problems) < KEPT_PROBLEMS:
            self.problems.append(problem)
        if told is not None:
            told(problem)

    def add_warning(self, warning: Problem, told: Callable[[Problem], None] | None) -> None:
        """A value left out of a kept line: kept among the first KEPT_PROBLEMS and told at once (the
        caller counts the lines, `warned`, as a line may have several)."""
        if len(self.warnings) < KEPT_PROBLEMS:
            self.warnings.append(warning)
        if told is not None:
            told(warning)


def _good(items: Iterable[T | Problem], found: FileImport,
          on_problem: Callable[[Problem], None] | None,
          on_warning: Callable[[Problem], None] | None = None) -> Iterator[T]:
    """The good items; problems go to `found` (and `on_problem`, as soon as they are read)."""
    for item in items:
        if isinstance(item, Note):            # an event line kept without one of its values
            found.warned += 1
            found.add_warning(item, on_warning)
        elif isinstance(item, Problem):
            found.add_problem(item, on_problem)
        else:
            found.rows += 1
            if isinstance(item, ContactRow) and item.warnings:
                found.warned += 1
                for text in item.warnings:
                    found.add_warning(Problem(item.line, text), on_warning)
            yield item


def _reporter(blocks: Blocks, file: TextFile, progress: Progress | None,
              cancelled: Callable[[], bool] | None) -> Callable[[int], None]:
    def report(done: int) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled after {done:,} rows")
        if progress is not None:
            progress(done, blocks.done / file.size if file.size else 1.0)
    return report


# A contacts file bigger than this has its rows parsed in a worker process (contact_workers), on a
# second core: a million-row Shopify export (~150 MB) takes half the time; a small file is done before
# a worker would have started.
PARALLEL_BYTES = 5_000_000


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved = gc.get_threshold()


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Python's cycle collector kept off the objects that live for the whole import (the libraries'
    data: babel's CLDR, libphonenumber's metadata, SQLAlchemy's tables; `gc.freeze`) and run less
    often (each chunk's rows, some 50,000 objects, are garbage together after its commit; a young
    collection every 200,000 objects, not every few thousand, walks them once): a full collection otherwise
    walks every one of them again every few thousand rows, a sixth of a million-row import's time.
    Process-wide, so nested or concurrent imports share it; the old setting returns after the last."""
    global _gc_users, _gc_saved
    with _gc_lock:
        _gc_users += 1
        if _gc_users == 1:
            _gc_saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(_gc_saved[0], 200_000), *_gc_saved[1:])
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()


def contacts_text(path: str | Path | TextFile) -> tuple[TextFile, Blocks, Iterator[str]]:
    """(`path`: a file, or one `textstream.inspect_table` has read already.) A contacts CSV's encoding
    (`inspect_table`: UTF-8 or UTF-16, else the legacy encoding detected) and lines, read lazily;
    raises OSError or textstream.NotText before anything is read for import. A file with "\r"
    alone for line ends (Excel for Mac) is read line by line, as `parse_contacts` does."""
    file = path if isinstance(path, TextFile) else inspect_table(path)
    blocks = Blocks(file)
    text: Iterable[str] = blocks if file.has_newline else (b.replace("\r", "\n") for b in blocks)
    return file, blocks, split_lines(text, MAX_CONTACT_LINE)


def import_contacts_file(db: Engine | Connection, path: str | Path | TextFile, now: datetime,
                         source: str | None = None, *,
                         progress: Progress | None = None, on_problem: Callable[[Problem], None] | None = None,
                         cancelled: Callable[[], bool] | None = None, mapping: MappingChoice = None,
                         region: str | None = None, dry_run: bool = False, stats: ReadStats | None = None,
                         on_warning: Callable[[Problem], None] | None = None,
                         file_name: str | None = None) -> tuple[ContactImport, FileImport]:
    """Reads, checks and imports a contacts CSV chunk by chunk (`import_contacts_report`); returns
    its report and the file's problems. `mapping`, `region`, `stats` and `file_name` (the name
    Mailchimp's status is read from; default the file's) as for `importers.contact_records`;
    `dry_run`: everything is counted, nothing stays written. Raises OSError/NotText when the file
    cannot be read (nothing imported), Cancelled when `cancelled()` turns true (checked after each chunk).
    `db` a Connection: every chunk is written in the caller's transaction (see `import_contact_source`)."""
    file, blocks, lines = contacts_text(path)
    found = FileImport()
    records = contact_records(lines, mapping, file_name=file_name or file.path.name, region=region, stats=stats,
                              parallel=file.size > PARALLEL_BYTES)
    with bulk_gc(), closing(records):       # closing: a worker parsing rows ends on a cancel or an error too
        report = import_contacts_report(db, _good(records, found, on_problem, on_warning), now,
                                        source or file.path.name, _reporter(blocks, file, progress, cancelled),
                                        dry_run=dry_run)
    return report, found


# The order a Mailchimp export's files are read in: opt-ins first, so that an address listed in two
# files ends with the opt-out (an import never clears one anyway).
_MAILCHIMP_ORDER = ("subscribed", "nonsubscribed", "unsubscribed", "cleaned")


@contextmanager
def contact_files(path: str | Path) -> Iterator[list[tuple[str, TextFile]]]:
    """The CSV files to import from `path`: the file itself, or each CSV of a zip archive (Mailchimp's
    audience export: subscribed, unsubscribed and cleaned members), extracted to a temporary folder
    for the duration (bounded memory: never read whole). Each comes as (its name, as inspected).
    Raises OSError, or textstream.NotText for a file that is not text, an archive with no CSV in it
    or an Excel workbook."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        yield [(path.name, inspect_table(path))]
        return
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory(prefix="journeys-import-") as folder:
        names = [n for n in archive.namelist() if n.lower().endswith((".csv", ".txt")) and not n.endswith("/")]
        if not names:
            workbook = any(n.startswith("xl/") for n in archive.namelist())
            raise NotText("an Excel workbook, not a CSV file (save the sheet as CSV UTF-8)" if workbook
                          else "a zip archive without a CSV file in it")
        names.sort(key=lambda n: next((i for i, p in enumerate(_MAILCHIMP_ORDER)
                                       if Path(n).name.lower().startswith(p)), len(_MAILCHIMP_ORDER)))
        found = []
        for i, name in enumerate(names):
            target = Path(folder) / str(i) / Path(name).name      # its own name: Mailchimp's status is in it
            target.parent.mkdir()
            try:
                with archive.open(name) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
            except (zipfile.BadZipFile, RuntimeError) as exc:      # damaged, or encrypted
                raise NotText(f"the archive's {name} cannot be read ({exc})") from None
            found.append((f"{path.name}:{Path(name).name}", inspect_table(target)))
        yield found


def events_text(path: str | Path | TextFile) -> tuple[TextFile, Blocks, Iterator[str]]:
    """A JSON-lines file's lines (UTF-8, a BOM dropped), read lazily; raises OSError or
    UnicodeDecodeError (naming the line) before anything is read for import."""
    file = path if isinstance(path, TextFile) else inspect(path)
    blocks = Blocks(file)
    return file, blocks, split_lines(blocks, MAX_EVENT_LINE)


def import_events_file(engine: "JourneyEngine", path: str | Path | TextFile, *, progress: Progress | None = None,
                       on_problem: Callable[[Problem], None] | None = None,
                       cancelled: Callable[[], bool] | None = None, history: bool = False,
                       on_warning: Callable[[Problem], None] | None = None) -> tuple[Ingested, FileImport]:
    """Reads, checks and ingests a JSON-lines events file chunk by chunk (`JourneyEngine.ingest`);
    returns what was ingested and the file's problems (lines kept without a value: `warnings`).
    Errors as `import_contacts_file`. `history`: past data, applied to contacts with no journey
    reacting (app/engine/history.py)."""
    file, blocks, lines = events_text(path)
    found = FileImport()
    with bulk_gc():
        done = engine.ingest(_good(event_records(json_lines(lines)), found, on_problem, on_warning),
                             progress=_reporter(blocks, file, progress, cancelled), history=history)
    return done, found


def import_contact_source(db: Engine, path: str | Path, now: datetime, *, progress: Progress | None = None,
                          cancelled: Callable[[], bool] | None = None, region: str | None = None,
                          dry_run: bool = False, atomic: bool = False,
                          mappings: dict[str, Mapping] | None = None,
                          stats: ReadStats | None = None) -> tuple[ContactImport, FileImport]:
    """`import_contacts_file` for what a user picks: a CSV, or a Mailchimp export zip (each of its
    files in turn, its status from its name), every file read as its export is recognised, the
    results added up (a problem names its file when there are several). `region` defaults to the
    country of the business's time zone. Errors as `import_contacts_file`; a header that fits no
    export is a problem on line 1 of that file.

    `mappings`: the mapping of each file, by its name as `contact_files` gives it (a file not named:
    recognised from its header). `stats` adds up what reading found (time zones derived). `atomic`:
    every file of the source in ONE transaction, committed at the end — Cancel (or any fault) leaves
    the store exactly as it was, and a dry run rolls back the whole source at once, so what it counts
    is what the import will do. The price on SQLite: other writers wait while it is written."""
    from app.store.app_settings import business_timezone

    from .contact_values import country_of_zone

    if region is None:
        region = country_of_zone(business_timezone(db))
    with contact_files(path) as files:
        if not atomic:
            return _import_files(db, files, now, progress, cancelled, region, dry_run, mappings, stats)
        with file_transaction(db, dry_run) as conn:
            return _import_files(conn, files, now, progress, cancelled, region, dry_run, mappings, stats)


def _import_files(db: Engine | Connection, files: list[tuple[str, TextFile]], now: datetime,
                  progress: Progress | None, cancelled: Callable[[], bool] | None, region: str | None,
                  dry_run: bool, mappings: dict[str, Mapping] | None,
                  stats: ReadStats | None) -> tuple[ContactImport, FileImport]:
    """`import_contact_source`'s work over the files of one source, the results added up."""
    total, found = ContactImport(0), FileImport()
    sizes = [file.size for _, file in files]
    for at, (name, file) in enumerate(files):
        # Progress over the whole source: rows of the files before, and the share of all their bytes.
        shown = None if progress is None else _over(progress, total.count, sum(sizes[:at]), file.size,
                                                    sum(sizes) or 1)
        report, part = import_contacts_file(db, file, now, name.replace(":", " "), progress=shown,
                                            cancelled=cancelled, region=region, dry_run=dry_run,
                                            mapping=(mappings or {}).get(name), stats=stats)
        prefix = f"{name.split(':', 1)[1]}: " if len(files) > 1 else ""
        total.count += report.count
        total.new, total.updated, total.unchanged = (total.new + report.new, total.updated + report.updated,
                                                     total.unchanged + report.unchanged)
        total.notices += [Problem(p.line, prefix + p.reason) for p in report.notices]
        for key, n in report.consent.items():
            total.consent[key] = total.consent.get(key, 0) + n
        found.rows, found.bad, found.warned = found.rows + part.rows, found.bad + part.bad, found.warned + part.warned
        found.problems += [Problem(p.line, prefix + p.reason) for p in part.problems][:KEPT_PROBLEMS]
        found.warnings += [Problem(p.line, prefix + p.reason) for p in part.warnings][:KEPT_PROBLEMS]
    return total, found


def _over(progress: Progress, rows: int, start: int, size: int, total: int) -> Progress:
    """`progress` for one file of several: rows and share counted over them all."""
    return lambda done, share: progress(rows + done, (start + share * size) / total)
