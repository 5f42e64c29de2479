"""Reading big text files in bounded memory: the encoding decided by a cheap first pass over the
bytes, then the text in blocks, split into lines on "\n" only, with the share of the file read.

The importers read a file of a million rows through this instead of holding its text (and every
parsed row) at once, which took 19× the file's size in memory.
"""
from __future__ import annotations

import codecs
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

BLOCK = 1 << 20         # bytes per read: large enough for the decoders' C loops, small beside the budget
UTF8 = "utf-8-sig"      # UTF-8; a leading byte-order mark (Excel's "CSV UTF-8") is not text
WINDOWS_1252 = "cp1252"


@dataclass(frozen=True)
class TextFile:
    """A file whose whole content decodes in `encoding`; `size` in bytes; `has_newline`: some "\n" in it.
    `errors`: "strict", or "surrogateescape" when a few bytes do not decode (each stands as a lone
    surrogate U+DC80–U+DCFF, and the record holding it is reported, the rest read)."""

    path: Path
    encoding: str
    size: int
    has_newline: bool
    errors: str = "strict"


class NotText(ValueError):
    """The file is not text at all (a spreadsheet, an archive, an image): nothing can be read."""


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


SAMPLE = 1 << 16        # bytes of lines with non-ASCII bytes given to the detector
_LEGACY = ("cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2", "mac_roman", "cp1251", "koi8_r",
           "iso8859_9", "cp1254", "cp437", "cp850")


