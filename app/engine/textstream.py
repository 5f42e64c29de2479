"""Reading big text files in bounded memory: the encoding decided by a cheap first pass over the
bytes, then the text in blocks, split into lines on "\n" only, with the share of the file read.

The importers read a file of a million rows through this instead of holding its text (and every
parsed row) at once, which took 19× the file's size in memory.
"""
from __future__ import annotations

import codecs
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

BLOCK = 1 << 20         # bytes per read: large enough for the decoders' C loops, small beside the budget
UTF8 = "utf-8-sig"      # UTF-8; a leading byte-order mark (Excel's "CSV UTF-8") is not text
WINDOWS_1252 = "cp1252"


@dataclass(frozen=True)
class TextFile:
    """A file whose whole content decodes in `encoding`; `size` in bytes; `has_newline`: some "\n" in it."""

    path: Path
    encoding: str
    size: int
    has_newline: bool


def _check(path: Path, encoding: str) -> bool:
    """Decodes the whole file in blocks (nothing kept); True when it has a "\n". Raises
    UnicodeDecodeError naming the line of the first bad byte, or OSError."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    lines, newline = 1, False
    with open(path, "rb") as handle:
        while True:
            block = handle.read(BLOCK)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                line = lines + block[:exc.start].count(b"\n")
                raise UnicodeDecodeError(exc.encoding, exc.object, exc.start, exc.end,
                                         f"{exc.reason} (line {line})") from None
            if not block:
                return newline
            found = block.count(b"\n")      # 0x0A is "\n" in UTF-8 and in Windows-1252 alike
            lines += found
            newline = newline or found > 0


def inspect(path: str | Path, fallback: str | None = None) -> TextFile:
    """The file's encoding: UTF-8 when all of it decodes as UTF-8 (a UTF-8 file never fails to, so
    the fallback never misreads one), else `fallback` (e.g. Windows-1252, which Excel's plain "CSV"
    writes in Western Europe and the Americas) when that decodes it. Raises OSError, or the UTF-8
    UnicodeDecodeError when neither fits."""
    path = Path(path)
    size = os.stat(path).st_size
    try:
        return TextFile(path, UTF8, size, _check(path, UTF8))
    except UnicodeDecodeError as exc:
        if fallback is None:
            raise
        try:
            return TextFile(path, fallback, size, _check(path, fallback))
        except UnicodeDecodeError:
            raise exc from None


class Blocks:
    """The decoded text of a `TextFile` in blocks of about BLOCK bytes, line ends untouched;
    `done` is the number of bytes read so far (for progress: `done / file.size`)."""

    def __init__(self, file: TextFile) -> None:
        self.file = file
        self.done = 0

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.file.encoding)("strict")
        with open(self.file.path, "rb") as handle:
            while True:
                block = handle.read(BLOCK)
                self.done += len(block)
                text = decoder.decode(block, final=not block)
                if text:
                    yield text
                if not block:
                    return


def split_lines(blocks: Iterable[str]) -> Iterator[str]:
    """The lines of text given in blocks, each ending with its "\n" (the last may have none), split on
    "\n" only — as `io.StringIO(text)` iterates, never at "\r" alone or U+2028 (which may sit inside a
    value). A line longer than a block is joined once, not copied block after block."""
    pending: list[str] = []
    for block in blocks:
        if "\n" not in block:
            pending.append(block)
            continue
        parts = block.split("\n")
        if pending:
            parts[0] = "".join(pending) + parts[0]
            pending = []
        last = parts.pop()
        for part in parts:
            yield part + "\n"
        if last:
            pending.append(last)
    if pending:
        yield "".join(pending)
