"""Entering a journey: audience, entry rule and re-trigger policy, then the first steps."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.journey.conditions import all_hold
from app.journey.settings import allows_unknown
from app.store.tables import runs

from .context import ContactView, LiveJourney
from .runs import ACTIVE, Batch, RunState
from .stepper import advance


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


def enter(batch: Batch, journey: LiveJourney, contact: ContactView, at: datetime, active: list[RunState], *,
          event: dict[str, Any] | None = None, event_type: str | None = None,
          event_id: int | None = None) -> RunState | None:
    """Starts a run if the rules allow it and advances it at once; `active` is the contact's active runs
    (all journeys) and is kept up to date. Returns the new run, or None when it may not enter."""
    if not in_audience(journey, contact):
        return None
    settings = journey.settings
    mine = [r for r in active if r.journey_id == journey.id and r.status == ACTIVE]
    mode = settings["entry"]["mode"]
    if mode == "once" and (mine or _last_entry(batch, journey.id, contact.id) is not None):
        return None
    if mine and settings["retrigger"] != "restart" and mode != "every_time":
        return None      # already inside; the re-trigger is ignored
    if mode == "after_days" and not mine:
        last = _last_entry(batch, journey.id, contact.id)
        if last is not None and last > at - timedelta(days=int(settings["entry"]["days"])):
            return None
    if settings["retrigger"] == "restart":
        for old in mine:
            batch.finish(old, "exited", at, "re_triggered")
    if event_id is not None:
        batch.remember_event(event_id, event or {})
    run = batch.new_run(journey, contact.id, at, {}, event_id)
    active.append(run)
    advance(batch, run, at)
    return run
