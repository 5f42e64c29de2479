"""Entering and leaving: triggers, audience, entry rules, time-based scans, exit conditions."""
from __future__ import annotations

from sqlalchemy import select

from app.store.tables import contacts, scan_cursors

from .helpers import CONTACTS, chain, send_node, simple_journey, t


def sending(**settings):
    journey = simple_journey(**settings)
    chain(journey, journey.trigger(), send_node(journey))
    return journey


def test_trigger_conditions_and_audience_pick_who_enters(world):
    world.contacts(CONTACTS)
    journey = sending()
    trigger = journey.trigger()
    trigger.config["conditions"] = [{"source": "event", "field": "total", "op": "at_least", "value": "50"}]
    trigger.config["audience"]["exclude_tags"] = ["vip"]
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", total=20)    # too small
    world.event("ann", "cart_abandoned", "2026-03-02T11:00:00Z", total=80)
    world.event("cho", "cart_abandoned", "2026-03-02T11:00:00Z", total=80)    # excluded by tag
    assert [r["contact_id"] for r in world.runs()] == ["ann"]


def test_an_event_for_an_unknown_contact_creates_it(world):
    world.install(sending())
    world.event("newbie", "cart_abandoned", "2026-03-02T10:00:00Z")
    with world.db.connect() as conn:
        assert conn.execute(select(contacts.c.id)).scalars().all() == ["newbie"]
    assert world.log("newbie", "skipped")[0]["reason"] == "no_address"


def test_entry_once(world):
    world.contacts(CONTACTS)
    world.install(sending(entry={"mode": "once"}))
    for day in ("02", "03", "04"):
        world.event("ann", "cart_abandoned", f"2026-03-{day}T10:00:00Z")
    assert len(world.runs("ann")) == 1


def test_entry_not_in_journey_ignores_a_retrigger_while_inside(world):
    world.contacts(CONTACTS)
    journey = simple_journey(entry={"mode": "not_in_journey"}, retrigger="ignore")
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 2, "unit": "days"}})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-03T10:00:00Z")     # inside: ignored
    world.event("ann", "cart_abandoned", "2026-03-05T10:00:00Z")     # finished: may enter again
    assert [r["entered_at"] for r in world.runs("ann")] == [t("2026-03-02T10:00:00Z"), t("2026-03-05T10:00:00Z")]


def test_entry_every_time_runs_side_by_side(world):
    world.contacts(CONTACTS)
    journey = simple_journey(event="order_placed", entry={"mode": "every_time"}, retrigger="ignore")
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), wait, send_node(journey, subject="Thanks for {{ event.order_id }}"))
    world.install(journey)
    world.event("ann", "order_placed", "2026-03-02T10:00:00Z", total=10, order_id="A1")
    world.event("ann", "order_placed", "2026-03-02T12:00:00Z", total=10, order_id="A2")
    world.advance_to("2026-03-04T00:00:00Z")
    assert [m["subject"] for m in world.sent("ann")] == ["Thanks for A1", "Thanks for A2"]


def test_entry_again_after_days(world):
    world.contacts(CONTACTS)
    world.install(sending(entry={"mode": "after_days", "days": 30}))
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-20T10:00:00Z")    # 18 days later: no
    world.event("ann", "cart_abandoned", "2026-04-02T10:00:00Z")    # 31 days later: yes
    assert len(world.runs("ann")) == 2


def test_exit_condition_with_conditions_exits_only_on_a_match(world):
    world.contacts(CONTACTS)
    journey = simple_journey(exit_conditions=[{"event": "order_placed", "conditions": [
        {"source": "event", "field": "total", "op": "greater_than", "value": "100"}]}])
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "order_placed", "2026-03-02T12:00:00Z", total=20)
    world.event("cho", "order_placed", "2026-03-02T12:00:00Z", total=200)
    world.advance_to("2026-03-04T00:00:00Z")
    assert len(world.sent("ann")) == 1 and world.sent("cho") == []
    assert world.runs("cho")[0]["exit_reason"] == "exit_condition"


def test_unsubscribing_from_everything_exits_at_once(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "unsubscribed", "2026-03-02T11:00:00Z")                  # all channels
    world.event("cho", "unsubscribed", "2026-03-02T11:00:00Z", channel="sms")   # one channel: stays
    world.advance_to("2026-03-04T00:00:00Z")
    assert world.runs("ann")[0]["exit_reason"] == "unsubscribed" and world.messages("ann") == []
    assert len(world.sent("cho")) == 1


