"""Local-time arithmetic in each contact's time zone (zoneinfo, DST-correct).

One notion of local time: `contact_zone` picks the zone every local-time rule
uses (quiet hours, time-of-day waits, scheduled sends, anniversaries, day
windows): the contact's own zone, else the journey's override, else the
business's zone, and UTC only when none of them is set.

One notion of "days": `add_duration` / `subtract_duration` turn a duration
(amount + unit) into an end instant. Days and weeks are calendar days in the
zone at the same local wall time (a 1-day wait across a DST change lasts 23 or
25 hours); hours and minutes are exact elapsed time.

Wall-clock targets ("08:00 local", "09:00 on Monday") are built as local
datetimes and converted to UTC, so they stay at 08:00 local across DST changes.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from typing import Any, Mapping

from app.journey.schema import WEEKDAY_NAMES

UTC = timezone.utc


@lru_cache(maxsize=1024)
def _named(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):   # unknown, or not a zone name at all ("../x")
        return None


def valid_zone(name: str | None) -> bool:
    """Whether `name` is an IANA time zone name zoneinfo knows ("Europe/Berlin"); "" and None are not."""
    return bool(name) and isinstance(name, str) and _named(name) is not None


@lru_cache(maxsize=4096)
def contact_zone(contact_tz: str | None, journey_zone: str | None = None,
                 business_zone: str | None = None) -> ZoneInfo:
    """The one resolver of a contact's local time zone, used by every local-time rule.

    `contact_tz`: the contact's own IANA zone (contacts.timezone), used when valid;
    `journey_zone`: the journey's override (`settings.timezone`, "" = none);
    `business_zone`: the business's zone (app_settings, `journeys settings timezone`).
    The first valid one wins; UTC only when none is set (or none is valid).
    Never raises. Example: contact_zone(None, "", "America/New_York") -> ZoneInfo("America/New_York").
    """
    for name in (contact_tz, journey_zone, business_zone):
        found = _named(name) if name else None
        if found is not None:
            return found
    return ZoneInfo("UTC")


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """ZoneInfo for `name`, else for `fallback`, else UTC (low level: rules use `contact_zone`)."""
    return contact_zone(name, fallback)


@lru_cache(maxsize=256)
def parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day`.

    In an autumn fold the first occurrence wins; a time inside a spring gap
    (02:30 that never happens) moves forward by the gap's length (03:30), as
    zoneinfo's fold=0 does, so a message is never sent before its time.
    """
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(UTC)


def in_window(local: time, start: time, end: time) -> bool:
    """Whether `local` lies in [start, end), where the window may wrap midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_until(now: datetime, tz: ZoneInfo, start: str, end: str) -> datetime | None:
    """When quiet hours end if `now` is inside them (in zone `tz`), else None."""
    s, e = parse_hhmm(start), parse_hhmm(end)
    local = now.astimezone(tz)
    if not in_window(local.time().replace(tzinfo=None), s, e):
        return None
    day = local.date()
    if s > e and local.time() >= s:   # evening part of a window that wraps midnight
        day += timedelta(days=1)
    return local_to_utc(day, e, tz)


def next_time_of_day(now: datetime, at: str, tz: ZoneInfo, weekdays: list[str]) -> datetime:
    """The next instant strictly after `now` that is `at` local time on an allowed weekday."""
    target = parse_hhmm(at)
    allowed = {WEEKDAY_NAMES.index(d) for d in weekdays} if weekdays else set(range(7))
    local_day = now.astimezone(tz).date()
    for offset in range(0, 15):
        day = local_day + timedelta(days=offset)
        if day.weekday() not in allowed:
            continue
        candidate = local_to_utc(day, target, tz)
        if candidate > now:
            return candidate
    raise AssertionError("no allowed weekday within two weeks")


def add_local_days(now: datetime, days: int, tz: ZoneInfo) -> datetime:
    """`days` calendar days later (earlier if negative) at the same local wall time in `tz`, as a UTC
    instant: a 1-day wait across a DST change lasts 23 or 25 hours. A wall time that does not exist on
    the target day (spring gap) moves forward by the gap; an ambiguous one (autumn fold) takes the first."""
    local = now.astimezone(tz)
    return local_to_utc(local.date() + timedelta(days=days), local.time().replace(tzinfo=None), tz)


# Units of a duration value ({"amount": int, "unit": ...}, see app.journey.schema.duration).
_CALENDAR_DAYS = {"days": 1, "weeks": 7}
_EXACT_MINUTES = {"minutes": 1, "hours": 60}


def add_duration(start: datetime, duration: Mapping[str, Any], tz: ZoneInfo, sign: int = 1) -> datetime:
    """The instant `duration` after `start` (before it when `sign` is -1) for a contact in zone `tz`.

    `duration` is {"amount": int, "unit": "minutes" | "hours" | "days" | "weeks"}. Days and weeks are
    calendar days in `tz` at the same local wall time (`add_local_days`); minutes and hours are exact
    elapsed time. This is the one meaning of "N days" for waits, message-status windows, conversion
    and goal windows, "again after N days" and "no order for N days". Raises KeyError for another unit.
    """
    amount, unit = int(duration["amount"]) * sign, duration["unit"]
    if unit in _CALENDAR_DAYS:
        return add_local_days(start, amount * _CALENDAR_DAYS[unit], tz)
    return start + timedelta(minutes=amount * _EXACT_MINUTES[unit])


def subtract_duration(end: datetime, duration: Mapping[str, Any], tz: ZoneInfo) -> datetime:
    """The instant `duration` before `end` (the start of a look-back window such as "ordered within
    5 days of the message"), with the same calendar-day rule as `add_duration`."""
    return add_duration(end, duration, tz, -1)


def days(amount: int) -> dict[str, Any]:
    """A duration value of `amount` calendar days, for rules that store a bare number of days."""
    return {"amount": int(amount), "unit": "days"}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
