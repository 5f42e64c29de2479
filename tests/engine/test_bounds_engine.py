"""A journey with every duration, date and number at the largest value validation allows runs to its end:
the engine never raises OverflowError on a valid journey (issue 9, "Values are bounded where they enter").
One step past any of those maxima is a validation error, so the gate refuses to activate it."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.engine.gate import JourneyNotReady
from app.journey.schema import MAX_AMOUNT, MAX_DURATION_DAYS, MAX_DURATION_HOURS, MAX_DURATION_MINUTES
from app.journey.settings import MAX_CAP_MESSAGES
from app.journey.validate import ERROR, validate

from .helpers import CONTACTS, START, World, chain, send_node, simple_journey, t

WEEKS = MAX_DURATION_DAYS // 7
# Near the last day a date field may hold (100 years after START), written in the zone furthest west.
LAST_DATE = "2126-02-27T09:00:00-12:00"


def journey_at_every_maximum():
    journey = simple_journey(
        "At the limits",
        entry={"mode": "after_days", "days": MAX_DURATION_DAYS},
        frequency_cap={"enabled": True, "messages": MAX_CAP_MESSAGES, "hours": MAX_DURATION_HOURS},
        goal={"enabled": True, "event": "order_placed", "window": {"amount": WEEKS, "unit": "weeks"}},
        conversion_window={"amount": MAX_DURATION_DAYS, "unit": "days"},
    )
    trigger = journey.trigger()
    first = send_node(journey)
    status = journey.add_node("message_status", {"step": first.id, "status": "opened",
                                                  "window": {"amount": MAX_DURATION_MINUTES, "unit": "minutes"}})
    hours = journey.add_node("wait", {"mode": "duration", "delay": {"amount": MAX_DURATION_HOURS, "unit": "hours"}})
    until = journey.add_node("wait", {"mode": "until_date", "until": LAST_DATE})
    last = send_node(journey, subject="Still there?", timing="scheduled", send_at=LAST_DATE)
    weeks = journey.add_node("wait", {"mode": "duration", "delay": {"amount": WEEKS, "unit": "weeks"}})
    days = journey.add_node("wait", {"mode": "duration", "delay": {"amount": MAX_DURATION_DAYS, "unit": "days"}})
    chain(journey, trigger, first, status)
    journey.connect(status.id, hours.id, "yes")
    chain(journey, hours, until, last)
    journey.connect(status.id, weeks.id, "no")
    chain(journey, weeks, days)
    last.ends = days.ends = ("next",)
    return journey


def spend_journey():
    journey = simple_journey("Big spenders")
    trigger = journey.trigger()
    trigger.config.update(mode="spend", threshold=MAX_AMOUNT)
    step = send_node(journey, subject="Thank you")
    chain(journey, trigger, step)
    step.ends = ("next",)
    return journey


def lapsed_journey():
    journey = simple_journey("Lapsed")
    trigger = journey.trigger()
    trigger.config.update(mode="no_order", days=MAX_DURATION_DAYS)
    step = send_node(journey, subject="We miss you")
    chain(journey, trigger, step)
    step.ends = ("next",)
    return journey


def manual_journey():
    journey = simple_journey("Centenary")
    trigger = journey.trigger()
    trigger.config.update(mode="manual", send="scheduled", send_at=LAST_DATE)
    step = send_node(journey, subject="A hundred years")
    chain(journey, trigger, step)
    step.ends = ("next",)
    return journey


def test_the_journey_at_every_maximum_is_valid():
    problems = validate(journey_at_every_maximum(), now=t(START), active=True)
    assert [p for p in problems if p.severity == ERROR] == []


def test_the_engine_runs_a_journey_at_every_maximum_to_its_end(world: World):
    world.contacts(CONTACTS)
    for journey in (journey_at_every_maximum(), spend_journey(), lapsed_journey(), manual_journey()):
        world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_opened", "2026-03-02T11:00:00Z")
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("cho", "order_placed", "2026-03-03T10:00:00Z", total=MAX_AMOUNT)
    world.event("cho", "order_placed", "2026-03-04T10:00:00Z", total=MAX_AMOUNT)   # the spend stays in its column
    # ann: 5 years of hours, then the wait until the last date and the send scheduled for it;
    # cho: no open within 5 years, then 260 weeks and 1825 days.
    for years in (1, 6, 11, 50, 101):
        world.advance_to(t(START) + timedelta(days=365 * years))
    assert [r["status"] for r in world.runs("ann")] == ["completed", "completed"]
    sent = {m["subject"]: m["sent_at"] for m in world.sent("ann")}
    assert sorted(sent) == ["A hundred years", "Hello Ann", "Still there?"]
    assert sent["Still there?"] >= t(LAST_DATE) and sent["A hundred years"] >= t(LAST_DATE)
    assert [r["status"] for r in world.runs("cho") if r["status"] == "active"] == []
    assert sorted(m["subject"] for m in world.sent("cho")) == ["A hundred years", "Hello Cho", "Thank you",
                                                                 "We miss you"]


@pytest.mark.parametrize("change", [
    lambda j: j.settings["entry"].update(days=MAX_DURATION_DAYS + 1),
    lambda j: j.settings["frequency_cap"].update(hours=MAX_DURATION_HOURS + 1),
    lambda j: j.settings["conversion_window"].update(amount=WEEKS + 1, unit="weeks"),
    lambda j: j.settings["goal"]["window"].update(amount=10**9),
    lambda j: _kind(j, "message_status").config["window"].update(amount=10**11, unit="minutes"),
    lambda j: _kind(j, "wait").config["delay"].update(amount=10**9, unit="days"),
    lambda j: _kind(j, "wait", "until_date").config.update(until="9999-12-31T23:59:59-14:00"),
], ids=["entry", "cap", "conversion", "goal", "status", "wait", "until"])
def test_one_step_past_a_maximum_is_refused_by_the_gate(world: World, change):
    journey = journey_at_every_maximum()
    change(journey)
    with pytest.raises(JourneyNotReady):
        world.install(journey)
    assert world.runs() == []


def _kind(journey, kind, mode=None):
    return next(n for n in journey.nodes.values() if n.kind == kind and (mode is None or n.config["mode"] == mode))
