"""Time-based triggers: no order for N days, anniversaries, manual sends.

Each journey keeps a cursor (the time of its last scan) so a scan reads only
what changed since: "no order for 60 days" looks at contacts whose last order
fell in (cursor − 60 d, now − 60 d] through the index on last_order_at (widened
by a margin, then judged exactly: 60 calendar days in each contact's zone).
Every local day is the contact's, else the journey's, else the business's
(`timeutil.contact_zone`).
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
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from app.journey.schema import parse_datetime
from app.store.app_settings import business_timezone
from app.store.tables import contacts, scan_cursors

from .context import LiveJourney
from .entry import enter
from .isolation import guarded, reaction_failed
from .runs import Batch, active_runs_of
from .timeutil import add_duration, contact_zone, days

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
            mine = active.setdefault(cid, [])
            contact = batch.contact(cid)
            # Each contact's entry is its own unit: one whose rules or steps raise fails alone.
            run = guarded(batch, mine, partial(enter, batch, journey, contact, at, mine, event=event or {}),
                          reaction_failed(batch, journey, contact, [], at, "entering from its time-based trigger"), cid)
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


def _anniversaries(conn: Connection, name: str, last: datetime | None, now: datetime,
                   zones: "_Zones") -> list[str]:
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
            local[tz_name] = _month_days(_local_days(zones(tz_name), last, now))
        if _anniversary_of(stored) in local[tz_name]:
            ids.append(cid)
    return ids


def _next_local_midnight(conn: Connection, after: datetime, zones: "_Zones") -> datetime:
    """The first moment after `after` at which a day begins in some contact's time zone."""
    names = set(conn.execute(select(contacts.c.timezone).distinct()).scalars()) or {None}
    found = []
    for tz in {zones(n) for n in names}:
        local = after.astimezone(tz)
        found.append(datetime.combine(local.date() + timedelta(days=1), time(), tz).astimezone(timezone.utc))
    return min(found)


class _Zones:
    """A contact's zone from its stored name, in this journey, with the business's zone read once."""

    def __init__(self, journey: LiveJourney, business: str) -> None:
        self.journey_zone, self.business = journey.timezone, business

    def __call__(self, contact_tz: str | None) -> ZoneInfo:
        return contact_zone(contact_tz, self.journey_zone, self.business)


# A calendar day in a zone is 24 h ± the DST shift (at most 2 h anywhere; Samoa once skipped a whole
# day): SQL narrows with this margin, then each contact is judged exactly in its own zone.
_DST_MARGIN = timedelta(hours=26)


def _no_order_due(last_order: datetime, days_: int, tz: ZoneInfo) -> datetime:
    """When "no order for `days_` days" becomes true: calendar days after the last order, in `tz`."""
    return add_duration(last_order, days(days_), tz)


def _no_order_ids(conn: Connection, n: int, last: datetime | None, now: datetime, zones: _Zones) -> list[str]:
    """Contacts whose N-day mark fell in (last scan, now]."""
    span = timedelta(days=n)
    query = (select(contacts.c.id, contacts.c.timezone, contacts.c.last_order_at)
             .where(contacts.c.last_order_at <= now - span + _DST_MARGIN))
    if last is not None:
        query = query.where(contacts.c.last_order_at > last - span - _DST_MARGIN)
    ids = []
    for cid, tz_name, ordered in conn.execute(query.order_by(contacts.c.id)):
        due = _no_order_due(ordered, n, zones(tz_name))
        if due <= now and (last is None or due > last):
            ids.append(cid)
    return ids


def _next_no_order(conn: Connection, n: int, last: datetime | None, zones: _Zones) -> datetime | None:
    """The earliest N-day mark after the last scan (read in last-order order, stopping past the margin)."""
    span = timedelta(days=n)
    query = select(contacts.c.last_order_at, contacts.c.timezone).where(contacts.c.last_order_at.is_not(None))
    if last is not None:
        query = query.where(contacts.c.last_order_at > last - span - _DST_MARGIN)
    best: datetime | None = None
    for ordered, tz_name in conn.execute(query.order_by(contacts.c.last_order_at)):
        if best is not None and ordered + span - _DST_MARGIN > best:
            break
        due = _no_order_due(ordered, n, zones(tz_name))
        if (last is None or due > last) and (best is None or due < best):
            best = due
    return best


def scan_journey(batch: Batch, journey: LiveJourney, now: datetime) -> int:
    """Enters whoever became due since the journey's last scan; returns how many entered."""
    trigger = journey.trigger
    if trigger is None or trigger.config["mode"] not in ("no_order", "anniversary", "manual"):
        return 0
    config, conn = trigger.config, batch.conn
    last = cursor(conn, journey.id)
    ids: list[str] = []
    mode = config["mode"]
    zones = _Zones(journey, batch.business_zone)
    if mode == "no_order":
        ids = _no_order_ids(conn, int(config["days"]), last, now, zones)
    elif mode == "anniversary":
        if last is not None and now < _next_local_midnight(conn, last, zones):
            return 0
        ids = _anniversaries(conn, config["date_attribute"], last, now, zones)
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
        first = _next_no_order(conn, int(config["days"]), last, _Zones(journey, business_timezone(conn) or ""))
        return max(first, now) if first is not None else None
    if config["mode"] == "anniversary":
        zones = _Zones(journey, business_timezone(conn) or "")
        return now if last is None else max(_next_local_midnight(conn, last, zones), now)
    if config["mode"] == "manual" and last is None:
        if config["send"] == "scheduled" and config.get("send_at"):
            return max(parse_datetime(config["send_at"]), now)
        return now
    return None