def inspect_table(path: str | Path) -> TextFile:
    """How to read a CSV file as people save them: UTF-16 (Excel's "Unicode text", with its byte-order
    mark); UTF-8 with or without a BOM, a few bad bytes allowed (each reported with its record);
    else the legacy single-byte encoding `charset-normalizer` finds in the lines that are not ASCII
    (Windows-1252 for Western Europe and the Americas, Windows-1250, …; Windows-1252 when it finds
    none), undecodable bytes again reported with their record.

    Raises OSError, or NotText for a file that is not text (an archive, a workbook, NUL bytes
    throughout: binary)."""
    path = Path(path)
    size = os.stat(path).st_size
    with open(path, "rb") as handle:
        head = handle.read(BLOCK)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        wide = head[:len(head) - len(head) % 2].decode("utf-16", "replace")
        # A table's header and emails are mostly ASCII whatever the names: bytes that only happen
        # to start like UTF-16 read as a run of rare CJK signs instead.
        if sum(c.isascii() for c in wide) < 0.3 * len(wide):
            raise NotText("binary data (it starts like UTF-16 text but is not), not a CSV text file")
        return TextFile(path, "utf-16", size, "\n" in wide, "surrogateescape")
    if head.startswith(b"PK\x03\x04"):
        raise NotText("a zip archive or an Excel workbook, not a CSV file (save the sheet as CSV UTF-8)")
    kind = next((k for magic, k in _NOT_TABLES if head.startswith(magic)), None)
    if kind is not None:        # picked by mistake: said as what it is, not as a header with odd columns
        raise NotText(f"{kind}, not a CSV file; export the contacts as CSV")
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise NotText("an old Excel workbook (.xls), not a CSV file (save the sheet as CSV UTF-8)")
    if head.count(b"\x00") > max(8, len(head) // 100):
        raise NotText("binary data (NUL bytes throughout), not a CSV text file")
    try:
        return TextFile(path, UTF8, size, _check(path, UTF8))
    except UnicodeDecodeError:
        pass
    good, bad, sample, newline = _utf8_census(path)
    if good > bad:       # UTF-8 with a few bad bytes: each is reported with its record
        return TextFile(path, UTF8, size, newline, "surrogateescape")
    return TextFile(path, _legacy(sample), size, newline, "surrogateescape")


# Files people pick by mistake, by their first bytes (each format's magic number).
_NOT_TABLES = ((b"%PDF-", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
               (b"GIF8", "a GIF image"), (b"{\\rtf", "an RTF document"), (b"\x1f\x8b", "a gzip archive"))


def _utf8_census(path: Path) -> tuple[int, int, bytes, bool]:
    """(non-ASCII characters that decode as UTF-8, bytes that do not, up to SAMPLE bytes of the lines
    holding non-ASCII bytes, whether there is a "\n"), in one pass over the file."""
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    good = bad = 0
    sample: list[bytes] = []
    held = 0
    newline = False
    with open(path, "rb") as handle:
        while True:
            block = handle.read(BLOCK)
            text = decoder.decode(block, final=not block)
            if text and not text.isascii():
                escaped = len(_ESCAPED.findall(text))
                bad += escaped
                good += len(_NON_ASCII.findall(text)) - escaped
                if held < SAMPLE:
                    for line in block.split(b"\n"):
                        if not line.isascii():
                            sample.append(line[:4096])
                            held += min(len(line), 4096)
                            if held >= SAMPLE:
                                break
            newline = newline or b"\n" in block
            if not block:
                return good, bad, b"\n".join(sample), newline


def _legacy(sample: bytes) -> str:
    """The single-byte encoding `charset-normalizer` finds most likely for `sample`; Windows-1252
    (Excel's plain "CSV" in the West) when it names none of them."""
    from charset_normalizer import from_bytes

    found = list(from_bytes(sample, cp_isolation=list(_LEGACY))) if sample else []
    if not found:
        return "cp1252"
    names = {codecs.lookup(e).name for e in _LEGACY}
    best = min(m.chaos for m in found)
    chaos: dict[str, float] = {}
    for m in found:
        if m.chaos <= best + 0.15:          # near the best: short samples fit several code pages
            for encoding in (m.encoding, *m.could_be_from_charset):
                name = codecs.lookup(encoding).name
                if name in names:
                    chaos.setdefault(name, m.chaos)
    if not chaos:
        return "cp1252"
    # The one that reads clearly more of the non-ASCII bytes as letters (Łódź, not £ódŸ) wins over
    # Windows-1252, the commonest; a margin of two, so that a lone € read as Ђ does not tip it.
    letters = {n: _letters(sample, n) for n in chaos}
    other = max(chaos, key=lambda n: (letters[n], -chaos[n]))
    western = letters["cp1252"] if "cp1252" in letters else _letters(sample, "cp1252")
    # When the detector did not find Windows-1252 near the best at all, its choice stands on a tie.
    margin = 2 if "cp1252" in chaos else 0
    return other if letters[other] >= western + margin else "cp1252"


def _letters(sample: bytes, encoding: str) -> int:
    """How many of the non-ASCII characters `sample` decodes to in `encoding` are letters inside a
    word (next to another letter), not counting those in a word that mixes them with ASCII letters
    while not Latin themselves: Western text read in a Cyrillic code page gives "Zoл Mьller" (Zoë
    Müller), words no one writes, whereas Cyrillic text read as Windows-1252 gives whole words of
    accented Latin letters."""
    letters = 0
    for word in _WORD.findall(sample.decode(encoding, "replace")):
        # A sign standing alone (`1.234,50 €`, `¥1,500`) is no letter in Windows-1252 but reads as
        # one in Windows-1251 (Ђ, Ґ): only letters next to letters count.
        if word.isascii() or len(word) < 2:
            continue
        found = [c for c in word if not c.isascii() and c.isalpha()]
        if any(c.isascii() for c in word) and any(not _latin(c) for c in found):
            continue
        letters += len(found)
    return letters


def _latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


_WORD = re.compile(r"[^\W\d_]+")


_ESCAPED = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")


class Blocks:
    """The decoded text of a `TextFile` in blocks of about BLOCK bytes, line ends untouched;
    `done` is the number of bytes read so far (for progress: `done / file.size`)."""

    def __init__(self, file: TextFile) -> None:
        self.file = file
        self.done = 0

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.file.encoding)(self.file.errors)
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
