"""The outbox's leases: claiming due messages, giving them back, and recovering after a crash.

Every function here is one short transaction; nothing is sent while one is open (a slow SMTP server
must never hold SQLite's write lock).

- `claim` takes up to `limit` due `queued` messages of one channel (scheduled_at <= now): each becomes
  `sending` with one fresh `claim` token for the batch, `lease_until` = now + lease and `attempts` + 1.
  Messages of a paused journey are not taken (held); those of a stopped journey, those whose
  contact opted out of the channel since they were queued, and those to an address some other contact
  opted out of the channel with (`suppressed`), become `cancelled` instead.
- The claimed messages are sent in id order, each result recorded (app/delivery/outcomes.py) before the
  next is sent, so of a claim whose lease expired (its process died) only the lowest-id message still
  `sending` can have been handed to the provider: `recover_expired` marks it `unknown` (never resent
  by itself) and puts the later ones, never handed over, back to `queued` (their attempt not counted).
- `release` puts messages that were claimed but not sent (the channel is not set up, the dispatcher is
  stopping) back to `queued` unchanged.

On SQLite the claim commits with `synchronous=FULL` (an fsync of the WAL): a message is never handed
over under a claim that a power cut could undo, which would let it be claimed and sent again.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection, Engine

from app.store.sql import write_transaction
from app.store.sqlite_hooks import WRITE_INTENT
from app.store.tables import contact_channels, contacts, journeys, messages

from .base import Outgoing

# The columns a channel needs, and what recording a result reads.
_CLAIMED = (messages.c.id, messages.c.idempotency_key, messages.c.run_id, messages.c.journey_id,
            messages.c.node_id, messages.c.contact_id, messages.c.channel, messages.c.recipient,
            messages.c.sender, messages.c.subject, messages.c.body_text, messages.c.body_html,
            messages.c.reply_to, messages.c.whatsapp_template, messages.c.created_at, messages.c.attempts)

STOPPED_TEXT = "the journey was stopped before it was sent"


@dataclass(frozen=True)
class Claimed:
    """One claimed message (a row of the outbox), with what the channel sends."""

    id: int
    idempotency_key: str
    run_id: int | None
    journey_id: str | None
    node_id: str | None
    contact_id: str | None
    channel: str
    recipient: str
    sender: str | None
    subject: str | None
    body_text: str | None
    body_html: str | None
    reply_to: str | None
    whatsapp_template: dict[str, Any] | None
    created_at: datetime
    attempts: int          # counting the attempt this claim is for

    def outgoing(self) -> Outgoing:
        return Outgoing(message_id=self.id, idempotency_key=self.idempotency_key, channel=self.channel,
                        recipient=self.recipient, sender=self.sender, subject=self.subject,
                        body_text=self.body_text, body_html=self.body_html, reply_to=self.reply_to,
                        whatsapp_template=self.whatsapp_template)


@dataclass
class Claim:
    """A batch claimed under one token: `messages` in id order; `cancelled` counts those cancelled
    instead (journey stopped, contact opted out)."""

    token: str
    lease_until: datetime
    messages: list[Claimed]
    cancelled: int = 0


def _due(channel: str, now: datetime, limit: int, dialect: str) -> Any:
    query = (select(*_CLAIMED, journeys.c.status.label("journey_status"))
             .select_from(messages.outerjoin(journeys, journeys.c.id == messages.c.journey_id))
             .where(messages.c.status == "queued", messages.c.channel == channel, messages.c.scheduled_at <= now,
                    # A paused journey's messages are held where they are (journeys without a row: sent).
                    (journeys.c.status.is_(None)) | (journeys.c.status != "paused"))
             .order_by(messages.c.scheduled_at, messages.c.id).limit(limit))
    if dialect == "postgresql":
        # Two dispatchers (or two workers) never take the same row; each skips what the other holds.
        query = query.with_for_update(skip_locked=True, of=messages)
    return query


_OPTED_OUT = select(contact_channels.c.contact_id).where(
    contact_channels.c.contact_id.in_(bindparam("ids", expanding=True)),
    contact_channels.c.channel == bindparam("channel"), contact_channels.c.state == "unsubscribed")


def opted_out(conn: Connection, channel: str, contact_ids: list[str]) -> set[str]:
    """Of `contact_ids`, those who have opted out of `channel` now."""
    found: set[str] = set()
    for start in range(0, len(contact_ids), 500):
        found.update(conn.execute(_OPTED_OUT, {"ids": contact_ids[start:start + 500], "channel": channel}).scalars())
    return found


def suppressed(conn: Connection, channel: str, addresses: list[str]) -> set[str]:
    """Of `addresses` (recipients as the outbox holds them: an email, a phone in E.164), those held by
    any contact who opted out of `channel`, an email compared in any case. One person stored twice (an
    identify under a new user id, two shops' exports) is suppressed by address, as a suppression list
    is in Klaviyo or Customer.io: an opt-out given under one id is never sent past under the other.
    Returned as given (emails as written in `addresses`)."""
    if not addresses:
        return set()
    email = channel == "email"
    column = func.lower(contacts.c.email) if email else contacts.c.phone
    query = (select(column).select_from(contacts.join(contact_channels, contact_channels.c.contact_id == contacts.c.id))
             .where(contact_channels.c.channel == channel, contact_channels.c.state == "unsubscribed",
                    column.in_(bindparam("addresses", expanding=True))))
    wanted = {(a.lower() if email else a): a for a in addresses}
    found: set[str] = set()
    keys = sorted(wanted)
    for start in range(0, len(keys), 500):
        found.update(conn.execute(query, {"addresses": keys[start:start + 500]}).scalars())
    return {original for key, original in wanted.items() if key in found}


def _cancel(conn: Connection, ids: list[int], text: str, now: datetime) -> None:
    if ids:
        conn.execute(messages.update().where(messages.c.id.in_(ids), messages.c.status.in_(("queued", "sending")))
                     .values(status="cancelled", error=text, claim=None, lease_until=None, scheduled_at=now))


def _pragma(conn: Connection, sql: str) -> None:
    """Runs a PRAGMA on the driver's connection, outside any transaction (SQLite ignores some inside one)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def claim(db: Engine, channel: str, now: datetime, limit: int, lease: timedelta) -> Claim:
    """Claims up to `limit` due queued messages of `channel` (see the module's docstring)."""
    token = str(uuid.uuid4())
    lease_until = now + lease
    sqlite = db.dialect.name == "sqlite"
    with db.connect() as conn:
        if sqlite:
            _pragma(conn, "PRAGMA synchronous=FULL")
        try:
            conn.execution_options(**{WRITE_INTENT: True})
            with conn.begin():
                rows = conn.execute(_due(channel, now, limit, db.dialect.name)).all()
                stopped = {r.id for r in rows if r.journey_status == "stopped"}
                refused = opted_out(conn, channel, sorted({r.contact_id for r in rows if r.contact_id}))
                gone = {r.id for r in rows if r.contact_id in refused and r.id not in stopped}
                held = suppressed(conn, channel, sorted({r.recipient for r in rows if r.recipient}))
                elsewhere = {r.id for r in rows if r.recipient in held and r.id not in stopped | gone}
                _cancel(conn, sorted(stopped), STOPPED_TEXT, now)
                _cancel(conn, sorted(gone), f"the contact opted out of {channel} before it was sent", now)
                _cancel(conn, sorted(elsewhere), f"the address opted out of {channel} (under another contact)", now)
                gone |= elsewhere
                taken = sorted((r for r in rows if r.id not in stopped and r.id not in gone), key=lambda r: r.id)
                if taken:
                    conn.execute(messages.update().where(messages.c.id.in_([r.id for r in taken]),
                                                         messages.c.status == "queued")
                                 .values(status="sending", claim=token, lease_until=lease_until,
                                         attempts=messages.c.attempts + 1))
        finally:
            if sqlite:
                _pragma(conn, "PRAGMA synchronous=NORMAL")
    claimed = [Claimed(**{k: v for k, v in r._mapping.items() if k not in ("journey_status", "attempts")},
                       attempts=int(r.attempts or 0) + 1) for r in taken]
    return Claim(token, lease_until, claimed, cancelled=len(stopped) + len(gone))


def release(db: Engine, token: str, ids: list[int]) -> int:
    """Puts claimed messages that were not handed over back to `queued`, as they were (the attempt not
    counted); returns how many were still this claim's."""
    if not ids:
        return 0
    with write_transaction(db) as conn:
        return _release(conn, token, ids)


def _release(conn: Connection, token: str, ids: list[int]) -> int:
    result = conn.execute(messages.update().where(messages.c.id.in_(ids), messages.c.claim == token,
                                                  messages.c.status == "sending")
                          .values(status="queued", claim=None, lease_until=None,
                                  attempts=func.max(messages.c.attempts - 1, 0)
                                  if conn.dialect.name == "sqlite" else func.greatest(messages.c.attempts - 1, 0)))
    return int(result.rowcount or 0)


@dataclass
class Recovered:
    unknown: list[int]       # possibly handed over when their process died: never resent by themselves
    requeued: int            # never handed over: queued again


UNKNOWN_TEXT = ("the dispatcher stopped (crash or kill) while handing this message to the provider: it may or "
                "may not have gone out, so it is not resent automatically")


def recover_expired(db: Engine, now: datetime) -> Recovered:
    """Ends every claim whose lease expired before `now` (see the module's docstring).

    Each claim's rows are locked before its first one is chosen: on PostgreSQL the claim's slow owner
    may record a result between a plain read and the update, and the message it hands over next must
    then be the one marked `unknown`, never queued again (SQLite's write lock is held from the start)."""
    with write_transaction(db) as conn:
        tokens = list(conn.execute(select(messages.c.claim).where(
            messages.c.status == "sending", messages.c.lease_until < now).distinct()).scalars())
        unknown: list[int] = []
        requeued = 0
        for token in tokens:
            held = list(conn.execute(select(messages.c.id).where(
                messages.c.status == "sending", messages.c.claim == token if token is not None
                else messages.c.claim.is_(None), messages.c.lease_until < now)
                .order_by(messages.c.id).with_for_update()).scalars())
            if not held:            # its owner recorded or renewed it meanwhile
                continue
            # A row without a token cannot be told apart: each is its own claim.
            first = held if token is None else held[:1]
            conn.execute(messages.update().where(messages.c.id.in_(first), messages.c.status == "sending")
                         .values(status="unknown", error=UNKNOWN_TEXT, error_code="unknown", claim=None,
                                 lease_until=None))
            unknown += [int(i) for i in first]
            if token is not None and len(held) > 1:
                requeued += _release(conn, token, held[1:])
    return Recovered(unknown, requeued)


def extend(conn: Connection, token: str, lease_until: datetime) -> int:
    """Moves the lease of a claim's messages still `sending` to `lease_until`; returns how many (0: the
    claim is no longer its holder's — recovered by another dispatcher after its lease ran out)."""
    return int(conn.execute(messages.update().where(messages.c.status == "sending", messages.c.claim == token)
                            .values(lease_until=lease_until)).rowcount or 0)


def due_counts(db: Engine, now: datetime | None = None) -> dict[str, int]:
    """Queued messages per channel (due by `now` when given): what the dispatcher has to do."""
    query = select(messages.c.channel, func.count()).where(messages.c.status == "queued")
    if now is not None:
        query = query.where(messages.c.scheduled_at <= now)
    with db.connect() as conn:
        return {channel: int(n) for channel, n in conn.execute(query.group_by(messages.c.channel))}
