"""One bad run never stops the others.

The engine's batches run without savepoints (they would cost every step). When
a batch raises, its transaction rolls back whole and the same work is done
again *carefully*: every step, every event and every journey's reaction in its
own SAVEPOINT, with the batch's buffered writes flushed before and after it, so
that a failure rolls back exactly that unit — its SQL writes (PostgreSQL aborts
a transaction at its first failed statement; the savepoint is what lets the
rest go on) and its half-buffered rows — and the rest commits.

What is isolated is what the data or a journey can cause: any Python exception,
and the database refusing a value. What the database itself says about its own
state (locked, full, gone: `OperationalError`, `InterfaceError`) is not a bad
run: the whole batch rolls back and is retried later, losing and blaming nothing.

A failed unit leaves one line where the user looks (the run log, the dead
letters) and its full traceback in the log file (app/logfile.py).
"""
from __future__ import annotations

import copy
import logging
import re
from datetime import datetime
from typing import Callable, Iterable, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

from .context import ContactView, LiveJourney
from .runs import ACTIVE, Batch, RunState

log = logging.getLogger(__name__)

T = TypeVar("T")

# The database's own trouble, not the data's: never blamed on one run or event.
NOT_ISOLATED: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
ONE_LINE_MAX = 300


def isolatable(exc: BaseException) -> bool:
    """True for what one run, event or journey can cause (then the rest of the batch goes on)."""
    return isinstance(exc, Exception) and not isinstance(exc, NOT_ISOLATED)


def clean(text: str, limit: int = ONE_LINE_MAX) -> str:
    """`text` on one line without control characters (PostgreSQL refuses NUL), at most `limit` characters."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def one_line(exc: BaseException) -> str:
    """"OverflowError: date value out of range": the exception's type and the first line of its text."""
    first = str(exc).strip().split("\n", 1)[0]
    name = type(exc).__name__
    return clean(f"{name}: {first}" if first else name)


def isolated(batch: Batch, work: Callable[[], T], failed: Callable[[Exception], None],
             contacts: Iterable[str] | None = None) -> T | None:
    """Runs a *part* of a unit (a step, one journey's reaction, one contact's entry): directly, unless
    its unit is being done again part by part (`batch.fine`, see `unit`); then in its own savepoint,
    its buffered writes flushed inside it. When it raises something `isolatable`, the savepoint and
    the buffers are dropped, the contacts it may have changed in memory (`contacts`; None: any) are
    read again, `failed(exc)` records the failure, and None is returned. Anything else (a locked or
    full database) propagates."""
    if not batch.fine:
        return work()
    return _in_savepoint(batch, work, failed, contacts)


def unit(batch: Batch, work: Callable[[], T], failed: Callable[[Exception], None],
         contacts: Iterable[str] | None = None, restore: Callable[[], None] | None = None) -> T | None:
    """Runs a *unit* of a batch (a due run, an event, a journey's scan): directly in a normal batch (a
    failure fails the batch, which is then replayed carefully); in a careful one, in its own savepoint.
    A unit that raises is rolled back (`restore` puts back what it changed in memory besides the
    contacts) and done again with each part in its own savepoint (`isolated`), so the failing part
    fails alone; if the unit still raises, `failed(exc)` records it and None is returned. Healthy units
    of a careful batch so cost one savepoint each, not one per step."""
    if not batch.careful:
        return work()

    def again(exc: Exception) -> None:
        raise _Again(exc)

    try:
        return _in_savepoint(batch, work, again, contacts)
    except _Again:
        pass
    if restore is not None:
        restore()
    batch.fine = True
    try:
        return _in_savepoint(batch, work, failed, contacts)
    finally:
        batch.fine = False


class _Again(Exception):
    """A unit failed as a whole: it is done again part by part."""


