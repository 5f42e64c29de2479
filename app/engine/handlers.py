"""Node handlers, keyed by kind id in one place (a test asserts every registered kind has one)."""
from __future__ import annotations

from typing import Callable

from app.journey.schema import parse_datetime

from .runs import message_key
from .sending import send_template
from .steps import Hold, Next, Result, Step
from .timeutil import add_duration, iso, next_time_of_day

Handler = Callable[[Step], Result]


def trigger(step: Step) -> Result:
    step.batch.log(step.run, step.node.id, "entered", step.at)
    return Next()


def _resume(step: Step) -> Result | None:
    """Shared by handlers that hold: done when the hold time has come, else hold again."""
    until = step.held_until
    if until is None:
        return None
    return Next() if step.at >= until else Hold(until)


def wait(step: Step) -> Result:
    resumed = _resume(step)
    if resumed is not None:
        return resumed
    config, at = step.node.config, step.at
    mode = config["mode"]
    if mode == "duration":      # days: calendar days in the contact's zone; hours, minutes: exact
        until = add_duration(at, config["delay"], step.zone)
    elif mode == "time_of_day":
        until = next_time_of_day(at, config["time"], step.zone, list(config.get("weekdays") or []))
    else:
        until = parse_datetime(config["until"]) if config.get("until") else at
    # The zone names the contact's local time, so the story can say "until 09:00 Tue" as they live it.
    step.batch.log(step.run, step.node.id, "waited", step.at, detail={"until": iso(until), "zone": step.zone.key})
    return Hold(until) if until > at else Next()


# A later status implies an earlier one: a click means the message was opened and delivered.
_IMPLIED = {
    "delivered": ("delivered_at", "opened_at", "clicked_at", "replied_at"),
    "opened": ("opened_at", "clicked_at"),
    "clicked": ("clicked_at",),
    "replied": ("replied_at",),
    "failed": ("failed_at",),
    "unsubscribed": ("unsubscribed_at",),
}


def message_status(step: Step) -> Result:
    """`yes` as soon as the status is seen within the window, `no` when it ends.

    The window runs from when the referenced message was sent, once: a wait
    placed before this node does not push the window further out. "Within N days"
    ends exactly where a wait of N days from the same instant ends (calendar days
    in the contact's zone, `timeutil.add_duration`).
    """
    config = step.node.config
    row = step.batch.message(message_key(step.run.id, config["step"]))
    # Why the branch went its way is logged with it (the status, the window and when it ran), so a
    # contact's story can say "not opened within 24 hours" rather than a bare "no".
    why: dict[str, object] = {"status": config["status"], "window": dict(config["window"])}
    if row is None or row["status"] == "cancelled":
        return _branch(step, "no", "no_message", why)
    start = row["sent_at"] or row["scheduled_at"]
    end = add_duration(start, config["window"], step.zone)
    why.update(sent=iso(start), until=iso(end), zone=step.zone.key)
    seen = [row[c] for c in _IMPLIED[config["status"]] if row.get(c) is not None and row[c] <= end]
    if seen:
        return _branch(step, "yes", None, {**why, "seen": iso(min(seen))})
    if step.at >= end:
        return _branch(step, "no", None, why)
    if step.first_visit:     # so the node counts the contacts waiting at it
        step.batch.log(step.run, step.node.id, "waited", step.at, detail=why)
    return Hold(end)


def _branch(step: Step, outcome: str, reason: str | None, detail: dict[str, object]) -> Result:
    step.batch.log(step.run, step.node.id, "branched", step.at, outcome=outcome, reason=reason, detail=detail)
    return Next(outcome)


def tag(step: Step) -> Result:
    contact = step.contact
    add, remove = list(step.node.config["add"]), list(step.node.config["remove"])
    step.batch.write_tags(contact.id, add, remove)
    contact.tags.update(add)
    contact.tags.difference_update(remove)
    step.batch.log(step.run, step.node.id, "tagged", step.at, detail={"add": add, "remove": remove})
    return Next()


HANDLERS: dict[str, Handler] = {
    "trigger": trigger,
    "send_template": send_template,
    "wait": wait,
    "message_status": message_status,
    "tag": tag,
}
