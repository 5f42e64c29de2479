"""Time-based triggers: no order for N days, anniversaries, manual sends.

Each journey keeps a cursor (the time of its last scan) so a scan reads only
what changed since: "no order for 60 days" looks at contacts whose last order
fell in (cursor − 60 d, now − 60 d] through the index on last_order_at.
Anniversaries are checked once per UTC day; a manual send runs once.
Spend thresholds need no scan: ingest sees the order that crosses them.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.journey.schema import parse_datetime
from app.store.tables import contacts, scan_cursors

from .context import LiveJourney
from .entry import enter
from .runs import Batch, active_runs_of

CHUNK = 500


def cursor(conn: Connection, journey_id: str) -> datetime | None:
    return conn.execute(select(scan_cursors.c.scanned_at).where(scan_cursors.c.journey_id == journey_id)).scalar()


def _set_cursor(conn: Connection, journey_id: str, at: datetime, had: datetime | None) -> None:
    if had is None:
        conn.execute(scan_cursors.insert().values(journey_id=journey_id, scanned_at=at))
    else:
        conn.execute(scan_cursors.update().where(scan_cursors.c.journey_id == journey_id).values(scanned_at=at))


def _enter_all(batch: Batch, journey: LiveJourney, ids: list[str], at: datetime,
               event: dict[str, Any] | None = None) -> int:
    entered = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        batch.preload(chunk)
        batch.write_pending()
        active = active_runs_of(batch.conn, chunk)
        for cid in chunk:
            run = enter(batch, journey, batch.contact(cid), at, active.setdefault(cid, []), event=event or {})
            entered += run is not None
    return entered


def _anniversary_of(value: Any) -> tuple[int, int] | None:
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    return day.month, day.day


def scan_journey(batch: Batch, journey: LiveJourney, now: datetime) -> int:
    """Enters whoever became due since the journey's last scan; returns how many entered."""
    trigger = journey.trigger
    if trigger is None or trigger.config["mode"] not in ("no_order", "anniversary", "manual"):
        return 0
    config, conn = trigger.config, batch.conn
    last = cursor(conn, journey.id)
    ids: list[str] = []
    mode = config["mode"]
    if mode == "no_order":
        days = timedelta(days=int(config["days"]))
        query = select(contacts.c.id).where(contacts.c.last_order_at <= now - days)
        if last is not None:
            query = query.where(contacts.c.last_order_at > last - days)
        ids = list(conn.execute(query.order_by(contacts.c.id)).scalars())
    elif mode == "anniversary":
        if last is not None and last.date() >= now.date():
            return 0
        start = (last.date() + timedelta(days=1)) if last else now.date()
        wanted = {((start + timedelta(days=i)).month, (start + timedelta(days=i)).day)
                  for i in range((now.date() - start).days + 1)}
        name = config["date_attribute"]
        for cid, attributes in conn.execute(select(contacts.c.id, contacts.c.attributes).order_by(contacts.c.id)):
            if _anniversary_of((attributes or {}).get(name)) in wanted:
                ids.append(cid)
    else:
        if last is not None:
            return 0            # a manual send goes once
        if config["send"] == "scheduled":
            if not config.get("send_at") or now < parse_datetime(config["send_at"]):
                return 0
        ids = list(conn.execute(select(contacts.c.id).order_by(contacts.c.id)).scalars())
    entered = _enter_all(batch, journey, ids, now)
    _set_cursor(conn, journey.id, now, last)
    return entered


def next_scan_due(conn: Connection, journey: LiveJourney, now: datetime) -> datetime | None:
    """When a scan could next find someone (for the simulator's jump to the next event)."""
    trigger = journey.trigger
    if trigger is None:
        return None
    config = trigger.config
    last = cursor(conn, journey.id)
    if config["mode"] == "no_order":
        days = timedelta(days=int(config["days"]))
        query = select(contacts.c.last_order_at).where(contacts.c.last_order_at.is_not(None))
        if last is not None:
            query = query.where(contacts.c.last_order_at > last - days)
        first = conn.execute(query.order_by(contacts.c.last_order_at).limit(1)).scalar()
        return max(first + days, now) if first is not None else None
    if config["mode"] == "anniversary":
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
        return now if last is None or last.date() < now.date() else midnight
    if config["mode"] == "manual" and last is None:
        if config["send"] == "scheduled" and config.get("send_at"):
            return max(parse_datetime(config["send_at"]), now)
        return now
    return None
