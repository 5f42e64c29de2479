"""What became of a message the dispatcher handed to its channel, recorded in one short transaction.

| channel's answer | the outbox row |
| --- | --- |
| `Sent`          | `sent`, `sent_at`, `provider_id` |
| `Transient`     | `queued` again at the next attempt (app/delivery/retry.py), `error`/`error_code` kept; `failed` once retrying must stop |
| `Permanent`     | `failed` at once, with the provider's code and text |
| `Uncertain`     | `unknown`: never resent by itself (the app offers "resend") |
| `NotConfigured` | `queued`, unchanged (claims.release): the message waits for the channel's set-up |

A failed message keeps its claim token until its failure has been reported to the engine as a
`message_failed` event (`report_failures`), which wakes a message-status step waiting on it (its
`failed` outcome). The token on a `failed` row thus means "not reported yet": a crash in between is
made good by the next dispatcher, and the event's idempotency key (`dispatch:failed:<id>`) makes a
repeat change nothing. The failure is counted on its step here, once (`failed_at` is set here, so the
event's own stamp finds it taken and does not count it again).

Twilio's error 21610 (the recipient replied STOP) also records the contact's SMS opt-out, with the
source "carrier STOP (Twilio 21610)" (app/engine/consent.py keeps the history; an opt-out only tightens).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import Update, select
from sqlalchemy.engine import Connection, Engine

from app.engine.consent import UNSUBSCRIBED, ConsentChange, record, states_of
from app.engine.counts import Counts, message_metric
from app.engine.isolation import clean
from app.store.sql import write_transaction
from app.store.tables import journeys, messages

from .claims import UNKNOWN_TEXT, Claimed, opted_out

if TYPE_CHECKING:
    from app.engine.engine import JourneyEngine

CARRIER_STOP_CODE = "21610"
CARRIER_STOP_SOURCE = "carrier STOP (Twilio 21610)"
SENT, RETRY, FAILED, UNKNOWN = "sent", "retry", "failed", "unknown"


@dataclass(frozen=True)
class Result:
    """What to record: `kind` is SENT, RETRY (with `retry_at`), FAILED or UNKNOWN."""

    kind: str
    provider_id: str | None = None
    error: str | None = None
    code: str | None = None
    retry_at: datetime | None = None


def _mine(message: Claimed, token: str) -> Update:
    return messages.update().where(messages.c.id == message.id, messages.c.claim == token,
                                   messages.c.status == "sending")


def record_result(conn: Connection, message: Claimed, token: str, result: Result, now: datetime) -> bool:
    """Records `result` for a message of claim `token`, in the caller's transaction; False (recording
    nothing on the claim) when the claim is no longer this dispatcher's (its lease expired and another
    took over): the caller must then send nothing more of that claim. The result still replaces the
    `unknown` the takeover guessed for this very message (see `_recovered`)."""
    error = clean(result.error, 1000) if result.error else None
    code = clean(result.code, 32) if result.code else None
    if result.kind == SENT:
        values = dict(status="sent", sent_at=now, provider_id=result.provider_id, error=None, error_code=None,
                      claim=None, lease_until=None)
    elif result.kind == RETRY:
        values = dict(status="queued", scheduled_at=result.retry_at, error=error, error_code=code, claim=None,
                      lease_until=None)
    elif result.kind == FAILED:
        # The token stays until the failure is reported to the engine (see the module's docstring).
        reported_by_event = message.contact_id is not None and message.journey_id is not None
        values = dict(status="failed", failed_at=now, error=error, error_code=code, lease_until=None,
                      claim=token if reported_by_event else None)
    else:
        values = dict(status="unknown", error=error, error_code=code, claim=None, lease_until=None)
    if not conn.execute(_mine(message, token).values(values)).rowcount:
        # Taken over while this message was still with the provider (a server slower than the lease):
        # the recovery could only guess `unknown`; the real answer is known now, so it is recorded
        # instead (unless someone already resent the message by hand).
        if conn.execute(_recovered(message).values(values)).rowcount:
            _after(conn, message, result, code, now)
        return False
    _after(conn, message, result, code, now)
    return True


def _recovered(message: Claimed) -> Update:
    return messages.update().where(messages.c.id == message.id, messages.c.status == "unknown",
                                   messages.c.error_code == "unknown", messages.c.error == UNKNOWN_TEXT,
                                   messages.c.claim.is_(None))


def _after(conn: Connection, message: Claimed, result: Result, code: str | None, now: datetime) -> None:
    """What a recorded failure brings along: its count on the step, and a carrier STOP's opt-out."""
    if result.kind == FAILED:
        if message.journey_id is not None:
            counts = Counts()
            counts.add(message.journey_id, message.node_id, message_metric("failed"), now)
            counts.write(conn)
        if code == CARRIER_STOP_CODE and message.contact_id is not None:
            carrier_stop(conn, message.contact_id, now)


