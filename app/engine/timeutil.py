"""Local-time arithmetic in each contact's time zone (zoneinfo, DST-correct).

Wall-clock targets ("08:00 local", "09:00 on Monday") are built as local
datetimes and converted to UTC, so they stay at 08:00 local across DST changes.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.journey.schema import WEEKDAY_NAMES

UTC = timezone.utc


@lru_cache(maxsize=1024)
def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


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
    """`days` calendar days later at the same local wall time (so a 1-day wait across DST is 23/25 h)."""
    local = now.astimezone(tz)
    return local_to_utc(local.date() + timedelta(days=days), local.time().replace(tzinfo=None), tz)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
