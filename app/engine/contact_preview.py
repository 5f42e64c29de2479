"""What a contacts file will become, before anything is written: its detected source, the mapping
per column and its first rows as they will be stored, each bad cell with its reason (for File →
Import contacts and tests). Reads the file only; never touches the database."""
from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from .contact_mapping import Mapping, MappingError, Target
from .contact_presets import BY_NAME, detect, guess
from .file_import import contacts_text
from .import_rows import ContactRow, Problem, ReadStats
from .importers import BOM, _delimiter, contact_records
from .textstream import TextFile

DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
SAMPLES = 3          # example values kept per column, for the mapping's list


@dataclass
class PreviewRow:
    """One record of the file: `values` by column as written; `row` as it will be stored, or None with
    `problem` saying why the row is refused; `marks`: stored field (`phone`, `lifetime_spend`,
    `date:<attribute>`…, `row` for the whole row) → why that cell is wrong or left out; `zone_from`:
    where the time zone comes from (`file`, `phone`, `country`, `province`, or "" when none)."""

    line: int
    values: dict[str, str]
    row: ContactRow | None = None
    problem: str = ""
    marks: dict[str, str] = field(default_factory=dict)
    zone_from: str = ""


@dataclass
class Preview:
    """`source`: the export recognised (its title) or "" for a layout that needs a mapping; `mapping`:
    the preset's, or a proposal (`guess`) to check; `rows`: the first rows as stored, and the first
    problems (bad rows, by line) and warnings among them; `items`: each record read, good or bad
    (PreviewRow); `samples`: a few values of each column; `encoding`, `delimiter` as detected."""

    header: list[str]
    mapping: Mapping
    source: str
    rows: list[ContactRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    refused: str = ""        # why the mapping cannot read the file (no identity column…), or ""
    items: list[PreviewRow] = field(default_factory=list)
    samples: dict[str, list[str]] = field(default_factory=dict)
    encoding: str = ""
    delimiter: str = ","


def read_header(path: str | Path | TextFile) -> tuple[TextFile, list[str], str]:
    """The file as inspected, its header row (names stripped; [] for an empty file) and its
    separator. Raises OSError/NotText as the importer."""
    file, _, lines = contacts_text(path)
    first = next(lines, "").removeprefix(BOM)
    delimiter = _delimiter(first)
    try:
        header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
    except (StopIteration, csv.Error):
        header = []
    return file, header, delimiter


def proposed_mapping(header: list[str], file_name: str) -> tuple[Mapping, str]:
    """The mapping a file starts with and the source's title: the preset recognised from the header
    (Mailchimp's status from `file_name`), else a guess and ""."""
    preset = detect(header)
    if preset is None:
        return guess(header), ""
    return preset.mapping(header, file_name), preset.title


def preview(path: str | Path | TextFile, mapping: Mapping | None = None, rows: int = 5,
            region: str | None = None) -> Preview:
    """The first `rows` records of a contacts CSV read through `mapping` (default: the export
    recognised from the header, else a proposed mapping). Raises OSError/NotText as the importer."""
    file, header, delimiter = read_header(path)
    if mapping is None:
        chosen, title = proposed_mapping(header, file.path.name)
    else:
        chosen, title = mapping, BY_NAME[mapping.preset].title if mapping.preset in BY_NAME else ""
    found = Preview(header, chosen, title, encoding=file.encoding, delimiter=delimiter)
    raw = _raw_records(file, header, delimiter, rows)
    found.samples = {h: [v for v in (r.get(h, "").strip() for r in raw.values()) if v][:SAMPLES] for h in header}
    if not header:
        found.refused = "the file is empty; the first line must name the columns"
        return found
    try:
        chosen.check(header)
    except MappingError as exc:
        found.refused = str(exc)
        return found
    _, _, again = contacts_text(file)
    stats = ReadStats()
    records = contact_records(again, chosen, file_name=file.path.name, region=region, stats=stats)
    before = dict(stats.derived)            # what was derived before each record (the reader counts it)
    for item in itertools.islice(records, rows):
        entry = PreviewRow(item.line, raw.get(item.line, {}))
        if isinstance(item, Problem):
            if item.line == 1:          # the header itself (a column name no database keeps)
                found.refused = item.reason
                return found
            found.problems.append(item)
            entry.problem = item.reason
            entry.marks[_field_of(item.reason, chosen, header)] = item.reason
        else:
            found.rows.append(item)
            found.problems += [Problem(item.line, w) for w in item.warnings]
            entry.row = item
            for warning in item.warnings:
                entry.marks[_field_of(warning, chosen, header)] = warning
            entry.zone_from = _zone_from(item, before, stats.derived)
        before = dict(stats.derived)
        found.items.append(entry)
    return found


def _raw_records(file: TextFile, header: list[str], delimiter: str, rows: int) -> dict[int, dict[str, str]]:
    """The first records' cells by column as written, by the line each starts on (bad rows included;
    a few more than `rows`, as blank records are skipped)."""
    _, _, lines = contacts_text(file)
    reader = csv.reader(lines, delimiter=delimiter)
    found: dict[int, dict[str, str]] = {}
    try:
        next(reader)
        while len(found) < rows * 2 + 5:
            line = reader.line_num + 1
            values = next(reader)
            if any(v.strip() for v in values):
                found[line] = dict(zip(header, values))
    except (StopIteration, csv.Error):
        pass
    return found


def mark_key(t: Target, column: str) -> str:
    """The key a column's cell is marked under in `PreviewRow.marks`: its field, or `date:<name>` /
    `attribute:<name>` for one attribute among several."""
    if t.field in ("date", "attribute"):
        return f"{t.field}:{t.name or column}"
    return t.field


def _field_of(reason: str, mapping: Mapping, header: list[str]) -> str:
    """Which stored cell a problem or warning is about: a column it starts with (`Total Spent: …`),
    else a field it names first (`phone '12' is not…`, `email 'x' is not…`), else the whole row."""
    for column in sorted(header, key=len, reverse=True):
        if column and (reason.startswith(f"{column}:") or reason.startswith(f"{column} ")):
            return mark_key(mapping.target_of(column), column)
    for name in ("phone", "email", "time zone", "the tag", "id", "first_name", "last_name"):
        if reason.startswith(name):
            return {"time zone": "timezone", "the tag": "tags"}.get(name, name)
    return "row"


def _zone_from(row: ContactRow, before: dict[str, int], after: dict[str, int]) -> str:
    """Where `row`'s time zone came from: the file, or the way it was derived (the counter that moved)."""
    if not row.fields.get("timezone"):
        return ""
    moved = [how for how, n in after.items() if n != before.get(how, 0)]
    return moved[0] if moved else "file"
