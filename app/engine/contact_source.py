"""A contacts source as the import dialog holds it while the user looks and maps: one CSV, or each
CSV of a Mailchimp archive (extracted once, kept until `close`), the columns of all of them, the
mapping they start with, and each file's own mapping made from the one the user edits.

No Qt and no writes: the dialog runs these on a worker thread; the import itself is
`file_import.import_contact_source(..., mappings=source.mappings(edited), atomic=True)`.
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .contact_mapping import Mapping, Target, saved_mapping, save_mapping
from .contact_presets import BY_NAME, _norm, mailchimp_status
from .contact_preview import DELIMITER_NAMES, Preview, preview, proposed_mapping, read_header
from .file_import import contact_files
from .textstream import NotText, TextFile


@dataclass
class SourceFile:
    """One CSV of the source: `name` as `contact_files` gives it (`x.zip:subscribed_….csv` inside an
    archive), as inspected, its header and separator; `status`: the email consent its name gives
    (Mailchimp: `subscribed`, `unsubscribed`; "" when it says nothing)."""

    name: str
    file: TextFile
    header: list[str]
    delimiter: str
    status: str = ""

    @property
    def short_name(self) -> str:
        return self.name.split(":", 1)[-1]

    def described(self) -> str:
        """`UTF-8, semicolon-separated` — how the file was read."""
        encoding = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows-1252",
                    "latin-1": "Latin-1"}.get(self.file.encoding.lower(), self.file.encoding)
        return f"{encoding}, {DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-separated"


class ContactSource:
    """The file (or archive) at `path`, opened for the dialog. Raises OSError or NotText (a workbook,
    binary data, an archive without a CSV) as the importer; an empty file or a header nothing can
    map is not an error here: `problem()` says it."""

    def __init__(self, path: str | Path, db: Any = None) -> None:
        self.path = Path(path)
        self._stack = ExitStack()
        try:
            listed = self._stack.enter_context(contact_files(self.path))
            self.files: list[SourceFile] = []
            for name, file in listed:
                _, header, delimiter = read_header(file)
                status = mailchimp_status(file.path.name, {_norm(h) for h in header}).get("email", "")
                self.files.append(SourceFile(name, file, header, delimiter, status))
        except BaseException:
            self._stack.close()
            raise
        self.header = list(dict.fromkeys(h for f in self.files for h in f.header))   # every file's columns
        first = self.files[0]
        self.initial, self.title = proposed_mapping(self.header, first.file.path.name)
        self.saved = False
        if db is not None:
            remembered = saved_mapping(db, first.header)
            if remembered is not None:
                self.initial, self.saved = remembered, True
                preset = BY_NAME.get(remembered.preset or "")
                self.title = preset.title if preset else ""

    def close(self) -> None:
        """Removes what was extracted from an archive."""
        self._stack.close()

    @property
    def is_archive(self) -> bool:
        return len(self.files) > 1 or ":" in self.files[0].name

    def describe(self) -> str:
        """What the source was recognised as: `Shopify customers export`, `Mailchimp audience export (3
        files)`, or `No known layout: map the columns`."""
        if not self.title:
            return "No known layout: map the columns"
        return self.title + (f" ({len(self.files)} files)" if len(self.files) > 1 else "")

    def problem(self) -> str:
        """Why nothing can be imported whatever the mapping (an empty file), or ""."""
        if not any(f.header for f in self.files):
            return "The file is empty: its first line must name the columns (email, phone…)."
        return ""

    def mapping_for(self, file: SourceFile, edited: Mapping) -> Mapping:
        """`edited` (the dialog's, over every file's columns) for one file: its own columns only, and
        a Mailchimp file's consent from its name."""
        columns: dict[str, Target] = {c: t for c, t in edited.columns.items() if c in file.header}
        consent = {"email": file.status} if edited.preset == "mailchimp" and file.status else {}
        return replace(edited, columns=columns, file_consent=consent)

    def mappings(self, edited: Mapping) -> dict[str, Mapping]:
        """Each file's mapping by its name, for `import_contact_source(mappings=…)`."""
        return {f.name: self.mapping_for(f, edited) for f in self.files}

    def preview(self, edited: Mapping, rows: int = 8, region: str | None = None) -> Preview:
        """The first rows of the first file with a header, read through `edited` (raises OSError)."""
        file = next(f for f in self.files if f.header)
        return preview(file.file, self.mapping_for(file, edited), rows, region)

    def remember(self, db: Any, edited: Mapping) -> None:
        """Saves the mapping for each file's header layout, so the next file like it opens with it. A
        preset's own mapping is not saved (a later version's preset applies), unless it replaces one
        the user saved before."""
        for f in self.files:
            if not f.header:
                continue
            mine = replace(self.mapping_for(f, edited), file_consent={})
            preset, title = proposed_mapping(f.header, f.file.path.name)
            if title and mine.to_json() == replace(preset, file_consent={}).to_json() \
                    and saved_mapping(db, f.header) is None:
                continue
            save_mapping(db, f.header, mine)


__all__ = ["ContactSource", "NotText", "SourceFile"]
