"""History mode: past events stored and applied to their contacts, starting nothing.

Importing years of orders (or any past events) must not set journeys off now: in history mode an
event is stored (keyed as always, so a re-run changes nothing) and applied to its contact — orders
to lifetime spend, order count and last order date, `subscribed`/`unsubscribed` to consent at the
event's own time — but it enters no journey, ends no run (no exit condition, no goal), is credited
as no conversion, wakes no waiting step and advances no run. Delivery feedback (opens, clicks…) is
about messages this app sent: in history mode it is stored and applied to none.

Order history is reconciled rather than added: a contact's spend becomes the larger of what they
had and the sum of all their stored orders (count and last order alike). A contacts file's
baseline ("Total Spent" of a Shopify customer export) already includes the orders of the order
export made the same day, so importing both never counts an order twice; orders the baseline did
not know raise it. Live orders (not history) add to the spend as they arrive (app/engine/ingest.py).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from app.journey.schema import MAX_AMOUNT
from app.store.catalog import record_attributes
from app.store.tables import contacts, events

from .consent import CONSENT_EVENTS
from .ingest import EventIn, Ingested, _record_subscription, _store_events, ensure_contacts
from .runs import Batch

_ORDERS_OF = (select(events.c.contact_id, events.c.properties, events.c.occurred_at)
              .where(events.c.type == "order_placed", events.c.contact_id.in_(bindparam("ids", expanding=True))))
_TOTALS_OF = select(contacts.c.id, contacts.c.lifetime_spend, contacts.c.order_count, contacts.c.last_order_at).where(
    contacts.c.id.in_(bindparam("ids", expanding=True)))
_SET_TOTALS = contacts.update().where(contacts.c.id == bindparam("cid")).values(
    lifetime_spend=bindparam("spend"), order_count=bindparam("count"), last_order_at=bindparam("last"),
    updated_at=bindparam("now"))
_CAP = Decimal(str(MAX_AMOUNT))


def ingest_history(batch: Batch, fresh: list[tuple[str, EventIn]], received_at: datetime,
                   result: Ingested) -> Ingested:
    """Stores `fresh` (keyed events none of which is stored yet, in time order) and applies them to
    their contacts as the module says; no journey reacts. Adds to `result` and returns it."""
    conn = batch.conn
    if not fresh:
        return result
    ensure_contacts(batch, [e.contact for _, e in fresh], min(e.at for _, e in fresh))
    stored = _store_events(conn, fresh, received_at)
    result.duplicates += len(fresh) - len(stored)
    result.stored += len(stored)
    names: dict[str, set[str]] = {}
    for event, _ in stored:
        names.setdefault(event.type, set()).update(event.properties)
    for scope, found in names.items():
        record_attributes(conn, scope, found)
    for event, event_id in stored:
        if event.type in CONSENT_EVENTS:     # consent counts by the event's own time (app/engine/consent.py)
            _record_subscription(batch, batch.contact(event.contact), event, event_id)
    buyers = list(dict.fromkeys(e.contact for e, _ in stored if e.type == "order_placed"))
    reconcile_orders(conn, buyers, received_at)
    return result


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return Decimal(0)
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return found if found.is_finite() and found > 0 else Decimal(0)


def reconcile_orders(conn: Connection, contact_ids: list[str], now: datetime) -> None:
    """Sets each contact's lifetime spend, order count and last order date to the larger of what it
    has and what their stored `order_placed` events add up to (spend capped at MAX_AMOUNT)."""
    for start in range(0, len(contact_ids), 500):
        part = contact_ids[start:start + 500]
        sums: dict[str, tuple[Decimal, int, datetime | None]] = {}
        for cid, properties, at in conn.execute(_ORDERS_OF, {"ids": part}):
            spend, count, last = sums.get(cid, (Decimal(0), 0, None))
            total = _amount((properties or {}).get("total"))
            sums[cid] = (spend + total, count + 1, at if last is None or at > last else last)
        rows = []
        for cid, spend, count, last in conn.execute(_TOTALS_OF, {"ids": part}):
            summed, counted, newest = sums.get(cid, (Decimal(0), 0, None))
            new_spend = min(max(Decimal(spend or 0), summed.quantize(Decimal("0.01"))), _CAP)
            new_count = max(int(count or 0), counted)
            new_last = last if newest is None or (last is not None and last >= newest) else newest
            if (new_spend, new_count, new_last) != (Decimal(spend or 0), int(count or 0), last):
                rows.append({"cid": cid, "spend": new_spend, "count": new_count, "last": new_last, "now": now})
        if rows:
            conn.execute(_SET_TOTALS, rows)
