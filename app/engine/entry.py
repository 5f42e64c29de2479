"""Entering a journey: audience, entry rule and re-trigger policy, then the first steps."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app.journey.conditions import all_hold
from app.journey.settings import allows_unknown
from app.store.tables import runs

from .context import ContactView, LiveJourney
from .runs import ACTIVE, Batch, RunState
from .stepper import advance
from .timeutil import add_duration, days


def in_audience(journey: LiveJourney, contact: ContactView) -> bool:
    trigger = journey.trigger
    if trigger is None:
        return False
    audience = trigger.config["audience"]
    if audience["include_tags"] and not contact.tags.intersection(audience["include_tags"]):
        return False
    if contact.tags.intersection(audience["exclude_tags"]):
        return False
    if audience["conditions"] and not all_hold(audience["conditions"], {}, contact.condition_data(), contact.tags):
        return False
    channel = audience.get("reachable_on")
    return not channel or contact.reachable(channel, allows_unknown(journey.settings, channel))


def _last_entry(batch: Batch, journey_id: str, contact_id: str) -> datetime | None:
    batch.write_pending(contact_id)
    return batch.conn.execute(select(func.max(runs.c.entered_at)).where(
        runs.c.journey_id == journey_id, runs.c.contact_id == contact_id)).scalar()


def entry_allowed(batch: Batch, journey: LiveJourney, contact: ContactView, at: datetime,
                  inside: list[RunState]) -> bool:
    """The entry rule alone ("who can enter again"), whatever the re-trigger policy says.

    once: never entered this journey before; after_days N: the last entry was at least N
    calendar days ago in the contact's zone (`timeutil.add_duration`), or never; not_in_journey:
    never in the journey twice at once, so a contact inside may enter only by a restart (the
    current run exits first), never beside it (parallel); every_time: no limit.
    `inside`: the contact's active runs of this journey.
    """
    entry = journey.settings["entry"]
    mode = entry["mode"]
    if mode == "not_in_journey":
        return not inside or journey.settings["retrigger"] == "restart"
    if mode == "once":
        return not inside and _last_entry(batch, journey.id, contact.id) is None
    if mode == "after_days":
        last = _last_entry(batch, journey.id, contact.id)     # the latest of every run, finished or not
        return last is None or add_duration(last, days(entry["days"]), batch.zone_for(journey, contact)) <= at
    return True


def enter(batch: Batch, journey: LiveJourney, contact: ContactView, at: datetime, active: list[RunState], *,
          event: dict[str, Any] | None = None, event_type: str | None = None,
          event_id: int | None = None) -> RunState | None:
    """Starts a run if the rules allow it and advances it at once; `active` is the contact's active runs
    (all journeys) and is kept up to date. Returns the new run, or None when it may not enter.

    Order, in every re-trigger mode: the audience, then the entry rule (`entry_allowed`): a trigger it
    refuses changes nothing, not even the current run. Only then, when the contact is inside, the
    re-trigger policy: ignore (nothing happens), restart (the current run exits as re_triggered and a
    new one starts) or parallel (a new run starts beside it; refused by "when not in the journey",
    which never has a contact inside twice). "Every time" never ignores a trigger: with ignore, its
    runs go side by side as with parallel.
    """
    if not in_audience(journey, contact):
        return None
    settings = journey.settings
    mine = [r for r in active if r.journey_id == journey.id and r.status == ACTIVE]
    if not entry_allowed(batch, journey, contact, at, mine):
        return None
    policy = settings["retrigger"]
    if mine and policy == "ignore" and settings["entry"]["mode"] != "every_time":
        return None      # already inside; the re-trigger is ignored
    if mine and policy == "restart":
        for old in mine:
            batch.finish(old, "exited", at, "re_triggered", detail={"event": event_type} if event_type else None)
    if event_id is not None:
        batch.remember_event(event_id, event or {})
    run = batch.new_run(journey, contact.id, at, {}, event_id)
    active.append(run)
    advance(batch, run, at)
    return run
