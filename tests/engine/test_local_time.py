"""Issue 8 §7 and §8: one notion of local time, one notion of "days".

§7: every local-time rule uses the contact's zone, else the journey's, else the business's
(stored in the database), and UTC only when none is set.
§8: "N days" is N calendar days in that zone everywhere (waits, message-status windows,
conversion and goal windows, entry and no-order rules); hours and minutes are exact.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.engine.timeutil import add_duration, contact_zone, subtract_duration
from app.journey.fileformat import from_document, to_document
from app.store.app_settings import business_timezone, set_business_timezone
from app.store.errors import StoreError
from app.store.tables import contacts

from .helpers import chain, send_node, simple_journey, t

PEOPLE = """id,email,phone,first_name,timezone,subscribed
berlin,b@example.com,+491,Bea,Europe/Berlin,all
sydney,s@example.com,+612,Sam,Australia/Sydney,all
ny,n@example.com,+1212,Ned,America/New_York,all
nowhere,x@example.com,+1999,Xan,,all
bogus,y@example.com,+1998,Yul,,all
"""
BERLIN, NEW_YORK, SYDNEY = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Australia/Sydney")


def local(text: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def days(n: int, unit: str = "days") -> dict:
    return {"amount": n, "unit": unit}


# --- the helpers ------------------------------------------------------------------

def test_contact_zone_prefers_contact_then_journey_then_business_then_utc():
    assert contact_zone("Asia/Tokyo", "Europe/Paris", "America/New_York") == ZoneInfo("Asia/Tokyo")
    assert contact_zone(None, "Europe/Paris", "America/New_York") == ZoneInfo("Europe/Paris")
    assert contact_zone("", "", "America/New_York") == ZoneInfo("America/New_York")
    assert contact_zone("Mars/Olympus", "", "America/New_York") == ZoneInfo("America/New_York")  # invalid: skipped
    assert contact_zone(None, "", "") == ZoneInfo("UTC")
    assert contact_zone(None) == ZoneInfo("UTC")


@pytest.mark.parametrize("start, duration, tz, end, hours", [
    # Berlin, autumn: 2 calendar days from 23 Oct 10:00 CEST end 25 Oct 10:00 CET (49 h).
    ("2026-10-23T10:00:00", days(2), BERLIN, "2026-10-25T10:00:00", 49),
    # Berlin, spring: 1 day from 28 Mar 09:00 CET is 29 Mar 09:00 CEST (23 h).
    ("2026-03-28T09:00:00", days(1), BERLIN, "2026-03-29T09:00:00", 23),
    # Sydney, autumn (5 April 2026, 03:00 → 02:00): 1 day is 25 h.
    ("2026-04-04T10:00:00", days(1), SYDNEY, "2026-04-05T10:00:00", 25),
    # Sydney, spring (4 October 2026): 1 day is 23 h.
    ("2026-10-03T10:00:00", days(1), SYDNEY, "2026-10-04T10:00:00", 23),
    # New York: a week across 8 March is 167 h; weeks are calendar days too.
    ("2026-03-02T09:00:00", days(1, "weeks"), NEW_YORK, "2026-03-09T09:00:00", 167),
])
def test_days_and_weeks_are_calendar_days_at_the_same_local_time(start, duration, tz, end, hours):
    begin = local(start, tz)
    found = add_duration(begin, duration, tz)
    assert found == local(end, tz)
    assert found - begin == timedelta(hours=hours)
    assert subtract_duration(found, duration, tz) == begin


@pytest.mark.parametrize("unit, amount", [("hours", 24), ("minutes", 1440), ("hours", 49)])
def test_hours_and_minutes_are_exact_across_dst(unit, amount):
    begin = local("2026-10-24T10:00:00", BERLIN)
    assert add_duration(begin, days(amount, unit), BERLIN) - begin == timedelta(minutes=amount * (60 if unit == "hours" else 1))


# --- the business time zone -----------------------------------------------------------

def test_the_business_time_zone_is_stored_in_the_database_and_checked(world):
    assert business_timezone(world.db) is None
    set_business_timezone(world.db, " America/New_York ")
    assert business_timezone(world.db) == "America/New_York"
    with pytest.raises(StoreError, match="not a time zone"):
        set_business_timezone(world.db, "America/Nowhere")
    assert business_timezone(world.db) == "America/New_York"


def sms_after_evening_wait(**settings):
    """The issue's example: wait until 20:30, then an SMS under quiet hours 21:00–08:00."""
    journey = simple_journey(quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"}, **settings)
    wait = journey.add_node("wait", {"mode": "time_of_day", "time": "20:30"})
    chain(journey, journey.trigger(), wait, send_node(journey, channel="sms", subject="Tonight only"))
    return journey


def test_issue_example_quiet_hours_and_the_wait_use_the_same_business_zone(world):
    world.contacts(PEOPLE)
    set_business_timezone(world.db, "America/New_York")
    world.install(sms_after_evening_wait())
    world.event("nowhere", "cart_abandoned", "2026-03-02T15:00:00Z")      # 10:00 in New York
    world.advance_to("2026-03-04T00:00:00Z")
    # 20:30 New York (EST) = 01:30 UTC, outside New York's quiet hours: it goes at once, not at 04:00 New York.
    assert [m["sent_at"] for m in world.sent("nowhere")] == [t("2026-03-03T01:30:00Z")]
    assert world.log("nowhere", "deferred") == []


def test_a_journey_zone_overrides_the_business_zone_and_the_contacts_own_zone_wins(world):
    world.contacts(PEOPLE)
    with world.db.begin() as conn:      # a zone the import would refuse, written by another tool
        conn.execute(contacts.update().where(contacts.c.id == "bogus").values(timezone="Mars/Olympus"))
    set_business_timezone(world.db, "America/New_York")
    world.install(sms_after_evening_wait(timezone="Europe/Berlin"))
    for who in ("nowhere", "bogus", "sydney"):
        world.event(who, "cart_abandoned", "2026-03-02T06:00:00Z")
    world.advance_to("2026-03-04T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("nowhere")] == [t("2026-03-02T19:30:00Z")]   # 20:30 CET
    assert [m["sent_at"] for m in world.sent("bogus")] == [t("2026-03-02T19:30:00Z")]     # unknown zone: skipped
    assert [m["sent_at"] for m in world.sent("sydney")] == [t("2026-03-02T09:30:00Z")]    # 20:30 AEDT


def test_without_any_zone_set_quiet_hours_are_judged_in_utc(world):
    world.contacts(PEOPLE)
    world.install(sms_after_evening_wait())
    world.event("nowhere", "cart_abandoned", "2026-03-02T15:00:00Z")
    world.advance_to("2026-03-04T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("nowhere")] == [t("2026-03-02T20:30:00Z")]


def test_a_wait_written_with_its_own_fallback_zone_keeps_it_for_the_whole_journey(world):
    """Files from before: the wait's "fallback time zone" (New York) becomes the journey's zone,
    so quiet hours are judged there too instead of in UTC."""
    document = to_document(sms_after_evening_wait())
    for node in document["nodes"]:
        if node["kind"] == "wait":
            node["kind_version"] = 1
            node["config"]["timezone"] = "America/New_York"
    journey = from_document(document)
    assert journey.settings["timezone"] == "America/New_York"
    assert "timezone" not in next(n for n in journey.nodes.values() if n.kind == "wait").config
    world.contacts(PEOPLE)
    world.install(journey)
    world.event("nowhere", "cart_abandoned", "2026-03-02T15:00:00Z")
    world.advance_to("2026-03-04T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("nowhere")] == [t("2026-03-03T01:30:00Z")]


def test_a_journey_built_with_a_waits_own_zone_judges_quiet_hours_there_too(world):
    """The issue's example as it was built: the wait names New York, nothing else is set."""
    world.contacts(PEOPLE)
    journey = sms_after_evening_wait()
    next(n for n in journey.nodes.values() if n.kind == "wait").config["timezone"] = "America/New_York"
    world.install(journey)
    world.event("nowhere", "cart_abandoned", "2026-03-02T15:00:00Z")
    world.advance_to("2026-03-04T00:00:00Z")
    # 20:30 New York, not held until 08:00 UTC as quiet hours judged in UTC would.
    assert [m["sent_at"] for m in world.sent("nowhere")] == [t("2026-03-03T01:30:00Z")]
    assert world.log("nowhere", "deferred") == []


def test_an_old_wait_with_the_default_utc_fallback_uses_the_business_zone():
    document = to_document(sms_after_evening_wait())
    for node in document["nodes"]:
        if node["kind"] == "wait":
            node["kind_version"], node["config"]["timezone"] = 1, "UTC"
    assert from_document(document).settings["timezone"] == ""


def test_a_scheduled_send_is_held_by_quiet_hours_in_the_business_zone(world):
    world.contacts(PEOPLE)
    set_business_timezone(world.db, "America/New_York")
    journey = simple_journey(quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"})
    chain(journey, journey.trigger(), send_node(journey, timing="scheduled", send_at="2026-03-05T03:00:00Z"))
    world.install(journey)
    world.event("nowhere", "cart_abandoned", "2026-03-02T15:00:00Z")
    world.advance_to("2026-03-06T00:00:00Z")
    # 03:00 UTC is 22:00 in New York: held until 08:00 there (13:00 UTC), not sent at 03:00 UTC.
    assert [m["sent_at"] for m in world.sent("nowhere")] == [t("2026-03-05T13:00:00Z")]


def test_next_window_timing_uses_the_business_zone(world):
    world.contacts(PEOPLE)
    set_business_timezone(world.db, "Asia/Tokyo")
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey, timing="next_window"))
    world.install(journey)
    world.event("nowhere", "cart_abandoned", "2026-03-02T14:00:00Z")     # 23:00 in Tokyo
    world.advance_to("2026-03-04T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("nowhere")] == [t("2026-03-02T23:00:00Z")]   # 08:00 JST


def test_an_anniversary_begins_at_midnight_in_the_business_zone_for_contacts_without_one(world):
    world.contacts("id,email,birthday\nann,a@example.com,1990-03-04\n")
    set_business_timezone(world.db, "Asia/Tokyo")
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    journey.trigger().config.update(mode="anniversary", date_attribute="birthday")
    world.install(journey)
    world.advance_to("2026-03-03T14:59:00Z")
    assert world.runs() == []
    world.advance_to("2026-03-03T15:00:00Z")                              # midnight of the 4th in Tokyo
    assert [r["contact_id"] for r in world.runs()] == ["ann"]


def test_no_order_for_n_days_counts_calendar_days_in_the_business_zone(world):
    world.contacts("id,email\nann,a@example.com\n")
    set_business_timezone(world.db, "Europe/Berlin")
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    journey.trigger().config.update(mode="no_order", days=30)
    world.install(journey)
    world.event("ann", "order_placed", "2026-03-10T09:00:00Z", total=5)   # 10:00 CET
    world.advance_to("2026-04-09T07:59:00Z")
    assert world.runs() == []
    world.advance_to("2026-04-09T08:00:00Z")                              # 9 April 10:00 CEST: 30 local days
    assert [r["contact_id"] for r in world.runs()] == ["ann"]
    assert world.engine.next_wake() is None or world.engine.next_wake() > t("2026-04-09T08:00:00Z")


def test_the_engine_reads_a_changed_business_zone_at_the_next_batch(world):
    world.contacts(PEOPLE)
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "time_of_day", "time": "09:00"})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("nowhere", "cart_abandoned", "2026-03-02T10:00:00Z")      # UTC: next 09:00 UTC
    set_business_timezone(world.db, "America/New_York")
    world.event("nowhere", "cart_abandoned", "2026-03-02T10:00:01Z")      # ignored (inside)
    other = simple_journey(name="Second")
    wait2 = other.add_node("wait", {"mode": "time_of_day", "time": "09:00"})
    chain(other, other.trigger(), wait2, send_node(other))
    world.install(other)
    world.event("nowhere", "cart_abandoned", "2026-03-02T10:05:00Z")
    world.advance_to("2026-03-04T00:00:00Z")
    # The first run's wait was set in UTC; the second journey's, entered after the change, in New York.
    assert sorted(m["sent_at"] for m in world.sent("nowhere")) == [t("2026-03-02T14:00:00Z"),
                                                                    t("2026-03-03T09:00:00Z")]


# --- "days" ---------------------------------------------------------------------------

def status_after_wait(window: dict, wait: dict | None):
    journey = simple_journey()
    email = send_node(journey, subject="Offer")
    nodes = [journey.trigger(), email]
    if wait is not None:
        nodes.append(journey.add_node("wait", {"mode": "duration", "delay": wait}))
    branch = journey.add_node("message_status", {"step": email.id, "status": "opened", "window": window})
    chain(journey, *nodes, branch)
    return journey


@pytest.mark.parametrize("opened, outcome", [
    ("2026-10-25T09:30:00+01:00", "yes"),     # 48.5 h after the send: within 2 calendar days
    ("2026-10-25T10:00:00+01:00", "yes"),     # the very instant both end
    ("2026-10-25T10:30:00+01:00", "no"),      # after the wait and the window ended
])
def test_issue_example_berlin_wait_and_window_of_2_days_end_at_the_same_instant(world, opened, outcome):
    world.contacts(PEOPLE)
    world.install(status_after_wait(days(2), days(2)))
    world.event("berlin", "cart_abandoned", "2026-10-23T08:00:00Z")       # 23 Oct 10:00 CEST
    world.advance_to("2026-10-25T08:59:59Z")
    assert world.log("berlin", "branched") == []
    world.event("berlin", "message_opened", opened)
    world.advance_to("2026-10-27T00:00:00Z")
    [waited] = [r for r in world.log("berlin", "waited") if r["detail"]]
    assert waited["detail"]["until"] == "2026-10-25T09:00:00Z"           # 25 Oct 10:00 CET
    [branched] = world.log("berlin", "branched")
    assert branched["outcome"] == outcome
    assert branched["at"] == t("2026-10-25T09:00:00Z")


def test_a_days_window_without_a_wait_closes_at_the_calendar_day_mark(world):
    world.contacts(PEOPLE)
    world.install(status_after_wait(days(1), None))
    world.event("sydney", "cart_abandoned", "2026-04-03T23:00:00Z")       # 4 April 10:00 AEDT
    world.advance_to("2026-04-04T23:30:00Z")                              # 24.5 h later, 09:30 AEST
    assert world.log("sydney", "branched") == []
    world.advance_to("2026-04-05T00:00:00Z")                              # 5 April 10:00 AEST (25 h)
    assert [b["outcome"] for b in world.log("sydney", "branched")] == ["no"]


def test_an_hours_window_is_exact_across_dst(world):
    world.contacts(PEOPLE)
    world.install(status_after_wait(days(48, "hours"), None))
    world.event("berlin", "cart_abandoned", "2026-10-23T08:00:00Z")
    world.advance_to("2026-10-25T08:00:00Z")                              # exactly 48 h
    [branched] = world.log("berlin", "branched")
    assert (branched["outcome"], branched["at"]) == ("no", t("2026-10-25T08:00:00Z"))


def test_a_wait_of_weeks_keeps_the_local_time(world):
    world.contacts(PEOPLE)
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "duration", "delay": days(1, "weeks")})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("ny", "cart_abandoned", "2026-03-02T14:00:00Z")            # 09:00 EST
    world.advance_to("2026-03-10T00:00:00Z")
    assert [m["sent_at"] for m in world.sent("ny")] == [t("2026-03-09T13:00:00Z")]   # 09:00 EDT


