"""What a contacts file will become, before anything is written: its detected source, the mapping
per column and its first rows as they will be stored (for File → Import contacts and tests)."""
from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from .contact_mapping import Mapping, MappingError
from .contact_presets import BY_NAME, detect, guess
from .file_import import contacts_text
from .import_rows import ContactRow, Problem, ReadStats
from .importers import BOM, _delimiter, contact_records
from .textstream import TextFile


@dataclass
class Preview:
    """`source`: the export recognised (its title) or "" for a layout that needs a mapping; `mapping`:
    the preset's, or a proposal (`guess`) to check; `rows`: the first rows as stored, and the first
    problems (bad rows, by line) and warnings among them."""

    header: list[str]
    mapping: Mapping
    source: str
    rows: list[ContactRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    refused: str = ""        # why the mapping cannot read the file (no identity column…), or ""


def preview(path: str | Path | TextFile, mapping: Mapping | None = None, rows: int = 5,
            region: str | None = None) -> Preview:
    """The first `rows` records of a contacts CSV read through `mapping` (default: the export
    recognised from the header, else a proposed mapping). Raises OSError/NotText as the importer."""
    file, _, lines = contacts_text(path)
    first = next(lines, "").removeprefix(BOM)
    try:
        header = [h.strip() for h in next(csv.reader([first], delimiter=_delimiter(first)))]
    except (StopIteration, csv.Error):
        header = []
    preset = detect(header) if mapping is None else (BY_NAME.get(mapping.preset or "") if mapping.preset else None)
    chosen = mapping or (preset.mapping(header, file.path.name) if preset else guess(header))
    found = Preview(header, chosen, preset.title if preset else "")
    try:
        chosen.check(header)
    except MappingError as exc:
        found.refused = str(exc)
        return found
    _, _, again = contacts_text(file)
    stats = ReadStats()
    for item in itertools.islice(contact_records(again, chosen, file_name=file.path.name, region=region,
                                                 stats=stats), rows):
        if isinstance(item, Problem):
            found.problems.append(item)
        else:
            found.rows.append(item)
            found.problems += [Problem(item.line, w) for w in item.warnings]
    return found
