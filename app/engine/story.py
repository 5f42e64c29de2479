"""A run-log row as people say it: one sentence per step a contact passed.

`step_words` is the one place that turns what the engine logs (action, outcome, reason, detail, the
step) into words, for the test run's story, the CLI and each contact's live timeline: "Deferred:
quiet hours until 08:00 Tue", "No: not opened within 24 hours", "Skipped: opted out of SMS".
Times in the words are the contact's local time, read from the zone the engine logs with the row
(`detail["zone"]`), else the zone given.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from app.journey.model import Node
from app.journey.node_kinds import EVENT_LABELS

from .stats import in_words
from .timeutil import valid_zone

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CHANNELS = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}
_ADDRESSES = {"email": "no email address", "sms": "no phone number", "whatsapp": "no phone number"}
_STATUS_WORDS = {"opened": "opened", "clicked": "clicked", "delivered": "delivered", "replied": "replied to",
                 "failed": "failed", "unsubscribed": "unsubscribed from"}


def when(at: datetime, zone: ZoneInfo | str | None = None) -> str:
    """`at` in `zone` (an IANA name or ZoneInfo; None: UTC) as "Tue 1 Dec 08:00" (English names,
    whatever the machine's locale)."""
    local = at.astimezone(_zone(zone))
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local:%H:%M}{_which(local)}"


def _which(local: datetime) -> str:
    """" EDT" / " EST" for a time in the hour a zone says twice when summer time ends, else "": without
    it a 1-hour wait from 01:30 reads "until 01:30"."""
    other = local.replace(fold=1 - local.fold)
    return f" {local.tzname()}" if other.utcoffset() != local.utcoffset() and local.tzname() else ""


def until_words(until: datetime, zone: ZoneInfo | str | None = None, since: datetime | None = None) -> str:
    """When a contact moves on, in their zone: "08:00 Tue" within the week after `since`, else with
    the date too ("08:00 Tue 8 Dec")."""
    local = until.astimezone(_zone(zone))
    short = f"{local:%H:%M}{_which(local)} {_DAYS[local.weekday()]}"
    if since is not None and abs((until - since).total_seconds()) < 6 * 86400:
        return short
    return f"{short} {local.day} {_MONTHS[local.month - 1]}"


def _zone(zone: ZoneInfo | str | None) -> ZoneInfo:
    if isinstance(zone, ZoneInfo):
        return zone
    return ZoneInfo(zone) if zone and valid_zone(zone) else ZoneInfo("UTC")


def duration_words(duration: Mapping[str, Any] | None) -> str:
    """{"amount": 24, "unit": "hours"} → "24 hours"; 1 day → "1 day"."""
    if not duration:
        return ""
    amount, unit = duration.get("amount"), str(duration.get("unit") or "")
    if amount == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{amount} {unit}".strip()


def event_words(event_type: str | None) -> str:
    """An event type as people say it ("cart_abandoned" → "cart abandoned")."""
    if not event_type:
        return "an event"
    label = EVENT_LABELS.get(event_type)
    return str(label).lower() if label else event_type.replace("_", " ")


