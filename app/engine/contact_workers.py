"""Reading a big contacts file's rows in a second process, so that a second core parses them
(phones, money, dates: two thirds of an import's time) while this one reads the file and writes
the database.

The worker only turns records into ContactRows or Problems (`RowReader` with `dedupe` off); what
carries over from row to row stays here: the repeated-contact check and the counts (`RowReader.admit`),
so the result is the same as reading the rows in this process, row for row and problem for problem.
Batches go out and come back in order, a few at a time (memory stays bounded whatever the file's size).
"""
from __future__ import annotations

import marshal
import multiprocessing
import sys
from collections import deque
from datetime import datetime
from decimal import Decimal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterable, Iterator, Union

from .contact_mapping import Mapping
from .contact_rows import RowReader
from .import_rows import ContactRow, Problem

BATCH = 2_000        # records sent to the worker at a time
IN_FLIGHT = 10       # batches sent and not yet taken back: enough for the worker to go on while this process commits

Record = Union[Problem, tuple[int, list[str]]]

_reader: RowReader | None = None     # the worker's own, made once by `_start`


def _start(header: list[str], mapping: Mapping, region: str | None) -> None:
    global _reader
    _reader = RowReader(header, mapping, region)
    _reader.dedupe = False


def _parse(sent: bytes) -> bytes:
    """(In the worker.) Each record of a batch read; a Problem found while reading the CSV passes through.
    Batches travel as `marshal` data both ways, which reads and writes plain tuples of text and numbers
    several times faster than pickle: a row is its ContactRow fields in order, with the spend as text
    and the last order as ISO 8601 (`_row_of` makes them objects again); a Problem is (line, reason)."""
    reader = _reader
    assert reader is not None
    out: list[Any] = []
    for record in marshal.loads(sent):
        if len(record) == 3:                    # a Problem of the CSV: (None, line, reason)
            out.append(record)
            continue
        item = reader(*record)
        if isinstance(item, ContactRow):
            fields = tuple(item.__dict__.values())
            spend, last = item.lifetime_spend, item.last_order_at
            if spend is not None or last is not None:
                fields = (*fields[:_SPEND], None if spend is None else str(spend), item.order_count,
                          None if last is None else last.isoformat(), *fields[_LAST + 1:])
            out.append((fields, reader.key, reader.how))
        else:
            out.append((None, item.line, item.reason))
    return marshal.dumps(out)


_NAMES = list(ContactRow.__dataclass_fields__)
_SPEND, _LAST = _NAMES.index("lifetime_spend"), _NAMES.index("last_order_at")
assert _NAMES.index("order_count") == _SPEND + 1 == _LAST - 1


def _row_of(fields: tuple[Any, ...]) -> ContactRow:
    row = ContactRow(*fields)
    if row.lifetime_spend is not None:
        row.lifetime_spend = Decimal(row.lifetime_spend)
    if row.last_order_at is not None:
        row.last_order_at = datetime.fromisoformat(row.last_order_at)     # type: ignore[arg-type]
    return row


def _sent(batch: list[Record]) -> bytes:
    return marshal.dumps([(None, r.line, r.reason) if isinstance(r, Problem) else r for r in batch])


def _context() -> Any:
    """'fork' on Linux (nothing to import again: the worker starts at once), else 'spawn': macOS's
    system libraries (Cocoa, under Qt) are not safe in a forked child, and Windows has no fork."""
    fork = sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if fork else "spawn")


def start_pool(reader: RowReader) -> ProcessPoolExecutor | None:
    """One worker process reading rows as `reader` would; None when it cannot be started (the caller
    then reads the rows itself)."""
    try:
        return ProcessPoolExecutor(1, _context(), _start, (reader.header, reader.mapping, reader.region))
    except (OSError, ValueError, ImportError, RuntimeError):
        return None


def parallel_rows(pool: ProcessPoolExecutor, reader: RowReader,
                  records: Iterable[Record]) -> Iterator[ContactRow | Problem]:
    """`reader(line, values)` for each record (a Problem as it is), in order, parsed by `pool`'s
    worker and admitted by `reader` (repeats, counts). The worker is ended when the rows run out,
    and when the caller stops early (an error, a cancel: `close()` on this generator). A worker that
    dies (killed, out of memory) leaves the rest to `reader`, here: the same rows, only slower."""
    pending: deque[tuple[list[Record], "Future[bytes] | None"]] = deque()
    broken = False

    def send(batch: list[Record]) -> None:
        nonlocal broken
        try:
            pending.append((batch, pool.submit(_parse, _sent(batch))))
        except BrokenProcessPool:       # the worker died since the last batch came back
            broken = True
            pending.append((batch, None))

    def taken(batch: list[Record], future: "Future[bytes] | None") -> Iterator[ContactRow | Problem]:
        nonlocal broken
        if not broken and future is not None:
            try:
                yield from _admitted(reader, future.result())
                return
            except BrokenProcessPool:
                broken = True
        for record in batch:
            yield record if isinstance(record, Problem) else reader(*record)

    try:
        batch: list[Record] = []
        for record in records:
            if broken:          # the batches sent first are read here first, then the rest
                while pending:
                    yield from taken(*pending.popleft())
                yield record if isinstance(record, Problem) else reader(*record)
                continue
            batch.append(record)
            if len(batch) >= BATCH:
                send(batch)
                batch = []
                if len(pending) >= IN_FLIGHT:
                    yield from taken(*pending.popleft())
        if batch and not broken:
            send(batch)
            batch = []
        while pending:
            yield from taken(*pending.popleft())
        for record in batch:
            yield record if isinstance(record, Problem) else reader(*record)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _admitted(reader: RowReader, parsed: bytes) -> Iterator[ContactRow | Problem]:
    for item, key, how in marshal.loads(parsed):
        yield Problem(key, how) if item is None else reader.admit(_row_of(item), key, how)
