"""Issue 8 §6: the entry rule is checked before the re-trigger policy, in every mode.

A trigger the entry rule refuses changes nothing: no restart, no exit of the current run,
no message sent again. "Again after N days" counts calendar days in the contact's zone.
"""
from __future__ import annotations

import pytest

from .helpers import CONTACTS, chain, send_node, simple_journey, t


def long_journey(mode: str, retrigger: str, days: int = 30):
    """trigger → "Welcome" → wait 90 days → "Later": a contact stays inside for a long time."""
    journey = simple_journey(entry={"mode": mode, "days": days}, retrigger=retrigger)
    first = send_node(journey, subject="Welcome")
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 90, "unit": "days"}})
    chain(journey, journey.trigger(), first, wait, send_node(journey, subject="Later"))
    return journey


def statuses(world, contact: str = "ann") -> list[tuple[str, str | None]]:
    return [(r["status"], r["exit_reason"]) for r in world.runs(contact)]


def test_issue_example_again_after_30_days_with_restart_refuses_a_trigger_the_next_day(world):
    world.contacts(CONTACTS)
    world.install(long_journey("after_days", "restart"))
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-03T10:00:00Z")          # day 1: the entry rule says no
    assert statuses(world) == [("active", None)]                            # not restarted, not exited
    assert [m["subject"] for m in world.sent("ann")] == ["Welcome"]         # the first message does not go again
    assert world.log("ann", "exited") == []


def test_again_after_30_days_with_restart_restarts_on_day_31(world):
    world.contacts(CONTACTS)
    world.install(long_journey("after_days", "restart"))
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-20T10:00:00Z")          # day 18: refused
    world.event("ann", "cart_abandoned", "2026-04-02T10:00:00Z")          # day 31: restarts
    assert statuses(world) == [("exited", "re_triggered"), ("active", None)]
    assert [m["subject"] for m in world.sent("ann")] == ["Welcome", "Welcome"]


def test_again_after_30_days_with_parallel_adds_a_run_only_when_the_days_have_passed(world):
    world.contacts(CONTACTS)
    world.install(long_journey("after_days", "parallel"))
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-03T10:00:00Z")          # refused
    assert statuses(world) == [("active", None)]
    world.event("ann", "cart_abandoned", "2026-04-02T10:00:00Z")
    assert statuses(world) == [("active", None), ("active", None)]
    assert len(world.sent("ann")) == 2


def test_again_after_30_days_with_ignore_neither_restarts_nor_adds(world):
    world.contacts(CONTACTS)
    world.install(long_journey("after_days", "ignore"))
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-04-02T10:00:00Z")          # allowed by the rule, but inside
    assert statuses(world) == [("active", None)]


@pytest.mark.parametrize("retrigger", ["ignore", "restart", "parallel"])
def test_once_refuses_every_later_trigger_in_every_mode(world, retrigger):
    world.contacts(CONTACTS)
    world.install(long_journey("once", retrigger))
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-03T10:00:00Z")          # inside
    world.event("ann", "cart_abandoned", "2026-09-01T10:00:00Z")          # long finished
    assert statuses(world) == [("completed", None)]
    assert [m["subject"] for m in world.sent("ann")] == ["Welcome", "Later"]


def test_once_with_restart_after_the_run_ended_still_refuses(world):
    world.contacts(CONTACTS)
    journey = simple_journey(entry={"mode": "once"}, retrigger="restart")
    chain(journey, journey.trigger(), send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-02T11:00:00Z")
    assert statuses(world) == [("completed", None)] and len(world.sent("ann")) == 1


@pytest.mark.parametrize("retrigger", ["ignore", "parallel"])
def test_not_in_journey_never_has_a_contact_inside_twice_even_with_parallel(world, retrigger):
    """"Any time they are not already in this journey": a trigger while inside starts no second run beside
    the first, whatever the policy says; once the run is over, the next trigger enters again."""
    world.contacts(CONTACTS)
    world.install(long_journey("not_in_journey", retrigger))
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-03T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-05-01T10:00:00Z")
    assert statuses(world) == [("active", None)]
    assert [m["subject"] for m in world.sent("ann")] == ["Welcome"] and world.log("ann", "exited") == []
    world.event("ann", "cart_abandoned", "2026-06-02T10:00:00Z")          # 92 days: the first run completed
    assert statuses(world) == [("completed", None), ("active", None)]
    assert [m["subject"] for m in world.sent("ann")] == ["Welcome", "Later", "Welcome"]


def test_not_in_journey_with_restart_replaces_the_run_so_the_contact_is_never_inside_twice(world):
    world.contacts(CONTACTS)
    world.install(long_journey("not_in_journey", "restart"))
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-03T10:00:00Z")
    assert statuses(world) == [("exited", "re_triggered"), ("active", None)]


def test_every_time_with_restart_restarts_and_with_parallel_runs_side_by_side(world):
    world.contacts(CONTACTS)
    world.install(long_journey("every_time", "restart"))
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-02T11:00:00Z")
    assert statuses(world) == [("exited", "re_triggered"), ("active", None)]
    other = long_journey("every_time", "parallel")
    other.name = "Parallel"
    world.install(other)
    world.event("cho", "cart_abandoned", "2026-03-02T12:00:00Z")
    world.event("cho", "cart_abandoned", "2026-03-02T13:00:00Z")
    mine = [r for r in world.runs("cho") if r["journey_id"] == other.id]
    assert [r["status"] for r in mine] == ["active", "active"]


def test_again_after_n_days_counts_calendar_days_in_the_contacts_zone(world):
    """ann lives in London: 30 days after 2 March 10:00 GMT is 1 April 10:00 BST = 09:00 UTC (719 h)."""
    world.contacts(CONTACTS)
    journey = simple_journey(entry={"mode": "after_days", "days": 30}, retrigger="restart")
    chain(journey, journey.trigger(), send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "cart_abandoned", "2026-04-01T08:59:00Z")          # 1 April 09:59 BST: not yet
    assert len(world.runs("ann")) == 1
    world.event("ann", "cart_abandoned", "2026-04-01T09:00:00Z")          # 10:00 BST: 30 local days
    assert [r["entered_at"] for r in world.runs("ann")] == [t("2026-03-02T10:00:00Z"), t("2026-04-01T09:00:00Z")]


def test_a_time_based_trigger_also_obeys_the_entry_rule_before_restarting(world):
    """A spend threshold crossed again (a second journey version would re-cross it) goes through the
    same gate: an anniversary a year later is refused by "once", whatever the policy."""
    world.contacts("id,email,first_name,birthday\nann,a@example.com,Ann,1990-03-04\n")
    journey = simple_journey(entry={"mode": "once"}, retrigger="restart")
    chain(journey, journey.trigger(), send_node(journey))
    journey.trigger().config.update(mode="anniversary", date_attribute="birthday")
    world.install(journey)
    world.advance_to("2026-03-04T12:00:00Z")
    world.advance_to("2027-03-04T12:00:00Z")
    assert statuses(world) == [("completed", None)]
