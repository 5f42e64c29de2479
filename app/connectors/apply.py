"""One page of a shop's items applied in ONE transaction together with the cursor that covers it.

A crash before the commit leaves neither the events nor the cursor (the page is fetched again: no
gap); after it, both (the page is not fetched again: no repeat). Every event is keyed besides
(order id, checkout id), so even a page applied twice (a cursor the shop could not honour) changes
nothing the second time.

Whose each item is: the contact whose id or email is the item's email (any case), else whose phone
is its phone (E.164) when the item has no email, else a new contact with id = the email in lower
case, else the phone — as the order import names new contacts (app/engine/order_import.py), so a
shop's orders imported from a file and polled from its API land on the same people. Guests are
matched by email, never merged by name or by a phone they share with someone else.

Customers' consent never loosens an opt-out (app/engine/consent.py): the shop's opt-out is recorded
unless a newer change of ours says otherwise (the engine's own rule for events); its opt-in only
fills a channel that is still unknown, like a contacts file, and is recorded as an import's, so any
later opt-out wins over it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from app.engine.consent import (CHANNELS, IMPORT_SOURCE, SUBSCRIBED, UNSUBSCRIBED, ConsentChange, outdated,
                                record)
from app.engine.identities import email_or_problem, phone_or_problem
from app.engine.ingest import EventIn, Ingested, ingest_batch
from app.engine.isolation import isolatable, one_line
from app.engine.order_import import HISTORY_AGE, _known
from app.engine.segment import IDENTIFY
from app.store.sql import insert_or_ignore, write_transaction
from app.store.tables import connections, contact_channels, contacts

from .errors import ConnectionRemoved
from .records import Record
from .store import write_cursor

if TYPE_CHECKING:
    from app.engine.engine import JourneyEngine

_SINCE = select(contact_channels.c.contact_id, contact_channels.c.channel, contact_channels.c.state,
                contact_channels.c.changed_at, contact_channels.c.source).where(
    contact_channels.c.contact_id.in_(bindparam("ids", expanding=True)))


@dataclass
class Applied:
    """What a page did: events stored and already present, contacts created, identify calls applied,
    consent changes, events set aside (dead letters) and notes (an item naming nobody…)."""
    stored: int = 0
    duplicates: int = 0
    new_contacts: int = 0
    identified: int = 0
    consent: int = 0
    dead: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, other: "Applied") -> None:
        for name in ("stored", "duplicates", "new_contacts", "identified", "consent", "dead"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.notes += other.notes


def apply_page(engine: "JourneyEngine", cid: str, resource: str, records: list[Record], cursor: dict[str, Any],
               history: bool, history_before: datetime | None = None) -> Applied:
    """Applies `records` and stores `cursor` for (`cid`, `resource`) in one transaction. `history`:
    nothing starts (first connection); otherwise events older than a day (HISTORY_AGE) are applied as
    history too, as the order import does. A page whose application raises (a poisoned journey…) is
    rolled back and applied again carefully, event by event (app/engine/isolation.py), still in one
    transaction with its cursor; the database's own failures propagate (nothing applied, cursor kept).
    `history_before` (the connection's creation): in history mode, what happened since is live all the
    same — a cart abandoned while a long first import runs still gets its reminder."""
    now = engine.clock.now()
    try:
        return _apply(engine, cid, resource, records, cursor, history, now, careful=False,
                      history_before=history_before)
    except ConnectionRemoved:
        raise
    except Exception as exc:  # noqa: BLE001 - replayed below; the database's own trouble re-raises
        if not isolatable(exc):
            raise
        engine.events.clear()
        note = f"a page of {resource} failed ({one_line(exc)}); applied again one event at a time"
        done = _apply(engine, cid, resource, records, cursor, history, now, careful=True,
                      history_before=history_before)
        done.notes.append(note)
        return done


def _apply(engine: "JourneyEngine", cid: str, resource: str, records: list[Record], cursor: dict[str, Any],
           history: bool, now: datetime, careful: bool, history_before: datetime | None = None) -> Applied:
    done = Applied()
    with write_transaction(engine.db) as conn:
        # Still connected? Locked until this page commits, so a removal waits for it (and its cascade
        # then takes this cursor too); a shop removed meanwhile gets nothing more.
        if conn.execute(select(connections.c.id).where(connections.c.id == cid).with_for_update()).first() is None:
            raise ConnectionRemoved(f"{cid} was removed while it was polled; nothing more was applied")
        who = _resolve(conn, records, now, done)
        _consent(conn, [(r, c) for r, c in zip(records, who) if c is not None and r.consent], now, done)
        identify: list[EventIn] = []
        past: list[EventIn] = []
        recent: list[EventIn] = []
        since = now - HISTORY_AGE
        for item, contact in zip(records, who):
            if contact is None:
                continue
            if item.event_type is None:
                if item.traits:
                    identify.append(EventIn(contact, IDENTIFY, item.at, dict(item.traits)))
                continue
            event = EventIn(contact, item.event_type, item.at, dict(item.properties), item.event_id)
            old = history and (history_before is None or item.at < history_before)
            (past if old or item.at < since else recent).append(event)
        for part, as_history in ((identify + past, True), (recent, False)):
            if not part:
                continue
            batch = engine._batch(conn)
            if careful:
                batch.be_careful(now)
            result: Ingested = ingest_batch(batch, part, now, engine.clock.virtual, as_history)
            engine.ingest_steps += result.steps
            done.stored += result.stored
            done.duplicates += result.duplicates
            done.identified += result.identified
            done.dead += len(result.dead)
        write_cursor(conn, cid, resource, cursor, now, received=done.stored)
    return done


def _resolve(conn: Connection, records: list[Record], now: datetime, done: Applied) -> list[str | None]:
    """Each record's contact id (None, with a note, when it names no usable email or phone); contacts
    not known yet are created with the shop's email, phone and names."""
    people: list[tuple[str | None, str | None]] = []
    for item in records:
        person = item.person
        email, problem = email_or_problem(person.email or "")
        if problem:
            done.notes.append(f"{person.ref}: the email {problem}")
        phone, problem = phone_or_problem(person.phone or "", person.country)
        if problem and not email:
            done.notes.append(f"{person.ref}: the phone {problem}")
        people.append((email.lower() if email else None, phone))
    by_email, by_phone = _known(conn, [e for e, _ in people if e], [p for _, p in people if p])
    new: dict[str, dict[str, Any]] = {}
    found: list[str | None] = []
    for item, (email, phone) in zip(records, people):
        # By phone only when the item has no email: two people sharing a phone (a household, a shop's
        # placeholder number) are never merged into one contact.
        contact = by_email.get(email) if email else by_phone.get(phone) if phone else None
        if contact is None:
            contact = email or phone
            if contact is None:
                done.notes.append(f"{item.person.ref} names no email or phone to know whose it is; skipped")
                found.append(None)
                continue
            new.setdefault(contact, {"id": contact, "email": email, "phone": phone,
                                     "first_name": _fit(item.person.first_name), "last_name": _fit(item.person.last_name),
                                     "attributes": {}, "created_at": now, "updated_at": now})
            if email:
                by_email[email] = contact
            if phone:
                by_phone[phone] = contact
        found.append(contact)
        if email and item.traits.get("email"):
            item.traits["email"] = email            # as checked; a bad one is left out below
        elif "email" in item.traits:
            del item.traits["email"]
        if phone and item.traits.get("phone"):
            item.traits["phone"] = phone
        elif "phone" in item.traits:
            del item.traits["phone"]
    if new:
        conn.execute(insert_or_ignore(contacts, conn.dialect.name, ["id"]), list(new.values()))
        done.new_contacts += len(new)
    return found


def _fit(value: str | None) -> str | None:
    return value[:100] if value else None


def _consent(conn: Connection, items: list[tuple[Record, str]], now: datetime, done: Applied) -> None:
    """The customers' marketing consent, by the rules in the module's docstring."""
    if not items:
        return
    ids = list(dict.fromkeys(c for _, c in items))
    current: dict[tuple[str, str], tuple[str, datetime, str]] = {}
    for start in range(0, len(ids), 500):
        for cid, channel, state, changed_at, source in conn.execute(_SINCE, {"ids": ids[start:start + 500]}):
            current[(cid, channel)] = (state, changed_at, source)
    changes: list[ConsentChange] = []
    for item, contact in items:
        for channel, (state, at) in item.consent.items():
            if channel not in CHANNELS:
                continue
            when = at or now
            stored = current.get((contact, channel))
            previous = stored[0] if stored else "unknown"
            if state == UNSUBSCRIBED:
                if previous == UNSUBSCRIBED or outdated(UNSUBSCRIBED, when, (stored[1], stored[2]) if stored else None):
                    continue
            elif state == SUBSCRIBED:
                if stored is not None:          # an opt-in from the shop fills only what is still unknown
                    continue
            else:
                continue
            source = f"{IMPORT_SOURCE}{item.person.ref}"
            changes.append(ConsentChange(contact, channel, state, previous, when, source))
            current[(contact, channel)] = (state, when, source)
    record(conn, changes)
    done.consent += len(changes)
