"""Reading contacts (CSV) and events (JSON lines): a bad row is reported with its line and skipped.

Writing the contacts read is `contact_import`'s; the row types are in `import_rows` (both re-exported
here, where callers have always found them)."""
from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Iterator, Union

from app.journey.event_names import NAME_HINT, canonical_event_type, event_name_problem
from app.journey.jsonvalues import MAX_DEPTH, decode, first_fault, text_fault
from app.journey.schema import (MAX_AMOUNT, MAX_EVENT, MAX_TAG, date_problem, parse_datetime,
                                timezone_names)

from .consent import CHANNELS, CONSENT_EVENTS, channel_name, consent_event_type
from .contact_import import import_contacts, import_contacts_report
from .feedback import FEEDBACK
from .contact_mapping import Mapping, MappingError
from .contact_presets import detect, guess
from .contact_rows import LIMITS as _LIMITS
from .contact_rows import RowReader
from .contact_workers import parallel_rows, start_pool
from .import_rows import ContactImport, ContactRow, Note, Problem, ReadStats
from .ingest import EventIn
from .segment import IDENTIFY, SEGMENT_TIMES, checked_traits, is_segment, standard_properties, to_ours
from .textstream import LongLine

__all__ = ["BOM", "ContactImport", "ContactRow", "Problem", "contact_records", "event_records", "import_contacts",
           "import_contacts_report", "json_lines", "parse_contacts", "parse_events", "read_csv_text", "read_text"]

# The widths of the store's columns (app/store/tables.py, contacts; a test compares them): SQLite would
# keep a longer value, PostgreSQL refuses it, so the importer refuses it on both.
# An event line, or a contacts line, longer than this is refused unread (textstream.split_lines holds
# none of it): an event or a contact is a few kilobytes; a line of hundreds of megabytes would take
# gigabytes to parse.
MAX_EVENT_LINE = 1_000_000     # characters
MAX_CONTACT_LINE = MAX_EVENT_LINE


def parse_contacts(text: str) -> tuple[list[ContactRow], list[Problem]]:
    """Contacts from CSV text whose first line names the columns. Records end at "\n" or "\r\n"
    only (never at U+2028 and friends, which may sit inside a value); each row and problem carries
    the line its record starts on. A byte-order mark at the start (Excel's "CSV UTF-8") is not
    part of the first column's name. Columns are separated by commas, or by semicolons or tabs
    when the first line is (European Excel writes ";" where the decimal mark is a comma). A file
    whose lines all end in "\r" alone (Excel for Mac's "CSV (Macintosh)") is read line by line too.
    The same as `contact_records` over the text's lines, collected."""
    if "\n" not in text:
        text = text.replace("\r", "\n")
    rows: list[ContactRow] = []
    problems: list[Problem] = []
    for item in contact_records(io.StringIO(text)):
        (problems if isinstance(item, Problem) else rows).append(item)    # type: ignore[arg-type]
    return rows, problems