def test_resubscribing_lets_messages_through_again(world):
    world.contacts(CONTACTS)                                      # bob is unsubscribed from email
    world.install(sending())
    world.event("bob", "subscribed", "2026-03-02T09:30:00Z", channel="email")
    world.event("bob", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert len(world.sent("bob")) == 1


def test_no_order_scan_enters_once_when_the_days_pass_and_reads_incrementally(world):
    world.contacts(CONTACTS)
    journey = sending()
    journey.trigger().config.update(mode="no_order", days=30)
    world.install(journey)
    world.event("ann", "order_placed", "2026-03-02T10:00:00Z", total=10)
    world.event("cho", "order_placed", "2026-03-10T10:00:00Z", total=10)
    # 30 calendar days in London: 2 March 10:00 GMT → 1 April 10:00 BST, which is 09:00 UTC.
    world.advance_to("2026-04-01T08:59:00Z")
    assert world.runs() == []
    world.advance_to("2026-04-01T09:00:00Z")
    assert [r["contact_id"] for r in world.runs()] == ["ann"]
    world.advance_to("2026-04-02T10:00:00Z")
    world.advance_to("2026-04-20T10:00:00Z")                     # repeated scans do not re-enter ann
    assert sorted(r["contact_id"] for r in world.runs()) == ["ann", "cho"]
    with world.db.connect() as conn:
        assert conn.execute(select(scan_cursors.c.scanned_at)).scalar() == t("2026-04-20T10:00:00Z")


def test_spend_trigger_fires_when_lifetime_spend_crosses_the_threshold(world):
    world.contacts(CONTACTS)
    journey = sending(entry={"mode": "once"})
    journey.trigger().config.update(mode="spend", threshold=500)
    world.install(journey)
    world.event("ann", "order_placed", "2026-03-02T10:00:00Z", total=300)
    assert world.runs() == []
    world.event("ann", "order_placed", "2026-03-03T10:00:00Z", total=250)
    world.event("ann", "order_placed", "2026-03-04T10:00:00Z", total=250)
    [run] = world.runs()
    assert run["entered_at"] == t("2026-03-03T10:00:00Z")


def test_anniversary_trigger_enters_on_the_day(world):
    world.contacts("id,email,first_name,birthday\nann,a@example.com,Ann,1990-03-04\nbo,b@example.com,Bo,1985-07-01\n")
    journey = sending()
    journey.trigger().config.update(mode="anniversary", date_attribute="birthday")
    world.install(journey)
    world.advance_to("2026-03-03T00:30:00Z")
    assert world.runs() == []
    world.advance_to("2026-03-04T00:30:00Z")
    assert [r["contact_id"] for r in world.runs()] == ["ann"]
    world.advance_to("2026-03-04T12:00:00Z")
    assert len(world.runs()) == 1


def test_an_anniversary_begins_at_local_midnight_in_each_contacts_time_zone(world):
    world.contacts("id,email,timezone,birthday\n"
                   "tokyo,t@example.com,Asia/Tokyo,1990-03-04\n"
                   "la,l@example.com,America/Los_Angeles,1990-03-04\n"
                   "utc,u@example.com,,1990-03-04\n")
    journey = sending()
    journey.trigger().config.update(mode="anniversary", date_attribute="birthday")
    world.install(journey)

    def entered() -> list[str]:
        return sorted(r["contact_id"] for r in world.runs())

    world.advance_to("2026-03-03T14:59:00Z")
    assert entered() == []
    world.advance_to("2026-03-03T15:00:00Z")          # midnight of the 4th in Tokyo
    assert entered() == ["tokyo"]
    world.advance_to("2026-03-04T07:59:00Z")          # the 4th in UTC, still the 3rd in Los Angeles
    assert entered() == ["tokyo", "utc"]
    world.advance_to("2026-03-04T08:00:00Z")
    assert entered() == ["la", "tokyo", "utc"]
    world.advance_to("2026-03-06T08:00:00Z")
    assert len(world.runs()) == 3


def test_a_29_february_anniversary_falls_on_the_28th_in_other_years(world):
    world.contacts("id,email,birthday\nleap,l@example.com,2000-02-29\nother,o@example.com,2000-03-01\n")
    journey = sending()
    journey.trigger().config.update(mode="anniversary", date_attribute="birthday")
    world.install(journey)
    world.advance_to("2027-02-27T12:00:00Z")
    assert world.runs() == []
    world.advance_to("2027-02-28T00:30:00Z")
    assert [r["contact_id"] for r in world.runs()] == ["leap"]


def test_manual_send_at_a_set_time_reaches_the_audience_once(world):
    world.contacts(CONTACTS)
    journey = sending()
    journey.trigger().config.update(mode="manual", send="scheduled", send_at="2026-03-05T09:00:00Z")
    journey.trigger().config["audience"]["reachable_on"] = "email"
    world.install(journey)
    world.advance_to("2026-03-05T08:59:00Z")
    assert world.runs() == []
    world.advance_to("2026-03-05T09:00:00Z")
    world.advance_to("2026-03-06T09:00:00Z")
    assert sorted(r["contact_id"] for r in world.runs()) == ["ann", "cho"]   # bob cannot get email
