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


class LongLine(str):
    """Stands, empty, for a line longer than `split_lines`' limit, which was not kept; `length` is how
    many characters it had (its "\n" not counted)."""

    length: int

    def __new__(cls, length: int) -> "LongLine":
        line = super().__new__(cls, "")
        line.length = length
        return line


def split_lines(blocks: Iterable[str], limit: int | None = None) -> Iterator[str]:
    """The lines of text given in blocks, each ending with its "\n" (the last may have none), split on
    "\n" only — as `io.StringIO(text)` iterates, never at "\r" alone or U+2028 (which may sit inside a
    value). A line longer than a block is joined once, not copied block after block. A line longer
    than `limit` characters is not held at all: a `LongLine` stands for it, so one line of hundreds of
    megabytes (no "\n" in it) costs no more memory than a short one."""
    pending: list[str] = []
    held = 0                # characters in `pending`
    dropped = 0             # characters of the current line beyond `limit`, not held (0: none)
    for block in blocks:
        if "\n" not in block:
            if dropped:
                dropped += len(block)
            elif limit is not None and held + len(block) > limit:
                dropped, held, pending = held + len(block), 0, []
            else:
                pending.append(block)
                held += len(block)
            continue
        parts = block.split("\n")
        last = parts.pop()
        first = parts[0]
        if dropped:
            yield LongLine(dropped + len(first))
            parts = parts[1:]
        elif pending:
            parts[0] = "".join(pending) + first
        pending, held, dropped = [], 0, 0
        for part in parts:
            if limit is not None and len(part) > limit:
                yield LongLine(len(part))
            else:
                yield part + "\n"
        if last:
            if limit is not None and len(last) > limit:
                dropped = len(last)
            else:
                pending, held = [last], len(last)
    if dropped:
        yield LongLine(dropped)
    elif pending:
        yield "".join(pending)