def _in_savepoint(batch: Batch, work: Callable[[], T], failed: Callable[[Exception], None],
                  contacts: Iterable[str] | None) -> T | None:
    now = batch.now
    assert now is not None, "be_careful(now) sets it"
    batch.flush(now)                # what came before is not this unit's: keep it
    savepoint = batch.conn.begin_nested()
    try:
        result = work()
        batch.flush(now)
    except Exception as exc:
        try:
            savepoint.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone: the outer transaction reports it
            raise exc from None
        if not isolatable(exc):
            raise
        batch.failures += 1
        batch.recover(contacts)
        failed(exc)
        return None
    savepoint.commit()
    return result


def report(exc: BaseException, what: str) -> str:
    """Writes `what` failed, with the traceback, to the log file; returns the one-line text for the user."""
    text = one_line(exc)
    log.error("%s failed: %s", what, text, exc_info=exc)
    return text


def fail_run(batch: Batch, run: RunState, node_id: str | None, at: datetime, exc: BaseException,
             title: str = "") -> None:
    """Ends `run` exited with reason `error` at `node_id`: a `failed` log row with the one-line text (the
    step then counts the error) and the traceback in the log file. Its queued messages are cancelled."""
    text = report(exc, f"journey {run.journey_id} v{run.version}, step {node_id} {title!r}, run {run.id}, "
                       f"contact {run.contact_id!r}")
    run.node_id = node_id if node_id is not None else run.node_id
    detail = {"error": text, **({"step": clean(title, 80)} if title else {})}
    batch.log(run, run.node_id, "failed", at, reason="error", detail=detail)
    batch.finish(run, "exited", at, "error")


def journey_failed(batch: Batch, journey_id: str, node_id: str | None, at: datetime, exc: BaseException,
                   what: str) -> None:
    """A journey's reaction that has no run to end (its trigger judging an event, a time-based scan):
    counted as an error on `node_id` (its trigger) every time, its traceback written to the log file
    the first time (a journey broken this way fails for every event: one traceback says it all)."""
    key = (journey_id, node_id, one_line(exc))
    if key not in _REPORTED:
        if len(_REPORTED) >= 10_000:        # bounded: a long-running engine forgets the oldest
            del _REPORTED[next(iter(_REPORTED))]
        _REPORTED[key] = None
        report(exc, f"journey {journey_id}: {what} (logged once; later failures alike are only counted)")
    batch.counts.add(journey_id, node_id, "failed", at, "error")


_REPORTED: dict[tuple[str, str | None, str], None] = {}     # journey-level failures already in the log file


def guarded(batch: Batch, mine: list[RunState], work: Callable[[], T], failed: Callable[[Exception], None],
            contact: str | None = None) -> T | None:
    """One journey's reaction (to an event, to a scan) as a part of its unit (see `isolated`): when the
    unit is done part by part, a failure rolls the reaction back, puts the contact's runs `mine` back as
    they were, calls `failed` and returns None."""
    if not batch.fine:
        return work()
    saved = [(r, r.status, r.exit_reason, r.node_id, r.due_at, copy.deepcopy(r.state)) for r in mine]
    listed = list(mine)

    def restore_then(exc: Exception) -> None:
        for r, status, exit_reason, node_id, due_at, state in saved:
            r.status, r.exit_reason, r.node_id, r.due_at, r.state = status, exit_reason, node_id, due_at, state
        mine[:] = listed
        failed(exc)

    return isolated(batch, work, restore_then, None if contact is None else [contact])


def reaction_failed(batch: Batch, journey: LiveJourney, contact: ContactView, mine: list[RunState], at: datetime,
                    what: str) -> Callable[[Exception], None]:
    """What a journey's failed reaction leaves: its runs for this contact end with an error; with none,
    the error is counted on its trigger."""
    def failed(exc: Exception) -> None:
        own = [r for r in mine if r.journey_id == journey.id and r.status == ACTIVE]
        for run in own:
            fail_run(batch, run, run.node_id, at, exc)
        if not own:
            journey_failed(batch, journey.id, journey.trigger.id if journey.trigger else None, at, exc,
                           f"{what} for contact {contact.id!r}")
    return failed
