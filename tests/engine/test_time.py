"""Quiet hours, waits and time zones, including daylight-saving changes."""
from __future__ import annotations

import pytest

from app.engine.timeutil import add_local_days, local_to_utc, next_time_of_day, quiet_until, zone

from .helpers import chain, send_node, simple_journey, t

PEOPLE = """id,email,phone,first_name,timezone
paris,p@example.com,+331,Pia,Europe/Paris
ny,n@example.com,+1212,Ned,America/New_York
nowhere,x@example.com,+1999,Xan,
"""


def quiet_journey():
    journey = simple_journey(quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"})
    send = send_node(journey, subject="Hello")
    chain(journey, journey.trigger(), send)
    return journey, send


@pytest.mark.parametrize("contact, at, expected", [
    ("paris", "2026-03-02T22:30:00Z", "2026-03-03T07:00:00Z"),   # 23:30 CET → 08:00 CET
    ("ny", "2026-03-03T04:30:00Z", "2026-03-03T13:00:00Z"),      # 23:30 EST → 08:00 EST
    ("ny", "2026-03-08T04:30:00Z", "2026-03-08T12:00:00Z"),      # 23:30 EST on 7 March → 08:00 EDT on the 8th
    ("paris", "2026-03-28T22:30:00Z", "2026-03-29T06:00:00Z"),   # 23:30 CET → 08:00 CEST across the change
])
def test_a_2330_local_send_is_deferred_to_0800_local(world, contact, at, expected):
    world.contacts(PEOPLE)
    journey, send = quiet_journey()
    world.install(journey)
    world.event(contact, "cart_abandoned", at)
    assert world.sent(contact) == []
    [deferred] = world.log(contact, "deferred")
    assert deferred["reason"] == "quiet_hours" and deferred["node_id"] == send.id
    world.advance_to(t(expected).replace(microsecond=0) - __import__("datetime").timedelta(seconds=1))
    assert world.sent(contact) == []
    world.advance_to(expected)
    [message] = world.sent(contact)
    assert message["sent_at"] == t(expected)


def test_outside_quiet_hours_the_message_goes_at_once(world):
    world.contacts(PEOPLE)
    journey, _ = quiet_journey()
    world.install(journey)
    world.event("paris", "cart_abandoned", "2026-03-02T12:00:00Z")
    assert [m["sent_at"] for m in world.sent("paris")] == [t("2026-03-02T12:00:00Z")]


def test_a_contact_without_time_zone_uses_utc_for_quiet_hours(world):
    world.contacts(PEOPLE)
    journey, _ = quiet_journey()
    world.install(journey)
    world.event("nowhere", "cart_abandoned", "2026-03-02T23:30:00Z")
    world.advance_to("2026-03-04T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("nowhere")] == [t("2026-03-03T08:00:00Z")]


def test_a_one_day_wait_keeps_the_local_time_across_dst(world):
    world.contacts(PEOPLE)
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("paris", "cart_abandoned", "2026-03-28T08:00:00Z")   # 09:00 CET
    world.advance_to("2026-03-30T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("paris")] == [t("2026-03-29T07:00:00Z")]   # 09:00 CEST, 23 h later


def test_an_hours_wait_is_exact_elapsed_time(world):
    world.contacts(PEOPLE)
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 90, "unit": "minutes"}})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("ny", "cart_abandoned", "2026-03-08T06:30:00Z")   # spans the 2 a.m. change
    world.advance_to("2026-03-09T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("ny")] == [t("2026-03-08T08:00:00Z")]


def test_wait_until_a_time_of_day_on_chosen_weekdays_in_the_contacts_zone(world):
    world.contacts(PEOPLE)
    journey = simple_journey(timezone="Asia/Tokyo")
    wait = journey.add_node("wait", {"mode": "time_of_day", "time": "09:00", "weekdays": ["mon"]})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("ny", "cart_abandoned", "2026-03-07T15:00:00Z")        # Saturday
    world.event("nowhere", "cart_abandoned", "2026-03-07T15:00:00Z")   # no zone: the journey's, Tokyo
    world.advance_to("2026-03-10T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("ny")] == [t("2026-03-09T13:00:00Z")]        # Mon 09:00 EDT
    assert [m["sent_at"] for m in world.sent("nowhere")] == [t("2026-03-09T00:00:00Z")]   # Mon 09:00 JST


def test_wait_until_a_date_and_a_past_date_goes_on_at_once(world):
    world.contacts(PEOPLE)
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "until_date", "until": "2026-03-05T12:00:00+01:00"})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("paris", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ny", "cart_abandoned", "2026-03-06T10:00:00Z")
    assert [m["sent_at"] for m in world.sent("paris")] == [t("2026-03-05T11:00:00Z")]
    assert [m["sent_at"] for m in world.sent("ny")] == [t("2026-03-06T10:00:00Z")]


def test_scheduled_send_waits_for_its_time(world):
    world.contacts(PEOPLE)
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey, timing="scheduled", send_at="2026-03-04T10:00:00Z"))
    world.install(journey)
    world.event("paris", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.advance_to("2026-03-05T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("paris")] == [t("2026-03-04T10:00:00Z")]
    assert world.log("paris", "deferred")[0]["reason"] == "scheduled"


def test_local_time_helpers_across_gaps_and_folds():
    paris = zone("Europe/Paris")
    # 02:30 does not exist on 29 March: moved forward by the gap, never earlier.
    assert local_to_utc(t("2026-03-29T00:00:00Z").date(), __import__("datetime").time(2, 30), paris) \
        == t("2026-03-29T01:30:00Z")
    assert quiet_until(t("2026-03-02T12:00:00Z"), paris, "21:00", "08:00") is None
    assert quiet_until(t("2026-03-03T05:00:00Z"), paris, "21:00", "08:00") == t("2026-03-03T07:00:00Z")
    assert quiet_until(t("2026-03-03T05:00:00Z"), paris, "13:00", "15:00") is None   # a window inside one day
    assert next_time_of_day(t("2026-10-24T08:00:00Z"), "09:00", paris, ["sun"]) == t("2026-10-25T08:00:00Z")
    assert add_local_days(t("2026-10-24T08:00:00Z"), 1, paris) == t("2026-10-25T09:00:00Z")   # 25 h