def carrier_stop(conn: Connection, contact_id: str, at: datetime) -> bool:
    """Records the contact's SMS opt-out because the carrier says they replied STOP; False when it was
    already recorded. Never loosens: an opt-out stays an opt-out."""
    previous = states_of(conn, [contact_id]).get(contact_id, {}).get("sms", "unknown")
    if previous == UNSUBSCRIBED:
        return False
    record(conn, [ConsentChange(contact_id, "sms", UNSUBSCRIBED, previous, at, CARRIER_STOP_SOURCE)])
    return True


SEND, CANCELLED, HELD = "send", "cancelled", "held"


def still_to_send(conn: Connection, message: Claimed, token: str, now: datetime) -> str:
    """Whether the next message of a claim may still go (judged right before it is sent, in the previous
    result's transaction): CANCELLED when its journey was stopped or its contact opted out meanwhile,
    HELD (back to `queued`) when its journey was paused, else SEND."""
    status = None
    if message.journey_id is not None:
        status = conn.execute(select(journeys.c.status).where(journeys.c.id == message.journey_id)).scalar()
    reason = None
    if status == "stopped":
        from .claims import STOPPED_TEXT

        reason = STOPPED_TEXT
    elif message.contact_id is not None and opted_out(conn, message.channel, [message.contact_id]):
        reason = f"the contact opted out of {message.channel} before it was sent"
    if reason is not None:
        conn.execute(_mine(message, token).values(status="cancelled", error=reason, claim=None, lease_until=None,
                                                  scheduled_at=now))
        return CANCELLED
    if status == "paused":
        from .claims import _release

        _release(conn, token, [message.id])
        return HELD
    return SEND


_UNREPORTED = select(messages.c.id, messages.c.contact_id, messages.c.channel, messages.c.error_code,
                     messages.c.error, messages.c.failed_at).where(messages.c.status == "failed",
                                                                   messages.c.claim.is_not(None))


def report_failures(engine: "JourneyEngine", ids: Iterable[int] | None = None) -> int:
    """Tells the engine about failed messages not reported yet (`ids`, or all of them): one
    `message_failed` event each (idempotency key `dispatch:failed:<id>`; properties message_id, channel,
    code, error), then clears their tokens. Returns how many were reported."""
    from app.engine.ingest import EventIn

    db: Engine = engine.db
    query = _UNREPORTED if ids is None else _UNREPORTED.where(messages.c.id.in_(list(ids)))
    with db.connect() as conn:
        rows = conn.execute(query.order_by(messages.c.id)).all()
    if not rows:
        return 0
    events = [EventIn(r.contact_id, "message_failed", r.failed_at,
                      {"message_id": r.id, "channel": r.channel, "code": r.error_code, "error": r.error},
                      f"dispatch:failed:{r.id}") for r in rows if r.contact_id is not None]
    if events:
        engine.ingest(events)
    with write_transaction(db) as conn:
        conn.execute(messages.update().where(messages.c.id.in_([r.id for r in rows]), messages.c.status == "failed")
                     .values(claim=None))
    return len(rows)
