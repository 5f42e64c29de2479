"""Conversions and goals: a goal event is credited once, to the last touch across journeys.

Of the journeys whose goal an event meets, each offers its latest message within its own conversion
window (`convert`), and the newest of those wins (`LastTouch`): an order is one conversion with its
revenue once, on one step, however many journeys messaged the contact. The goal itself counts for
the contact's latest run in that journey within the goal window. Called by ingest.py for each event.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from app.journey.conditions import all_hold
from app.store.tables import messages, runs

from .context import ContactView, LiveJourney
from .runs import ACTIVE, Batch, RunState
from .timeutil import add_duration, subtract_duration

if TYPE_CHECKING:
    from .ingest import EventIn


def event_number(value: Any) -> float:
    """An event property read as a number (0.0 when it is none: a missing or written-out total)."""
    try:
        return float(value) if value is not None and not isinstance(value, bool) else 0.0
    except (TypeError, ValueError, OverflowError):
        return 0.0


def meets(rule: dict[str, Any], event: EventIn, contact: ContactView) -> bool:
    """Whether `event` is the one a goal's, exit condition's or trigger's `rule` names, its conditions held."""
    conditions = rule.get("conditions")
    return rule.get("event") == event.type and (not conditions or all_hold(conditions, event.properties,
                                                                           contact.condition_data(), contact.tags))


_LATEST_IN_JOURNEY = (
    select(messages.c.run_id, messages.c.node_id, messages.c.created_at, messages.c.id)
    .where(messages.c.contact_id == bindparam("cid"), messages.c.journey_id == bindparam("jid"),
           messages.c.created_at <= bindparam("at"), messages.c.created_at >= bindparam("since"),
           # Two comparisons rather than NOT IN: an expanding IN is re-rendered on every execution.
           messages.c.status != "cancelled", messages.c.status != "failed")
    .order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(1))
_LATEST_RUN = (
    select(runs.c.id, runs.c.entered_at)
    .where(runs.c.journey_id == bindparam("jid"), runs.c.contact_id == bindparam("cid"),
           runs.c.entered_at <= bindparam("at"), runs.c.entered_at >= bindparam("since"))
    .order_by(runs.c.entered_at.desc(), runs.c.id.desc()).limit(1))


# Counting back N calendar days from an event and forward from a message agree except next to a clock
# change's gap (at most 2 hours anywhere): SQL narrows with this margin, `within` then judges exactly.
_GAP_MARGIN = timedelta(hours=3)


def window_start(at: datetime, window: dict[str, Any], tz: ZoneInfo) -> datetime:
    """Earliest start a window of `window` ending at or after `at` can have (a little wide; see `within`)."""
    return subtract_duration(at, window, tz) - _GAP_MARGIN


def within(start: datetime, window: dict[str, Any], tz: ZoneInfo, at: datetime) -> bool:
    """Whether `at` falls in the window of `window` ({amount, unit}) opened at `start`: up to the very
    instant a wait of that length from `start` ends (`timeutil.add_duration`; days are calendar days in
    `tz`), as conversion and goal windows count ("ordered within 5 days of the message")."""
    return start <= at <= add_duration(start, window, tz)


@dataclass
class LastTouch:
    """The one message a conversion is credited to: of the journeys whose goal the event meets, each offers
    its latest message within its own conversion window, and the newest of those wins (last touch), so an
    order is one conversion with its revenue once, on one step, however many journeys messaged the contact."""
    best: tuple[datetime, float, int, str] | None = None     # created_at, message id (buffered: inf), run, node
    revenue: float = 0.0

    def offer(self, run_id: int, node_id: str, created_at: datetime, message_id: int | None, revenue: float) -> None:
        candidate = (created_at, float("inf") if message_id is None else float(message_id), run_id, node_id)
        if self.best is None or candidate[:2] > self.best[:2]:
            self.best, self.revenue = candidate, revenue

    def settle(self, batch: Batch, at: datetime, mine: list[RunState]) -> None:
        """Logs the conversion (counted on the credited step) for the winning message, if any."""
        if self.best is None:
            return
        _, _, run_id, node_id = self.best
        owner = next((r for r in mine if r.id == run_id), None) or run_stub(batch, run_id)
        batch.log(owner, node_id, "converted", at, revenue=self.revenue)


def convert(batch: Batch, journey: LiveJourney, contact: ContactView, event: EventIn, at: datetime,
             mine: list[RunState], credit: LastTouch) -> None:
    """A goal event counts once: it offers this journey's latest message within the window to `credit`
    (the conversion goes to the newest message across journeys), and counts as this journey's goal."""
    goal = journey.settings["goal"]
    if not goal["enabled"] or not meets(goal, event, contact):
        return
    revenue = event_number(event.properties.get("total"))
    tz, window = batch.zone_for(journey, contact), journey.settings["conversion_window"]
    since = window_start(event.at, window, tz)
    pending = batch.latest_pending_message(contact.id)
    latest: tuple[Any, ...] | None
    if (pending is not None and pending["journey_id"] == journey.id and since <= pending["created_at"] <= event.at
            and pending["status"] not in ("cancelled", "failed")):
        latest = (pending["run_id"], pending["node_id"], pending["created_at"], None)   # not in SQL yet
    else:
        if pending is not None:          # unwritten messages of another journey, maybe older ones of this
            batch.write_pending(contact.id)
        latest = batch.conn.execute(_LATEST_IN_JOURNEY, {"cid": contact.id, "jid": journey.id, "at": event.at,
                                                         "since": since}).first()
    # The latest message is the one whose window ends last: if the event is past its end, it is past all.
    if latest is not None and within(latest[2], window, tz, event.at):
        run_id, node_id, created_at, message_id = latest
        credit.offer(run_id, node_id, created_at, message_id, revenue)
    # The goal counts for the contact's latest run in this journey that entered within the goal window:
    # the newest one still going, else the newest finished one.
    since = window_start(event.at, goal["window"], tz)
    going = [r for r in mine if r.journey_id == journey.id and r.status == ACTIVE and since <= r.entered_at <= event.at
             and within(r.entered_at, goal["window"], tz, event.at)]
    run = max(going, key=lambda r: (r.entered_at, r.id)) if going else None
    if run is None:
        batch.write_pending(contact.id)
        found = batch.conn.execute(_LATEST_RUN, {"jid": journey.id, "cid": contact.id, "at": event.at,
                                                 "since": since}).one_or_none()
        if found is None or not within(found.entered_at, goal["window"], tz, event.at):
            return
        found = found.id
        batch.log(run_stub(batch, found), None, "goal", at, revenue=revenue)
        return
    batch.log(run, run.node_id, "goal", at, revenue=revenue)
    if goal["exits"]:
        batch.finish(run, "converted", at, "goal", action="exited", detail={"event": event.type})


def run_stub(batch: Batch, run_id: int) -> RunState:
    """A finished run, enough to log against (it may still be among this batch's unwritten rows)."""
    batch.write_pending()
    row = batch.conn.execute(select(runs.c.id, runs.c.journey_id, runs.c.version, runs.c.contact_id)
                             .where(runs.c.id == run_id)).one()
    return RunState(row.id, row.journey_id, row.version, row.contact_id, None, None, datetime.min, "ended")
