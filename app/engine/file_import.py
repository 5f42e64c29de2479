"""Importing a contacts or events file of any size in bounded memory, with progress.

The file is checked for its encoding in a first cheap pass (textstream.inspect: nothing is written
when it cannot be read), then read, parsed and imported chunk by chunk (5,000 contacts or 500
events per transaction): a 1,000,000-row file stays far below 300 MB. Bad lines are reported by
number and every good row is kept, exactly as when the whole text is parsed at once; imports stay
idempotent, so a re-run after a crash or a fix adds only what is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

from sqlalchemy.engine import Engine

from .import_rows import Note
from .importers import ContactImport, Problem, contact_records, event_records, import_contacts_report, json_lines
from .ingest import Ingested
from .importers import MAX_CONTACT_LINE, MAX_EVENT_LINE
from .textstream import WINDOWS_1252, Blocks, TextFile, inspect, split_lines

if TYPE_CHECKING:
    from .engine import JourneyEngine

T = TypeVar("T")

Progress = Callable[[int, float], None]
"""Called after each committed chunk with the rows (or lines' events) taken so far and the share
of the file's bytes read (0.0–1.0)."""


class Cancelled(Exception):
    """The import was cancelled between two chunks: what was committed stays (a re-run adds the rest)."""


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
    kept: int = 0       # lines kept without a value they held (`Note`s, listed among the problems)


def _good(items: Iterable[T | Problem], found: FileImport,
          on_problem: Callable[[Problem], None] | None) -> Iterator[T]:
    """The good items; problems go to `found` (and `on_problem`, as soon as they are read)."""
    for item in items:
        if isinstance(item, Problem):
            if isinstance(item, Note):
                found.kept += 1
            else:
                found.bad += 1
            if len(found.problems) < KEPT_PROBLEMS:
                found.problems.append(item)
            if on_problem is not None:
                on_problem(item)
        else:
            found.rows += 1
            yield item


def _reporter(blocks: Blocks, file: TextFile, progress: Progress | None,
              cancelled: Callable[[], bool] | None) -> Callable[[int], None]:
    def report(done: int) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled after {done:,} rows")
        if progress is not None:
            progress(done, blocks.done / file.size if file.size else 1.0)
    return report


def contacts_text(path: str | Path | TextFile) -> tuple[TextFile, Blocks, Iterator[str]]:
    """(`path`: a file, or one `textstream.inspect` has read already.) A contacts CSV's encoding (UTF-8, else Windows-1252) and lines, read lazily; raises OSError or
    UnicodeDecodeError (naming the line) before anything is read for import. A file with "\r"
    alone for line ends (Excel for Mac) is read line by line, as `parse_contacts` does."""
    file = path if isinstance(path, TextFile) else inspect(path, WINDOWS_1252)
    blocks = Blocks(file)
    text: Iterable[str] = blocks if file.has_newline else (b.replace("\r", "\n") for b in blocks)
    return file, blocks, split_lines(text, MAX_CONTACT_LINE)


def import_contacts_file(db: Engine, path: str | Path | TextFile, now: datetime, source: str | None = None, *,
                         progress: Progress | None = None, on_problem: Callable[[Problem], None] | None = None,
                         cancelled: Callable[[], bool] | None = None) -> tuple[ContactImport, FileImport]:
    """Reads, checks and imports a contacts CSV chunk by chunk (`import_contacts_report`); returns
    its report and the file's problems. Raises OSError/UnicodeDecodeError when the file cannot be
    read (nothing imported), Cancelled when `cancelled()` turns true (checked after each chunk)."""
    file, blocks, lines = contacts_text(path)
    found = FileImport()
    report = import_contacts_report(db, _good(contact_records(lines), found, on_problem), now,
                                    source or file.path.name, _reporter(blocks, file, progress, cancelled))
    return report, found


def events_text(path: str | Path | TextFile) -> tuple[TextFile, Blocks, Iterator[str]]:
    """A JSON-lines file's lines (UTF-8, a BOM dropped), read lazily; raises OSError or
    UnicodeDecodeError (naming the line) before anything is read for import."""
    file = path if isinstance(path, TextFile) else inspect(path)
    blocks = Blocks(file)
    return file, blocks, split_lines(blocks, MAX_EVENT_LINE)


def import_events_file(engine: "JourneyEngine", path: str | Path | TextFile, *, progress: Progress | None = None,
                       on_problem: Callable[[Problem], None] | None = None,
                       cancelled: Callable[[], bool] | None = None,
                       history: bool = False) -> tuple[Ingested, FileImport]:
    """Reads, checks and ingests a JSON-lines events file chunk by chunk (`JourneyEngine.ingest`);
    returns what was ingested and the file's problems. Errors as `import_contacts_file`.
    `history`: past data, applied to contacts with no journey reacting (app/engine/history.py)."""
    file, blocks, lines = events_text(path)
    found = FileImport()
    done = engine.ingest(_good(event_records(json_lines(lines)), found, on_problem),
                         progress=_reporter(blocks, file, progress, cancelled), history=history)
    return done, found
