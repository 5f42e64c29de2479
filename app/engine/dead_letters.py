"""Dead letters: events that could not be applied, kept whole with the reason.

An event whose application raises (app/engine/isolation.py) changes nothing and
is stored here instead of among the applied events, with the exception's one
line; the full traceback is in the log file. Its idempotency key stays taken:
importing the same file again skips it as already present instead of failing
on it again. `journeys events dead-letters` lists them; with `--retry` (once the
cause is fixed) it applies them again, and keeps as dead letters those that still fail.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection, Engine

from app.store.sql import insert_or_ignore
from app.store.tables import dead_events

from .isolation import clean

_DEAD_KEYS = select(dead_events.c.idempotency_key).where(
    dead_events.c.idempotency_key.in_(bindparam("keys", expanding=True)))


@dataclass(frozen=True)
class DeadEvent:
    contact: str
    type: str
    occurred_at: datetime | None
    received_at: datetime
    reason: str
    payload: dict[str, Any]


def _stored_key(key: str) -> str:
    """The key as stored: itself, or its digest when the database could not hold it (a NUL…)."""
    if clean(key, 10_000) == key:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def dead_keys(conn: Connection, keys: list[str]) -> set[str]:
    """The keys among `keys` of events already dead-lettered."""
    stored = {_stored_key(k): k for k in keys}
    wanted = list(stored)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        found.update(stored[k] for k in conn.execute(_DEAD_KEYS, {"keys": wanted[start:start + 500]}).scalars())
    return found


def payload(contact: Any, kind: Any, at: Any, properties: Any, event_id: Any) -> str:
    """The event as JSON text, escaped to ASCII (no NUL or lone surrogate reaches the database),
    values JSON cannot hold written as text: whatever made the event unusable can be kept."""
    document = {"id": event_id, "contact": contact, "type": kind,
                "at": at.isoformat() if isinstance(at, datetime) else at, "properties": properties}
    return json.dumps(document, ensure_ascii=True, default=repr, sort_keys=True)


def store(conn: Connection, key: str, contact: Any, kind: Any, at: Any, properties: Any, event_id: Any,
          received_at: datetime, reason: str) -> None:
    """Keeps one event that could not be applied (once per key; a repeat changes nothing)."""
    occurred = at if isinstance(at, datetime) and at.tzinfo is not None else None
    row = {"idempotency_key": _stored_key(key), "contact_id": clean(str(contact), 200),
           "type": clean(str(kind), 100), "occurred_at": occurred, "received_at": received_at,
           "payload": payload(contact, kind, at, properties, event_id), "reason": clean(reason)}
    conn.execute(insert_or_ignore(dead_events, conn.dialect.name, ["idempotency_key"]), [row])


def dead_letters(db: Engine, limit: int | None = 100) -> tuple[int, list[DeadEvent]]:
    """How many events are dead-lettered, and the newest `limit` of them (newest first; None: all)."""
    with db.connect() as conn:
        total = conn.execute(select(func.count()).select_from(dead_events)).scalar_one()
        rows = conn.execute(select(dead_events).order_by(dead_events.c.received_at.desc(), dead_events.c.id.desc())
                            .limit(limit)).all()
    found = []
    for row in rows:
        try:
            document = json.loads(row.payload)
        except ValueError:
            document = {}
        found.append(DeadEvent(row.contact_id, row.type, row.occurred_at, row.received_at, row.reason, document))
    return int(total), found


def forget(conn: Connection, keys: list[str]) -> None:
    """Removes the dead letters of these event keys (to apply them again, in the same transaction)."""
    stored = [_stored_key(k) for k in keys]
    for start in range(0, len(stored), 500):
        conn.execute(dead_events.delete().where(dead_events.c.idempotency_key.in_(stored[start:start + 500])))


def as_events(found: list[DeadEvent]) -> list[Any]:
    """The dead letters as events to ingest again (app.engine.ingest.EventIn), those whose stored form
    can be read back (an event whose time could not be read stays a dead letter)."""
    from .ingest import EventIn

    events = []
    for dead in found:
        document = dead.payload
        contact, kind, properties = document.get("contact"), document.get("type"), document.get("properties")
        try:
            at = datetime.fromisoformat(document["at"])
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(contact, str) and isinstance(kind, str) and isinstance(properties, dict):
            events.append(EventIn(contact, kind, at, properties, document.get("id")))
    return events
