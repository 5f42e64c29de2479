"""Messages with an unknown fate, and sending one again when the user asks.

A message is `unknown` when it was handed to the provider and the answer never came (the connection
dropped after the data went over, or the process died before recording the result): it may have
arrived. It is never resent by itself; the user looks at the list (`journeys outbox unknown`, or the
app's "Messages with unknown fate") and may resend it, knowing it may arrive twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.store.sql import write_transaction
from app.store.tables import journeys, messages

UNKNOWN = "unknown"


@dataclass(frozen=True)
class UnknownMessage:
    """One message whose fate is not known: where it came from, to whom, and what was last said."""

    id: int
    journey: str              # the journey's name ("" for a message of no journey)
    node_id: str
    contact_id: str
    channel: str
    recipient: str
    subject: str              # the email's subject, or the start of the text
    created_at: datetime
    attempts: int
    error: str                # why its fate is unknown (the dispatcher's words)


def count_unknown(db: Engine) -> int:
    """How many messages have an unknown fate now (one indexed count)."""
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(messages).where(
            messages.c.status == UNKNOWN)).scalar_one())


def unknown_messages(db: Engine, limit: int = 200) -> list[UnknownMessage]:
    """Up to `limit` messages with an unknown fate, newest first."""
    query = (select(messages.c.id, journeys.c.name, messages.c.node_id, messages.c.contact_id, messages.c.channel,
                    messages.c.recipient, messages.c.subject, messages.c.body_text, messages.c.created_at,
                    messages.c.attempts, messages.c.error, messages.c.whatsapp_template)
             .select_from(messages.outerjoin(journeys, journeys.c.id == messages.c.journey_id))
             .where(messages.c.status == UNKNOWN)
             .order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(max(0, limit)))
    with db.connect() as conn:
        rows = conn.execute(query).all()
    found = []
    for row in rows:
        text = row.subject or " ".join((row.body_text or "").split()) or _template_words(row.whatsapp_template)
        found.append(UnknownMessage(
            id=int(row.id), journey=row.name or "", node_id=row.node_id or "", contact_id=row.contact_id or "",
            channel=row.channel, recipient=row.recipient, subject=text if len(text) <= 80 else text[:79] + "…",
            created_at=row.created_at, attempts=int(row.attempts or 0), error=row.error or ""))
    return found


def _template_words(template: object) -> str:
    """A WhatsApp template message in words: "WhatsApp template order_update (Ann, C-1)"."""
    if not isinstance(template, dict) or not template.get("name"):
        return ""
    values = ", ".join(" ".join(str(v).split()) for v in template.get("variables") or [])
    return f"WhatsApp template {template['name']}" + (f" ({values})" if values else "")


def resend(db: Engine, ids: Sequence[int], at: datetime) -> int:
    """Puts the messages `ids` whose fate is unknown back in the queue for one more attempt at `at`
    (the dispatcher takes them as any queued message); returns how many. Ids of messages in any other
    state (sent, failed, queued, cancelled, unknown ids) are left alone: only `unknown` is resent, and
    only when asked. The user accepts that the message may arrive twice."""
    wanted = sorted({int(i) for i in ids if 0 < int(i) < 2 ** 63})      # no other id can be a message's
    if not wanted:
        return 0
    done = 0
    with write_transaction(db) as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            result = conn.execute(
                messages.update()
                .where(messages.c.id.in_(chunk), messages.c.status == UNKNOWN)
                .values(status="queued", scheduled_at=at, claim=None, lease_until=None,
                        error="resent by hand after an unknown fate (it may arrive twice)"))
            done += int(result.rowcount or 0)
    return done
