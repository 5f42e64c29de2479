"""A run-log row as a sentence, for a contact's timeline and the "Who went this way?" list.

ONE function (`log_words`) turns one row into words. The test-run story has its own
(app/engine/story.py `step_words`, issue 11); when both are merged, this function is the one
place to switch over to it. Reasons are said through `stats.in_words`, so a reason the engine
starts logging has words here as soon as it has them in REASON_WORDS.
"""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from app.journey.model import Node
from app.journey.schema import format_duration, parse_datetime

from .stats import in_words

CHANNEL_WORDS = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp message"}
STATUS_WORDS = {"delivered": "delivered", "opened": "opened", "clicked": "clicked", "replied": "replied to",
                "failed": "failed", "unsubscribed": "unsubscribed from"}


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


def _until(detail: Mapping[str, Any] | None, zone: ZoneInfo) -> str:
    raw = (detail or {}).get("until")
    if not isinstance(raw, str):
        return ""
    try:
        return short_time(parse_datetime(raw), zone)
    except ValueError:
        return raw


def _money(revenue: float | None) -> str:
    return f" — revenue {revenue:,.2f}" if revenue else ""


def branch_words(node: Node | None, outcome: str | None, reason: str | None) -> str:
    """Why a message-status step went the way it did: "No: not opened within 24 h", "Yes: opened within
    24 h", "No: no message sent". The check (status, window) is the step's own setting in the version
    the contact ran, so it says what the engine judged even where the log holds only the outcome."""
    label = (outcome or "?").capitalize()
    if reason:
        return f"{label}: {in_words(reason)}"
    if node is None or node.kind != "message_status":
        return f"Went “{label}”"
    status = STATUS_WORDS.get(str(node.config.get("status")), str(node.config.get("status")))
    try:
        window = format_duration(node.config["window"], short=True)
    except (KeyError, TypeError):
        window = "the window"
    if outcome == "yes":
        return f"Yes: {status} within {window}"
    return f"No: not {status} within {window}"


def log_words(action: str, outcome: str | None, reason: str | None, detail: Mapping[str, Any] | None,
              node: Node | None, zone: ZoneInfo, revenue: float | None = None) -> str:
    """One run-log row as a sentence. `node`: the step in the version the run followed (None when the
    row is the journey's own or the step is gone); `zone`: the contact's, for "until" times.
    Examples: "Deferred: quiet hours until Tue 1 Dec 08:00", "Skipped: opted out", "Exited: goal reached"."""
    channel = CHANNEL_WORDS.get(str(node.config.get("channel")), "message") if node is not None else "message"
    if action == "entered":
        return "Entered the journey"
    if action == "waited":
        until = _until(detail, zone)
        if node is not None and node.kind == "message_status":
            return f"Waiting for the answer until {until}" if until else "Waiting for the answer"
        return f"Waiting until {until}" if until else "Waiting"
    if action == "deferred":
        until = _until(detail, zone)
        return f"Deferred: {in_words(reason or '')}" + (f" until {until}" if until else "")
    if action == "sent":
        return f"Sent the {channel}"
    if action == "skipped":
        return f"Skipped the {channel}: {in_words(reason or '')}"
    if action == "branched":
        return branch_words(node, outcome, reason)
    if action == "tagged":
        add, remove = (detail or {}).get("add") or [], (detail or {}).get("remove") or []
        changes = [f"+{t}" for t in add] + [f"−{t}" for t in remove]
        return "Tags changed: " + (" ".join(changes) if changes else "none")
    if action == "goal":
        return "Goal reached" + _money(revenue)
    if action == "converted":
        return "Converted: credited to this step" + _money(revenue)
    if action == "exited":
        return f"Left the journey: {in_words(reason or '')}"
    if action == "completed":
        return "Completed the journey"
    if action == "failed":
        error = (detail or {}).get("error")
        return f"Failed: {in_words(reason or '')}" + (f" ({error})" if error else "")
    return action.replace("_", " ").capitalize()
