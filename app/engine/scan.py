"""Time-based triggers: no order for N days, anniversaries, manual sends.

Each journey keeps a cursor (the time of its last scan) so a scan reads only
what changed since: "no order for 60 days" looks at contacts whose last order
fell in (cursor − 60 d, now − 60 d] through the index on last_order_at.
An anniversary enters a contact when the day begins in the contact's own time
zone (a birthday email reaches Los Angeles on the birthday, not the evening
before): each scan takes the local days that began since the cursor, and SQL
narrows the contacts to those whose date falls near them.
A manual send runs once. Spend thresholds need no scan: ingest sees the order
that crosses them.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from app.journey.schema import parse_datetime
from app.store.tables import contacts, scan_cursors

from .context import LiveJourney
from .entry import enter
from .runs import Batch, active_runs_of
from .timeutil import zone

CHUNK = 500
_WIDEST_OFFSET = timedelta(hours=14)


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


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range(min((last - first).days + 1, 366))]


def _month_days(days: list[date]) -> set[tuple[int, int]]:
    """The (month, day) anniversaries falling on `days`; 29 February falls on the 28th in other years."""
    found = {(d.month, d.day) for d in days}
    found.update((2, 29) for d in days if (d.month, d.day) == (2, 28) and not calendar.isleap(d.year))
    return found


def _local_days(tz: ZoneInfo, last: datetime | None, now: datetime) -> list[date]:
    """The days that began in `tz` after `last` up to `now` (on a first scan: the local today)."""
    today = now.astimezone(tz).date()
    if last is None:
        return [today]
    return _days(last.astimezone(tz).date() + timedelta(days=1), today)


def _anniversaries(conn: Connection, name: str, last: datetime | None, now: datetime) -> list[str]:
    # Every UTC offset lies within 14 hours of UTC: a local day that began in the window is one of these.
    near = _month_days(_days(((last or now) - _WIDEST_OFFSET).date(), (now + _WIDEST_OFFSET).date()))
    value = contacts.c.attributes[name].as_string()
    query = (select(contacts.c.id, contacts.c.timezone, value)
             .where(func.substr(value, 6, 5).in_(sorted(f"{m:02d}-{d:02d}" for m, d in near)))
             .order_by(contacts.c.id))
    local: dict[str | None, set[tuple[int, int]]] = {}
    ids = []
    for cid, tz_name, stored in conn.execute(query):
        if tz_name not in local:
            local[tz_name] = _month_days(_local_days(zone(tz_name), last, now))
        if _anniversary_of(stored) in local[tz_name]:
            ids.append(cid)
    return ids


def _next_local_midnight(conn: Connection, after: datetime) -> datetime:
    """The first moment after `after` at which a day begins in some contact's time zone."""
    names = set(conn.execute(select(contacts.c.timezone).distinct()).scalars()) or {None}
    found = []
    for tz in {zone(n) for n in names}:
        local = after.astimezone(tz)
        found.append(datetime.combine(local.date() + timedelta(days=1), time(), tz).astimezone(timezone.utc))
    return min(found)


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
        if last is not None and now < _next_local_midnight(conn, last):
            return 0
        ids = _anniversaries(conn, config["date_attribute"], last, now)
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
        return now if last is None else max(_next_local_midnight(conn, last), now)
    if config["mode"] == "manual" and last is None:
        if config["send"] == "scheduled" and config.get("send_at"):
            return max(parse_datetime(config["send_at"]), now)
        return now
    return None