@pytest.mark.parametrize("ordered, converted", [
    ("2026-10-25T09:30:00+01:00", True),      # 48.5 h after the message, within 2 calendar days
    ("2026-10-25T10:30:00+01:00", False),
])
def test_conversion_and_goal_windows_count_calendar_days(world, ordered, converted):
    world.contacts(PEOPLE)
    journey = simple_journey(goal={"enabled": True, "event": "order_placed", "window": days(2)},
                             conversion_window=days(2))
    wait = journey.add_node("wait", {"mode": "duration", "delay": days(10)})
    chain(journey, journey.trigger(), send_node(journey), wait)
    world.install(journey)
    world.event("berlin", "cart_abandoned", "2026-10-23T08:00:00Z")       # 10:00 CEST
    world.event("berlin", "order_placed", ordered, total=20)
    assert bool(world.log("berlin", "converted")) is converted
    assert bool(world.log("berlin", "goal")) is converted


@pytest.mark.parametrize("ordered, converted", [
    ("2026-03-29T03:15:00+02:00", True),      # before the 1-day mark, which the spring gap moved to 03:30
    ("2026-03-29T03:30:00+02:00", True),      # the very instant a 1-day wait from the message ends
    ("2026-03-29T03:31:00+02:00", False),
])
def test_conversion_and_goal_windows_end_where_a_wait_of_the_same_days_ends_even_beside_a_gap(
        world, ordered, converted):
    """A message at 02:30 on 28 March in Berlin: one calendar day later, 02:30 does not exist (clocks jump
    from 02:00 to 03:00), so a 1-day wait ends at 03:30 CEST. Conversion and goal windows of 1 day end there
    too, not at a mark counted back from the order."""
    world.contacts(PEOPLE)
    journey = simple_journey(goal={"enabled": True, "event": "order_placed", "window": days(1)},
                             conversion_window=days(1))
    wait = journey.add_node("wait", {"mode": "duration", "delay": days(1)})
    chain(journey, journey.trigger(), send_node(journey), wait, journey.add_node("tag", {"add": ["waited"]}))
    world.install(journey)
    world.event("berlin", "cart_abandoned", "2026-03-28T01:30:00Z")       # 02:30 CET
    world.advance_to("2026-03-29T02:00:00Z")
    assert [r["at"] for r in world.log("berlin", "tagged")] == [t("2026-03-29T01:30:00Z")]    # the wait's end
    world.event("berlin", "order_placed", ordered, order_id="O-1", total=20)
    credited = [c["node_id"] for c in world.log("berlin", "converted")]
    assert len(credited) == (1 if converted else 0)
    assert bool(world.log("berlin", "goal")) is converted
