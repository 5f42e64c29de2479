"""Applying a chunk of events again after it failed: one event at a time (app/engine/isolation.py).

Each event is stored and applied in its own savepoint; one that raises is done
again with each of its steps and each journey's reaction in theirs, so a run or
a journey that fails fails alone; an event that still raises changed nothing and
is dead-lettered with the reason (app/engine/dead_letters.py). The rest apply
exactly as in `ingest_batch`, in time order.
"""
from __future__ import annotations

from datetime import datetime

from app.store.catalog import record_attributes

from . import dead_letters
from .ingest import EventIn, Ingested, _apply, _catch_up, _store_events, ensure_contacts
from .isolation import report, unit
from .runs import Batch, RunState, active_runs_of


def ingest_carefully(batch: Batch, fresh: list[tuple[str, EventIn]], received_at: datetime, virtual: bool,
                      result: Ingested) -> Ingested:
    """`ingest_batch` after the batch failed once: each event stored and applied in its own savepoint
    (and each step, and each journey's reaction, in theirs). An event that still raises changed
    nothing and is dead-lettered with the reason (app/engine/dead_letters.py); the rest are applied."""
    conn = batch.conn
    live = batch.journeys.active(conn)
    credited = batch.journeys.attributable(conn)
    active: dict[str, list[RunState]] = {}

    for key, event in fresh:
        at = event.at if virtual else received_at

        def apply(key: str = key, event: EventIn = event, at: datetime = at) -> tuple[int, bool] | None:
            ensure_contacts(batch, [event.contact], event.at)
            stored = _store_events(conn, [(key, event)], received_at)
            if not stored:
                return None                     # stored meanwhile by a concurrent writer (PostgreSQL)
            record_attributes(conn, event.type, event.properties)
            contact = batch.contact(event.contact)
            if contact.id not in active:
                active.update(active_runs_of(conn, [contact.id]))
            mine = active.setdefault(contact.id, [])
            _catch_up(batch, mine, at, virtual)
            return stored[0][1], _apply(batch, event, stored[0][1], contact, mine, live, credited, at)

        def dead(exc: Exception, key: str = key, event: EventIn = event) -> None:
            active.pop(event.contact, None)     # its runs are read again, as the rollback left them
            reason = report(exc, f"event {event.type!r} of contact {event.contact!r} at {event.at}")
            dead_letters.store(conn, key, event.contact, event.type, event.at, event.properties, event.id,
                               received_at, reason)
            result.dead.append((event, reason))

        def forget(contact: str = event.contact) -> None:
            active.pop(contact, None)           # its runs are read again, as the rollback left them

        done = unit(batch, apply, dead, [event.contact], forget)
        if done is None:
            if not result.dead or result.dead[-1][0] is not event:
                result.duplicates += 1
            continue
        event_id, matched = done
        result.stored += 1
        result.unmatched += not matched
    batch.flush(received_at)
    result.steps = batch.steps
    return result