class _Bounded:
    """The lines of a CSV with each one over MAX_CONTACT_LINE (a `LongLine` the stream did not hold,
    or a long line of a text read whole) replaced by a blank line; `long` is its length, so that the
    record it was part of is reported instead of read."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.long: int | None = None
        self.record: list[str] = []     # the lines of the record being read (see `unclosed`)

    def __iter__(self) -> "_Bounded":
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        if isinstance(line, LongLine) or len(line) > MAX_CONTACT_LINE + 2:     # + its "\r\n"
            self.long = line.length if isinstance(line, LongLine) else len(line.rstrip("\r\n"))
            return "\n"
        self.record.append(line)
        return line

    def misquoted(self, delimiter: str) -> str | None:
        """Why the record just read, which spans lines, is not CSV as written (None when it is): a
        double quote never closed ("end": the csv module takes the rest of the file as one value,
        rows and all), or closed in the middle of a value ("inside": the rows between were swallowed
        into one value). Read leniently, either would be a row of the wrong values and lost rows."""
        if len(self.record) < 2:
            return None
        try:
            for _ in csv.reader(self.record, delimiter=delimiter, strict=True):
                pass
        except csv.Error as exc:
            return "end" if "unexpected end of data" in str(exc) else "inside"
        return None


MappingChoice = Union[Mapping, Callable[[list[str]], Mapping], None]


def contact_records(lines: Iterable[str], mapping: MappingChoice = None, *, file_name: str | None = None,
                    region: str | None = None, stats: ReadStats | None = None,
                    parallel: bool = False) -> Generator[ContactRow | Problem, None, None]:
    """Each good row and each problem of a contacts CSV, in file order, from its lines (each ending
    with its "\n", as `io.StringIO` or `textstream.split_lines` gives them): a million-row file is
    read in bounded memory (only the keys seen are kept, to report a repeated contact).

    `mapping` says what each column is: a Mapping, a function choosing one from the header (it
    raises MappingError to refuse the file), or None: the export recognised from the header
    (contact_presets.detect: Shopify, Mailchimp, Klaviyo, WooCommerce, this app's own). A header
    that no mapping fits is one Problem on line 1 and nothing else. `file_name` gives Mailchimp's
    status; `region` (ISO alpha-2) reads national phone numbers without a country; `stats` counts
    the time zones derived. `parallel`: the rows are parsed in a worker process (`contact_workers`,
    for a big file: the same rows and problems, on two cores; read here when the worker cannot
    start); close the iterator when stopping early, which ends the worker. Other rules as for
    `parse_contacts`."""
    lines = _Bounded(iter(lines))
    first = next(lines, "").removeprefix(BOM)
    reader = csv.reader(itertools.chain([first] if first else [], lines), delimiter=_delimiter(first))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        yield Problem(1, "the file is empty; the first line must name the columns")
        return
    except csv.Error as exc:
        yield Problem(1, f"the first line cannot be read as CSV ({_csv_trouble(exc)}); it must name the columns")
        return
    for name in header:     # other columns become attributes: a name no database keeps would fail every row
        reason = text_fault(name)
        if reason:
            yield Problem(1, f"the column name {name[:40]!r} {reason}; rename the column")
            return
    try:
        chosen = _choose(header, mapping, file_name).fitted(header)
        chosen.check(header)
    except MappingError as exc:
        yield Problem(1, str(exc))
        return
    if stats is not None:
        stats.source = chosen.preset or "map"
    row = RowReader(header, chosen, region, stats)
    records = _records(reader, lines, header)
    pool = start_pool(row) if parallel else None
    if pool is not None:
        yield from parallel_rows(pool, row, records)
        return
    for record in records:
        yield record if isinstance(record, Problem) else row(*record)


def _records(reader: Any, lines: _Bounded, header: list[str]) -> Iterator[Problem | tuple[int, list[str]]]:
    """The records after the header, as (line, values), or the Problem that refuses one unread."""
    while True:
        line = reader.line_num + 1          # where the record starts: a quoted value may span lines
        lines.record = []
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:            # a NUL byte, an over-long value: this record only
            values = None
            trouble = _csv_trouble(exc)
        if lines.long is not None:          # the record held a line too long to read: this record only
            yield Problem(line, f"the line is {lines.long:,} characters long; a contact may take at most "
                                f"{MAX_CONTACT_LINE:,}")
            lines.long = None
            continue
        if values is None:
            yield Problem(line, f"cannot be read as CSV ({trouble})")
            continue
        quoting = lines.misquoted(reader.dialect.delimiter) if reader.line_num > line else None
        if quoting is not None:
            yield Problem(line, (
                f"a double quote opened on this line is never closed, so lines {line}–{reader.line_num} (the end "
                "of the file) were read as one row; close the quote and import the file again" if quoting == "end"
                else f"a double quote opened on this line closes inside a value on line {reader.line_num}, so lines "
                f"{line}–{reader.line_num} were read as one row; fix the quotes and import the file again"))
            continue
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            spans = (f" (read as one row from line {line} to {reader.line_num}: a double quote opened on line {line} "
                     f"closes only on line {reader.line_num}; check the quotes)" if reader.line_num > line else "")
            yield Problem(line, f"has {len(values)} values but the header names {len(header)} columns{spans}")
            continue
        joined = "".join(values)
        if not joined.isascii() and _ESCAPED.search(joined):
            yield Problem(line, _bad_bytes(values))
            continue
        yield line, values


def _choose(header: list[str], mapping: MappingChoice, file_name: str | None) -> Mapping:
    if isinstance(mapping, Mapping):
        return mapping
    if mapping is not None:
        return mapping(header)
    preset = detect(header)
    if preset is None:
        raise MappingError(unknown_layout(header))
    return preset.mapping(header, file_name)


def unknown_layout(header: list[str]) -> str:
    """Why a header is refused without a mapping, with the mapping to start from."""
    import json

    shown = ", ".join(repr(h) for h in header[:10]) + (" …" if len(header) > 10 else "")
    proposal = json.dumps(guess(header).to_json()["columns"], ensure_ascii=False)
    return (f"the columns ({shown}) are not a Shopify, Mailchimp, Klaviyo, WooCommerce or Journey Studio export "
            f"and name no id, email or phone column; map them with --map MAP.json, e.g. {{\"columns\": {proposal}}}")


_ESCAPED = re.compile("[\udc80-\udcff]")     # a byte the encoding could not read (surrogateescape)


def _bad_bytes(values: list[str]) -> str:
    """A record holding bytes its file's encoding cannot read (kept as lone surrogates by the reader)."""
    found = _ESCAPED.search("".join(values))
    byte = f"0x{ord(found.group()) - 0xdc00:02X}" if found else "a byte"
    return f"holds the byte {byte}, which is not text in this file's encoding; fix or remove it and import the file again"


BOM = "\ufeff"     # a byte-order mark: how Windows tools start UTF-8 text; never content


def json_lines(text: str | Iterable[str]) -> Iterator[tuple[int, str]]:
    """The lines of a JSON-lines file with their numbers (from 1), split on "\n" only; `text` is the
    whole text, or its lines each ending with its "\n" (`textstream.split_lines`: a big file).

    `str.splitlines` would also split at U+2028, U+2029, U+0085, \x0b, \x0c, \x1c-\x1e, which JSON
    allows raw inside strings (RFC 8259 section 7; the JSON Lines format separates records with
    "\n" alone), turning one good line into two bad ones. A "\r" before the "\n" (Windows) is dropped,
    and so is a byte-order mark at the start of a line (Windows editors write one at the start of
    a file, and files joined with `cat` carry it into the middle; JSON never starts with one).
    """
    if isinstance(text, str):
        lines: Iterable[str] = text.split("\n")
    else:
        lines = (line[:-1] if line.endswith("\n") else line for line in text)
    for number, line in enumerate(lines, start=1):
        if isinstance(line, LongLine):       # not kept: event_records reports it
            yield number, line
            continue
        line = line.removeprefix(BOM)
        yield number, line[:-1] if line.endswith("\r") else line


def parse_events(source: str | Iterable[str]) -> tuple[list[EventIn], list[Problem]]:
    """Events from JSON-lines text (split with `json_lines`), or from lines already split; blank
    lines are skipped, a bad line is reported by its number and skipped."""
    found: list[EventIn] = []
    problems: list[Problem] = []
    numbered = json_lines(source) if isinstance(source, str) else enumerate(source, start=1)
    for item in event_records(numbered):
        (problems if isinstance(item, Problem) else found).append(item)    # type: ignore[arg-type]
    return found, problems


def event_records(numbered: Iterable[tuple[int, str]]) -> Iterator[EventIn | Problem]:
    """Each event and each bad line (a Problem with its number), in file order, from numbered lines
    (`json_lines`); blank lines are skipped. Lazy: a million-line file is read in bounded memory."""
    for number, raw in numbered:
        if isinstance(raw, LongLine) or len(raw) > MAX_EVENT_LINE:    # the same whether streamed or not
            length = raw.length if isinstance(raw, LongLine) else len(raw)
            yield Problem(number, f"the line is {length:,} characters long; an event may take at most "
                                  f"{MAX_EVENT_LINE:,} (its properties are too big to store)")
            continue
        if not raw.strip():
            continue
        try:
            found = _events(raw)
        except ValueError as exc:
            yield Problem(number, str(exc))
            continue
        for event in found:
            if isinstance(event, str):      # one bad call of a Segment batch: the others are kept
                yield Problem(number, event)
                continue
            yield event
            for note in event.notes:          # kept, without the value named: said by line
                yield Note(number, note)


def _events(raw: str) -> list[EventIn | str]:
    """The event of one JSON line; or, for a Segment batch (`{"batch": [call, …], "sentAt": …}`, as
    Segment's libraries post to its batch API), each call's event or why it is not one (prefixed with
    its JSON pointer, `/batch/3`). Raises ValueError for a line that is neither."""
    data = _decoded(raw)
    batch = data.get("batch")
    if not isinstance(batch, list) or "contact" in data or "type" in data:
        return [_event_of(data)]
    found: list[EventIn | str] = []
    for i, call in enumerate(batch):
        try:
            if not isinstance(call, dict):
                raise ValueError("must be a Segment call (a JSON object)")
            found.append(_event_of(call))
        except ValueError as exc:
            found.append(f"/batch/{i}: {exc}")
    return found


def _event(raw: str, now: datetime | None = None) -> EventIn:
    """One event from one JSON line; raises ValueError with the reason (and JSON pointer) otherwise."""
    return _event_of(_decoded(raw), now)


def _decoded(raw: str) -> dict[str, Any]:
    """One JSON line as an object; raises ValueError saying why it is not one."""
    try:
        data: Any = decode(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError(f"not valid JSON (nested more than {MAX_DEPTH} levels deep)") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    fault = first_fault(data)       # NUL, lone surrogates, NaN/Infinity, numbers no float holds, deep nesting
    if fault is not None:
        raise ValueError(str(fault))
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object like {\"contact\": ..., \"type\": ..., \"at\": ...}")
    return data


def event_from_data(data: Any, now: datetime | None = None) -> EventIn:
    """One event from one decoded JSON value (ours or a Segment track/identify call, already checked
    with `first_fault`); raises ValueError with the reason, naming the field. Shared by the JSON-lines
    import and the receiver's Segment endpoints (app/intake), so both accept and refuse alike."""
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object like {\"contact\": ..., \"type\": ..., \"at\": ...}")
    return _event_of(data, now)


def _event_of(data: dict[str, Any], now: datetime | None = None) -> EventIn:
    """One event from one decoded line (or Segment call); raises ValueError with the reason. What
    PostgreSQL would refuse and SQLite keep is refused here, so both databases answer alike."""
    said = {"contact": "'contact'", "at": "'at'"}        # a bad value is named as the line names it
    if is_segment(data):           # Segment's track/identify shape (app/engine/segment.py)
        said = {"contact": "'userId'" if data.get("userId") is not None else "'anonymousId'",
                "at": next((repr(k) for k in SEGMENT_TIMES if isinstance(data.get(k), str)), "'timestamp'")}
        data = to_ours(data)
    contact, kind, at = data.get("contact"), data.get("type"), data.get("at")
    if not isinstance(contact, (str, int)) or isinstance(contact, bool) or not str(contact).strip():
        raise ValueError(f"{said['contact']} must be a contact id")
    if len(str(contact)) > _LIMITS["id"]:
        raise ValueError(f"{said['contact']} is longer than {_LIMITS['id']} characters")
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError("'type' must be an event name such as order_placed")
    if len(kind) > MAX_EVENT:
        raise ValueError(f"'type' is longer than {MAX_EVENT} characters")
    # The names journeys may use (app/journey/event_names.py): "Order Completed" is order_placed,
    # "Coupon Applied" coupon_applied; a name no journey could wait for is refused here, by line.
    kind = canonical_event_type(consent_event_type(kind))
    named_problem = event_name_problem(kind)
    if named_problem:
        raise ValueError(f"'type' {kind[:40]!r} {named_problem}; {NAME_HINT}")
    if not isinstance(at, str):
        raise ValueError("'at' must be an ISO-8601 time such as 2026-03-01T10:00:00Z")
    try:
        when = parse_datetime(at)
    except ValueError:
        raise ValueError(f"{said['at']} {at!r} is not an ISO-8601 time with a time zone "
                         "(e.g. 2026-03-01T10:00:00Z)") from None
    too_far = date_problem(when, now or datetime.now(timezone.utc))
    if too_far:
        raise ValueError(f"{said['at']} {at} {too_far}")
    properties = data.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise ValueError("'properties' must be a JSON object")
    properties = standard_properties(kind, properties)     # Segment's and Shopify's names for items, total…
    if kind == "order_placed" and "total" in properties:
        total = properties["total"]
        if isinstance(total, bool) or not isinstance(total, (int, float)) or total < 0:
            raise ValueError(f"order_placed 'total' must be a non-negative number, not {total!r}")
        if total > MAX_AMOUNT:      # contacts.lifetime_spend and run_log.revenue are Numeric(14, 2)
            raise ValueError(f"order_placed 'total' must be at most {MAX_AMOUNT:,.2f} (the largest amount the "
                             f"store keeps), not {total:g}")
    notes: list[str] = []
    if kind == IDENTIFY:
        properties, notes = checked_traits(properties, _LIMITS)
    channel = properties.get("channel")
    named = channel_name(channel)       # `SMS`, ` e-mail `: the event keeps the canonical name (EventIn)
    if kind in CONSENT_EVENTS and named not in (None, "all", *CHANNELS):
        raise ValueError(f"'channel' {channel!r} is not email, sms, whatsapp or all")
    if kind in FEEDBACK and named is not None and named not in CHANNELS:     # "SMS" is sms
        raise ValueError(f"'channel' {channel!r} is not email, sms or whatsapp (the channel of the message "
                         "this event is about)")
    event_id = data.get("id")
    if event_id is not None:
        if isinstance(event_id, bool) or not isinstance(event_id, (str, int)) or not str(event_id).strip():
            raise ValueError("'id' must be the event's unique id (text or a whole number), so a repeat is "
                             "recognised; leave it out if there is none")
        if len(str(event_id)) > 200:
            raise ValueError("'id' is longer than 200 characters")
        event_id = str(event_id).strip()
    event = EventIn(str(contact), kind, when, properties, event_id)
    event.notes = notes
    return event


def read_text(path: str | Path) -> str:
    """A file's text as written: UTF-8, a leading BOM dropped, line ends untouched (the readers split
    them). Raises OSError, or UnicodeDecodeError for text that is not UTF-8."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return handle.read()


def read_csv_text(path: str | Path) -> str:
    """A CSV file's text as written: UTF-8 (a BOM dropped), else Windows-1252, which Excel's plain
    "CSV" save writes on Windows in Western Europe and the Americas (a UTF-8 file never fails to
    decode as UTF-8, so the fallback never misreads one). Raises OSError, or UnicodeDecodeError when
    the text is neither."""
    try:
        return read_text(path)
    except UnicodeDecodeError as exc:
        with open(path, "rb") as handle:
            raw = handle.read()
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            raise exc from None


_DELIMITERS = (",", ";", "\t", "|")


def _csv_trouble(exc: csv.Error) -> str:
    """The csv module's complaint in a shop owner's words."""
    text = str(exc)
    if "new-line character" in text:
        return "a line break (\\r) inside a value that is not in double quotes"
    if "NUL" in text:
        return "a NUL character"
    return text


def _columns(line: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([line], delimiter=delimiter), []))
    except csv.Error:           # a NUL, a stray "\r": the reader reports it where it reads the line
        return 0


def _delimiter(text: str) -> str:
    """The separator of the header line: whichever of , ; and tab splits it into most columns
    (quoted names counted as one); a comma when none does."""
    header = text.split("\n", 1)[0].rstrip("\r")
    counts = {d: _columns(header, d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])       # ties keep the first: the comma
    return best if counts[best] > 1 else ","