def money(amount: float | Decimal | None) -> str:
    return "" if amount is None else f"{float(amount):,.2f}"


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def step_words(action: str, *, outcome: str | None = None, reason: str | None = None,
               detail: Mapping[str, Any] | None = None, node: Node | None = None,
               zone: ZoneInfo | str | None = None, at: datetime | None = None,
               revenue: float | Decimal | None = None) -> str:
    """One run-log row as a sentence.

    `action`, `outcome`, `reason`, `detail`, `revenue`: the row's columns (app/store/tables.py run_log);
    `node`: the step it happened at (None when unknown or deleted since); `zone`: the contact's zone when
    the row's detail names none; `at`: the row's time (to say "08:00 Tue" rather than a full date for a
    time within the week). Never raises: an unknown action or reason is said as it is."""
    d = dict(detail or {})
    zone = d.get("zone") or zone
    channel = _CHANNELS.get(str(d.get("channel") or (node.config.get("channel") if node else "") or ""), "")
    if action == "entered":
        event = node.config.get("event") if node is not None and node.config.get("mode") == "event" else None
        return f"Entered the journey ({event_words(event)})" if event else "Entered the journey"
    if action == "waited":
        until = _parse(d.get("until"))
        moves = f"until {until_words(until, zone, at)}" if until else ""
        if node is not None and node.kind == "message_status":
            status = _STATUS_WORDS.get(str(d.get("status") or node.config.get("status")), "seen")
            window = duration_words(d.get("window") or node.config.get("window"))
            return f"Waiting to see whether the message is {status} within {window}, {moves}".rstrip(", ")
        if node is not None and node.config.get("mode") == "duration":
            return f"Waiting {duration_words(node.config.get('delay'))}, {moves}".rstrip(", ")
        return f"Waiting {moves}".rstrip()
    if action == "deferred":
        until = _parse(d.get("until"))
        moves = f" until {until_words(until, zone, at)}" if until else ""
        if reason == "quiet_hours":
            return f"Deferred: quiet hours{moves}"
        if reason == "frequency_cap":
            cap = f" ({d['messages']} per {d['hours']} h)" if "messages" in d and "hours" in d else ""
            return f"Deferred: frequency cap{cap}{moves}"
        if reason == "scheduled":
            return f"Deferred: scheduled{moves}"
        return f"Deferred: {in_words(reason or 'other')}{moves}"
    if action == "sent":
        return f"Sent the {channel or 'message'}" if channel else "Sent the message"
    if action == "skipped":
        return "Skipped: " + _skip_words(reason, channel, d)
    if action == "branched":
        return _branch_words(outcome, reason, d, node)
    if action == "tagged":
        changes = [f"+{t}" for t in d.get("add") or []] + [f"−{t}" for t in d.get("remove") or []]
        return "Tagged: " + (", ".join(changes) if changes else "no change")
    if action == "exited":
        return "Exited: " + exit_words(reason, d)
    if action == "completed":
        return "Completed the journey"
    if action == "converted":
        figure = f" {money(revenue)}" if revenue is not None else ""
        return f"Converted:{figure} credited to this step".replace(":  ", ": ")
    if action == "goal":
        figure = f" ({money(revenue)})" if revenue else ""
        return f"Goal reached{figure}"
    if action == "failed":
        return "Failed: " + _failure_words(reason, d)
    return action.replace("_", " ").capitalize() + (f": {in_words(reason)}" if reason else "")


def row_words(row: Mapping[str, Any], node: Node | None = None, zone: ZoneInfo | str | None = None) -> str:
    """`step_words` for a run-log row as read (a mapping with action, outcome, reason, detail, at and
    revenue: `row._mapping` of a `select(run_log)`)."""
    return step_words(str(row["action"]), outcome=row.get("outcome"), reason=row.get("reason"),
                      detail=row.get("detail"), node=node, zone=zone, at=row.get("at"), revenue=row.get("revenue"))


def _skip_words(reason: str | None, channel: str, d: Mapping[str, Any]) -> str:
    on = f" {channel}" if channel else ""
    if reason == "unsubscribed":
        return f"opted out of{on}" if on else "opted out"
    if reason == "no_consent":
        return f"no consent given for{on}" if on else "no consent given"
    if reason == "no_address":
        return _ADDRESSES.get(str(d.get("channel") or ""), "no address")
    if reason == "missing_variable" and d.get("missing"):
        return f"a value was missing ({', '.join(map(str, d['missing']))})"
    return in_words(reason or "other")


def _branch_words(outcome: str | None, reason: str | None, d: Mapping[str, Any], node: Node | None) -> str:
    label = (outcome or "?").capitalize()
    status = _STATUS_WORDS.get(str(d.get("status") or (node.config.get("status") if node else "")), "")
    window = duration_words(d.get("window") or (node.config.get("window") if node else None))
    within = f" within {window}" if window else ""
    if reason:
        return f"{label}: {in_words(reason)}"
    if outcome == "yes" and status:
        seen = _parse(d.get("seen"))
        return f"Yes: {status}{within}" + (f" ({status} {when(seen, d.get('zone'))})" if seen else "")
    if outcome == "no" and status:
        return f"No: not {status}{within}"
    return label


def exit_words(reason: str | None, d: Mapping[str, Any]) -> str:
    """Why a run ended, after "Exited: " ("exit condition met (order placed)")."""
    event = d.get("event")
    if reason == "exit_condition" and event:
        return f"exit condition met ({event_words(str(event))})"
    if reason == "goal":
        return "goal reached" + (f" ({event_words(str(event))})" if event else "")
    if reason == "unsubscribed":
        return "opted out of every channel"
    if reason == "re_triggered" and event:
        return f"re-triggered (a new {event_words(str(event))} started it again)"
    return in_words(reason or "other")


def _failure_words(reason: str | None, d: Mapping[str, Any]) -> str:
    if reason == "template_error":
        field = f" in {d['field']}" if d.get("field") else ""
        return f"template error{field}" + (f": {d['error']}" if d.get("error") else "")
    if reason == "missing_variable" and d.get("missing"):
        return f"a value was missing ({', '.join(map(str, d['missing']))}) and the step fails without it"
    words = in_words(reason or "error")
    return words + (f": {d['error']}" if d.get("error") else "")
