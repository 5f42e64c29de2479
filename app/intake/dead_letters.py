"""The dead-letter list: everything accepted but not applied, with its reason, and "retry".

Two kinds are listed together, newest first:

- **receiver** — an inbox row (app/intake/inbox.py) that could not become events: a webhook naming
  no email or phone, a status about a message this database never sent, … (`intake_requests` with
  status `dead`);
- **engine** — an event the engine could not apply (app/engine/dead_letters.py), from the receiver
  or from a file import.

`retry` (the app's "Retry", `journeys receiver dead-letters --retry`) sets the receiver's rows back to
`new` and applies them, and applies the engine's dead events again (`JourneyEngine.retry_dead_letters`):
what still fails is set aside again with its new reason; nothing is lost or applied twice.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.engine import dead_letters as engine_dead
from app.engine.engine import JourneyEngine
from app.store.sql import write_transaction
from app.store.tables import intake_requests

from .apply import apply_pending

RECEIVER, ENGINE = "receiver", "engine"


@dataclass(frozen=True)
class DeadLetter:
    """One entry of the list: where it was set aside, what it is, when it came, why it was set aside."""
    kind: str
    what: str
    received_at: datetime
    reason: str
    detail: str          # the stored request or event, as JSON (shortened)


def _short(text: str, limit: int = 2_000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _what(source: str, topic: str, payload: str) -> str:
    try:
        data: Any = json.loads(payload)
    except ValueError:
        data = {}
    body = data.get("body", data) if isinstance(data, dict) else {}
    hint = ""
    if isinstance(body, dict):
        for name in ("name", "number", "token", "id", "MessageSid", "key", "messageId"):
            if body.get(name) not in (None, ""):
                hint = f" {body[name]}"
                break
    return f"{source} {topic}{hint}"


def dead_letters(db: Engine, limit: int | None = 200) -> tuple[int, list[DeadLetter]]:
    """How many entries there are, and the newest `limit` (None: all)."""
    with db.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(intake_requests)
                                 .where(intake_requests.c.status == "dead")).scalar_one())
        query = (select(intake_requests).where(intake_requests.c.status == "dead")
                 .order_by(intake_requests.c.received_at.desc(), intake_requests.c.id.desc()))
        rows = conn.execute(query.limit(limit) if limit is not None else query).all()
    found = [DeadLetter(RECEIVER, _what(r.source, r.topic, r.payload), r.received_at, r.reason or "",
                        _short(r.payload)) for r in rows]
    total, events = engine_dead.dead_letters(db, limit)
    found += [DeadLetter(ENGINE, f"event {e.type} of {e.contact!r}", e.received_at, e.reason,
                         _short(json.dumps(e.payload, ensure_ascii=False))) for e in events]
    found.sort(key=lambda d: d.received_at, reverse=True)
    return count + total, found[:limit] if limit is not None else found


@dataclass
class Retried:
    """What a retry did: entries tried, applied now, and set aside again."""
    tried: int = 0
    applied: int = 0
    still_dead: int = 0


def retry(engine: JourneyEngine) -> Retried:
    """Applies every dead letter again (see the module's docstring)."""
    db: Engine = engine.db
    with write_transaction(db) as conn:
        revived = conn.execute(intake_requests.update().where(intake_requests.c.status == "dead")
                               .values(status="new", reason=None)).rowcount
    done = apply_pending(engine)
    events, tried = engine.retry_dead_letters()
    return Retried(tried=revived + tried, applied=done.rows + (tried - len(events.dead)),
                   still_dead=done.dead + len(events.dead))
