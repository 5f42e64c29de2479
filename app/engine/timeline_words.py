"""Words for a contact's timeline and the "Who went this way?" list: run-log rows (through the one
sentence-maker, app/engine/story.py), consent sources and short local times.
"""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from app.journey.model import Node

from .story import step_words


def source_words(source: str) -> str:
    """Where a consent change came from, as people say it: 'import:contacts.csv line 7' → 'Import of
    contacts.csv, line 7'; 'event:subscribed #3 (checkout)' → 'Event subscribed #3 (checkout)';
    'app' → 'Changed in the app'; anything else as it is."""
    kind, _, rest = source.partition(":")
    if kind == "import" and rest:
        name, _, line = rest.rpartition(" line ")
        return f"Import of {name}, line {line}" if name else f"Import of {rest}"
    if kind == "event" and rest:
        return f"Event {rest}"
    if source == "app":
        return "Changed in the app"
    return source


def short_time(at: datetime, zone: tzinfo, now: datetime | None = None) -> str:
    """`at` in `zone` as people read it in a list: "Tue 1 Dec 08:00"; the year is added when it is not
    this year's ("Mon 30 Nov 2025 21:00"). CLDR patterns through Babel, English names."""
    now = now or datetime.now(timezone.utc)
    local = at.astimezone(zone)
    pattern = "EEE d MMM HH:mm" if local.year == now.astimezone(zone).year else "EEE d MMM y HH:mm"
    return format_datetime(local, pattern, tzinfo=zone, locale="en_GB")


def log_words(action: str, outcome: str | None, reason: str | None, detail: Mapping[str, Any] | None,
              node: Node | None, zone: ZoneInfo, revenue: float | None = None, at: datetime | None = None) -> str:
    """One run-log row as a sentence, the same words as the test run's story (app/engine/story.py):
    "Deferred: quiet hours until 08:00 Tue", "No: not opened within 24 hours", "Exited: goal reached".
    `node`: the step in the version the run followed (None when the row is the journey's own or the
    step is gone); `zone`: the contact's, when the row's detail names none."""
    return step_words(action, outcome=outcome, reason=reason, detail=detail, node=node, zone=zone, at=at,
                      revenue=revenue)
