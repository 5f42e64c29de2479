"""Reading a big contacts file's rows in a second process, so that a second core parses them
(phones, money, dates: two thirds of an import's time) while this one reads the file and writes
the database.

The worker only turns records into ContactRows or Problems (`RowReader` with `dedupe` off); what
carries over from row to row stays here: the repeated-contact check and the counts (`RowReader.admit`),
so the result is the same as reading the rows in this process, row for row and problem for problem.
Batches go out and come back in order, a few at a time (memory stays bounded whatever the file's size).
"""
from __future__ import annotations

import multiprocessing
from collections import deque
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Union

from .contact_mapping import Mapping
from .contact_rows import RowReader
from .import_rows import ContactRow, Problem

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult, Pool

BATCH = 2_000        # records sent to the worker at a time
IN_FLIGHT = 4        # batches sent and not yet taken back: enough to keep both processes busy

Record = Union[Problem, tuple[int, list[str]]]
# A row's fields in ContactRow's order (a tuple travels between processes in a fraction of the time
# an object does), or a problem; the row's key; how its zone was derived.
Parsed = tuple[Union[tuple[Any, ...], Problem], str, str]

_reader: RowReader | None = None     # the worker's own, made once by `_start`


def _start(header: list[str], mapping: Mapping, region: str | None) -> None:
    global _reader
    _reader = RowReader(header, mapping, region)
    _reader.dedupe = False


def _parse(batch: list[Record]) -> list[Parsed]:
    """(In the worker.) Each record of a batch read; a Problem found while reading the CSV passes through."""
    reader = _reader
    assert reader is not None
    out: list[Parsed] = []
    for record in batch:
        if isinstance(record, Problem):
            out.append((record, "", ""))
            continue
        item = reader(*record)
        out.append((tuple(item.__dict__.values()), reader.key, reader.how) if isinstance(item, ContactRow)
                   else (item, "", ""))
    return out


def _context() -> Any:
    """'fork' where there is one (nothing to import again: the worker starts at once), else 'spawn'."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def start_pool(reader: RowReader) -> "Pool | None":
    """One worker process reading rows as `reader` would; None when it cannot be started (the caller
    then reads the rows itself)."""
    try:
        return _context().Pool(1, _start, (reader.header, reader.mapping, reader.region))
    except (OSError, ValueError, ImportError, RuntimeError):
        return None


def parallel_rows(pool: "Pool", reader: RowReader, records: Iterable[Record]) -> Iterator[ContactRow | Problem]:
    """`reader(line, values)` for each record (a Problem as it is), in order, parsed by `pool`'s
    worker and admitted by `reader` (repeats, counts). The pool is ended when the rows run out,
    and when the caller stops early (an error, a cancel: `close()` on this generator)."""
    pending: deque["AsyncResult[list[Parsed]]"] = deque()
    try:
        batch: list[Record] = []
        for record in records:
            batch.append(record)
            if len(batch) >= BATCH:
                pending.append(pool.apply_async(_parse, (batch,)))
                batch = []
                if len(pending) >= IN_FLIGHT:
                    yield from _admitted(reader, pending.popleft().get())
        if batch:
            pending.append(pool.apply_async(_parse, (batch,)))
        while pending:
            yield from _admitted(reader, pending.popleft().get())
    finally:
        pool.terminate()
        pool.join()


def _admitted(reader: RowReader, parsed: list[Parsed]) -> Iterator[ContactRow | Problem]:
    for item, key, how in parsed:
        yield item if isinstance(item, Problem) else reader.admit(ContactRow(*item), key, how)
