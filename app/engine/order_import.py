"""Importing an order export: each order an `order_placed` event of its customer, each once.

Whose order it is: the contact whose id or email is the order's email (case-insensitive), else
whose phone is the order's phone (E.164, a national number read with the billing country); a
customer not known yet becomes a contact (id: the email in lower case, else the phone) with the
order's email, phone and billing names. An order with neither email nor phone is reported.

Each order is stored as an `order_placed` event with `order_id`, `total` (what was kept after
refunds), `currency` and `items`, keyed by its order id (app/store/event_keys.py), so importing the
same export twice — or an export overlapping an earlier one — changes nothing the second time.

`history` decides whether journeys react: True applies every order to its customer only (spend,
count, last order: app/engine/history.py), False lets active journeys react as for live orders,
None (the default) does the first for orders placed more than a day before now and the second
for newer ones — old orders never set journeys off now. Either way an order's customer totals are
reconciled, never added to (`EventIn.reconcile`): a customer export's "Total Spent" made the same day
already counts today's orders too, and a file's totals must not depend on which orders were live.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection

from app.store.app_settings import business_timezone
from app.store.sql import insert_or_ignore, write_transaction
from app.store.event_keys import event_key
from app.store.tables import contacts, events

from .file_import import KEPT_PROBLEMS, Cancelled, FileImport, Progress, contacts_text
from .identities import email_or_problem, phone_or_problem
from .import_rows import Problem
from .ingest import EventIn, Ingested
from .order_files import OrderIn, Skipped, order_records

if TYPE_CHECKING:
    from .engine import JourneyEngine

HISTORY_AGE = timedelta(days=1)
"""Orders (and events) older than this are past data: applied to customers, starting nothing."""
_CHUNK = 500

_BY_EMAIL = select(contacts.c.id, func.lower(contacts.c.email)).where(
    func.lower(contacts.c.email).in_(bindparam("emails", expanding=True)))
_BY_ID = select(contacts.c.id).where(contacts.c.id.in_(bindparam("ids", expanding=True)))
_KEYS = select(events.c.idempotency_key).where(events.c.idempotency_key.in_(bindparam("keys", expanding=True)))
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)     # an order's key does not depend on its time
_BY_PHONE = select(contacts.c.id, contacts.c.phone).where(contacts.c.phone.in_(bindparam("phones", expanding=True)))


@dataclass
class OrderImport:
    """What an order import did: events stored (`done`: new and already present), orders applied as
    history, orders skipped on purpose (cancelled, refunded…), contacts created, and notes by line
    (a bad phone left out…)."""
    done: Ingested = field(default_factory=Ingested)
    history: int = 0
    skipped: list[Skipped] = field(default_factory=list)     # the first KEPT_PROBLEMS of `skipped_count`
    skipped_count: int = 0
    new_contacts: int = 0
    notes: list[Problem] = field(default_factory=list)
    currencies: set[str] = field(default_factory=set)     # of the orders taken

    def summary(self) -> str:
        text = self.done.summary()
        if self.history:
            text += f" ({self.history} past order(s) applied as history: customers updated, no journey started)"
        if self.new_contacts:
            text += f"; {self.new_contacts} new contact(s)"
        if self.skipped_count:
            text += f"; {self.skipped_count} order(s) skipped (cancelled, refunded or never paid)"
        if len(self.currencies) > 1:      # a contact's spend is one number: say that it mixes units
            text += (f"; the orders are in {len(self.currencies)} currencies ({', '.join(sorted(self.currencies))}): "
                     "spend adds their totals as written, without converting them")
        return text


def import_orders_file(engine: "JourneyEngine", path: str | Path, *, history: bool | None = None,
                       progress: Progress | None = None, on_problem: Callable[[Problem], None] | None = None,
                       cancelled: Callable[[], bool] | None = None) -> tuple[OrderImport, FileImport]:
    """Reads a Shopify or WooCommerce order export and imports its orders in chunks of 500 (each
    chunk's contacts and events committed before the next is read). Returns the import's report and
    the file's problems (bad rows, by line). Raises OSError/UnicodeDecodeError when the file cannot
    be read (nothing imported), Cancelled between chunks when `cancelled()` turns true."""
    file, blocks, lines = contacts_text(path)
    zone = ZoneInfo(business_timezone(engine.db) or "UTC")
    found, report = FileImport(), OrderImport()
    orders = _orders(order_records(lines, zone), found, report, on_problem)
    taken = 0
    while chunk := list(itertools.islice(orders, _CHUNK)):
        events = _resolve(engine, chunk, report)
        since = engine.clock.now() - HISTORY_AGE
        old = [history is True or (history is None and e.at < since) for e in events]
        past = [e for e, is_old in zip(events, old) if is_old]
        recent = [e for e, is_old in zip(events, old) if not is_old]
        for part, as_history in ((past, True), (recent, False)):
            if part:
                done = engine.ingest(part, history=as_history)
                _add(report.done, done)
                report.history += done.stored if as_history else 0
        taken += len(chunk)
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled after {taken:,} orders")
        if progress is not None:
            progress(taken, blocks.done / file.size if file.size else 1.0)
    return report, found


def _add(total: Ingested, done: Ingested) -> None:
    total.stored += done.stored
    total.duplicates += done.duplicates
    total.steps += done.steps
    total.dead += done.dead


def _orders(items: Iterable[OrderIn | Skipped | Problem], found: FileImport, report: OrderImport,
            on_problem: Callable[[Problem], None] | None) -> Iterator[OrderIn]:
    for item in items:
        if isinstance(item, Problem):
            found.add_problem(item, on_problem)
        elif isinstance(item, Skipped):
            report.skipped_count += 1
            if len(report.skipped) < KEPT_PROBLEMS:
                report.skipped.append(item)
        else:
            found.rows += 1
            yield item


def _resolve(engine: "JourneyEngine", chunk: list[OrderIn], report: OrderImport) -> list[EventIn]:
    """The chunk's orders as events of their contacts; contacts not known yet are created (one
    transaction). An order naming no usable email or phone is a note, not an event."""
    people: list[tuple[OrderIn, str | None, str | None]] = []
    for order in chunk:
        email, problem = email_or_problem(order.email or "")
        if problem:
            report.notes.append(Problem(order.line, f"order {order.order_id}: the email {problem}"))
        phone, problem = phone_or_problem(order.phone or "", order.country)
        if problem and not email:
            report.notes.append(Problem(order.line, f"order {order.order_id}: the phone {problem}"))
        people.append((order, email.lower() if email else None, phone))
    events: list[EventIn] = []
    with write_transaction(engine.db) as conn:
        by_email, by_phone = _known(conn, [e for _, e, _ in people if e], [p for _, _, p in people if p])
        stored = _stored_orders(conn, [order.order_id for order in chunk])
        new: dict[str, dict[str, object]] = {}
        for order, email, phone in people:
            contact = (by_email.get(email) if email else None) or (by_phone.get(phone) if phone else None)
            address = email or phone
            if contact is None and order.order_id in stored and address is not None:
                # Already imported, to a contact whose address has changed since: it stays theirs, and no
                # second contact appears for the old address (re-importing a file changes nothing).
                contact = address
            elif contact is None:
                contact = email or phone
                if contact is None:
                    report.notes.append(Problem(order.line, f"order {order.order_id} names no email or phone "
                                                            "to know whose it is; skipped"))
                    continue
                now = engine.clock.now()
                new.setdefault(contact, {"id": contact, "email": email, "phone": phone, "first_name": order.first_name,
                                         "last_name": order.last_name, "attributes": {}, "created_at": now,
                                         "updated_at": now})
                if email:
                    by_email[email] = contact
                if phone:
                    by_phone[phone] = contact
            properties = {"order_id": order.order_id, "total": order.total, "items": order.items,
                          "source": order.source}
            if order.currency:
                properties["currency"] = order.currency
                report.currencies.add(order.currency.upper())
            if order.refunded:
                properties["refunded"] = order.refunded
            event = EventIn(contact, "order_placed", order.placed_at, properties)
            event.reconcile = True          # agrees with a customer export's totals, live or history
            events.append(event)
        if new:
            conn.execute(insert_or_ignore(contacts, conn.dialect.name, ["id"]),
                         [{**row, "first_name": _fit(row["first_name"]), "last_name": _fit(row["last_name"])}
                          for row in new.values()])
            report.new_contacts += len(new)
    return events


def _stored_orders(conn: Connection, order_ids: list[str]) -> set[str]:
    """Which of `order_ids` are stored already as an `order_placed` (by their key, app/store/event_keys.py)."""
    keys = {event_key("", "order_placed", _EPOCH, {"order_id": oid}): oid for oid in dict.fromkeys(order_ids)}
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        found.update(keys[k] for k in conn.execute(_KEYS, {"keys": list(keys)[start:start + 500]}).scalars())
    return found


def _fit(value: object) -> object:
    return value[:100] if isinstance(value, str) else value


def _known(conn: Connection, emails: list[str], phones: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Existing contacts by email (their id or their email, in lower case) and by phone."""
    by_email: dict[str, str] = {}
    by_phone: dict[str, str] = {}
    emails, phones = list(dict.fromkeys(emails)), list(dict.fromkeys(phones))
    for start in range(0, len(emails), 500):
        part = emails[start:start + 500]
        for cid in conn.execute(_BY_ID, {"ids": part}).scalars():
            by_email[cid.lower()] = cid
        for cid, email in sorted(conn.execute(_BY_EMAIL, {"emails": part}).all()):
            by_email.setdefault(email, cid)
    for start in range(0, len(phones), 500):
        for cid, phone in sorted(conn.execute(_BY_PHONE, {"phones": phones[start:start + 500]}).all()):
            by_phone.setdefault(phone, cid)
    return by_email, by_phone
