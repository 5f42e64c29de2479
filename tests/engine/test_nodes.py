"""Every node kind as a contact meets it: branches, tags, templates, the outbox."""
from __future__ import annotations

from sqlalchemy import select

from app.engine.handlers import HANDLERS
from app.engine.stats import journey_stats
from app.journey.registry import all_kinds
from app.store.journeys import JourneyStore
from app.store.tables import contact_tags, runs

from .helpers import CONTACTS, chain, send_node, simple_journey, t


def test_every_registered_kind_has_a_handler():
    assert {k.id for k in all_kinds()} <= set(HANDLERS)


def status_journey(status: str = "opened", hours: int = 24, wait_days: int = 0):
    journey = simple_journey()
    email = send_node(journey, subject="Look")
    nodes = [journey.trigger(), email]
    if wait_days:
        nodes.append(journey.add_node("wait", {"mode": "duration", "delay": {"amount": wait_days, "unit": "days"}}))
    branch = journey.add_node("message_status", {"step": email.id, "status": status,
                                                 "window": {"amount": hours, "unit": "hours"}})
    chain(journey, *nodes, branch)
    yes = journey.add_node("tag", {"add": ["engaged"]})
    no = send_node(journey, "sms", subject="Nudge")
    journey.connect(branch.id, yes.id, "yes")
    journey.connect(branch.id, no.id, "no")
    return journey, branch


def test_message_status_says_yes_at_the_moment_of_the_open(world):
    world.contacts(CONTACTS)
    journey, branch = status_journey()
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_opened", "2026-03-02T13:17:00Z")
    [branched] = world.log("ann", "branched")
    assert (branched["outcome"], branched["at"]) == ("yes", t("2026-03-02T13:17:00Z"))
    assert world.log("ann", "tagged")[0]["at"] == t("2026-03-02T13:17:00Z")
    with world.db.connect() as conn:
        assert "engaged" in set(conn.execute(select(contact_tags.c.tag).where(
            contact_tags.c.contact_id == "ann")).scalars())
    world.advance_to("2026-03-05T00:00:00Z")
    assert [m["channel"] for m in world.sent("ann")] == ["email"]


def test_message_status_says_no_exactly_when_the_window_ends(world):
    world.contacts(CONTACTS)
    journey, branch = status_journey(hours=24)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.advance_to("2026-03-03T09:59:59Z")
    assert world.log("ann", "branched") == []
    waiting = journey_stats(world.db, journey.id).nodes[branch.id]
    assert (waiting.entered, waiting.waiting) == (1, 1)
    world.advance_to("2026-03-03T10:00:00Z")
    [branched] = world.log("ann", "branched")
    assert (branched["outcome"], branched["at"]) == ("no", t("2026-03-03T10:00:00Z"))
    assert [m["channel"] for m in world.sent("ann")] == ["email", "sms"]
    world.event("ann", "message_opened", "2026-03-03T11:00:00Z")     # too late: nothing changes
    assert len(world.log("ann", "branched")) == 1


def test_the_window_is_counted_once_from_the_send_not_after_a_preceding_wait(world):
    """wait 7 days → clicked within 7 days: resolves on arrival (Mautic #12686 would wait 14)."""
    world.contacts(CONTACTS)
    journey, _ = status_journey(status="clicked", hours=7 * 24, wait_days=7)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.advance_to("2026-03-20T00:00:00Z")
    [branched] = world.log("ann", "branched")
    assert (branched["outcome"], branched["at"]) == ("no", t("2026-03-09T10:00:00Z"))


def test_a_click_during_the_wait_makes_the_branch_say_yes_on_arrival(world):
    world.contacts(CONTACTS)
    journey, _ = status_journey(status="clicked", hours=7 * 24, wait_days=3)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_clicked", "2026-03-03T08:00:00Z")
    world.advance_to("2026-03-06T00:00:00Z")
    [branched] = world.log("ann", "branched")
    assert (branched["outcome"], branched["at"]) == ("yes", t("2026-03-05T10:00:00Z"))


def test_feedback_names_its_message_by_id(world):
    world.contacts(CONTACTS)
    journey, _ = status_journey(status="delivered")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    [message] = world.messages("ann")
    world.event("ann", "message_delivered", "2026-03-02T10:00:05Z", message_id=message["id"])
    assert world.messages("ann")[0]["delivered_at"] == t("2026-03-02T10:00:05Z")
    assert world.log("ann", "branched")[0]["outcome"] == "yes"


def test_tag_adds_and_removes(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    chain(journey, journey.trigger(), journey.add_node("tag", {"add": ["buyer", "cart"], "remove": ["newsletter"]}))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    with world.db.connect() as conn:
        tags = set(conn.execute(select(contact_tags.c.tag).where(contact_tags.c.contact_id == "ann")).scalars())
    assert tags == {"buyer", "cart"}


def missing_journey(policy: str):
    journey = simple_journey()
    send = send_node(journey, subject="Hello from {{ contact.city }}", missing=policy, fallback="your town")
    chain(journey, journey.trigger(), send, journey.add_node("tag", {"add": ["after"]}))
    return journey, send


def test_missing_variable_fallback(world):
    world.contacts("id,email,first_name\nzed,z@example.com,Zed\n")
    world.install(missing_journey("fallback")[0])
    world.event("zed", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.sent("zed")[0]["subject"] == "Hello from your town"


def test_missing_variable_skip(world):
    world.contacts("id,email,first_name,city\nzed,z@example.com,Zed,\nyan,y@example.com,Yan,Oslo\n")
    journey, send = missing_journey("skip")
    world.install(journey)
    world.event("zed", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("yan", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.messages("zed") == [] and world.log("zed", "skipped")[0]["reason"] == "missing_variable"
    assert world.log("zed", "tagged")                                  # the run goes on
    assert world.sent("yan")[0]["subject"] == "Hello from Oslo"


def test_missing_variable_fail_stops_the_run(world):
    world.contacts("id,email,first_name\nzed,z@example.com,Zed\n")
    world.install(missing_journey("fail")[0])
    world.event("zed", "cart_abandoned", "2026-03-02T10:00:00Z")
    [run] = world.runs("zed")
    assert (run["status"], run["exit_reason"]) == ("exited", "error")
    assert world.log("zed", "failed")[0]["reason"] == "missing_variable" and not world.log("zed", "tagged")


def test_templates_compile_once_per_version_not_per_contact(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.engine.templates.compiles == 2           # subject and text (the html is empty)
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.engine.templates.compiles == 2           # the second contact compiles nothing
    assert {m["subject"] for m in world.sent()} == {"Hello Ann", "Hello Cho"}


def test_the_outbox_key_stops_a_repeated_step_from_sending_twice(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    send = send_node(journey)
    chain(journey, journey.trigger(), send)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    # Replay the step as a crashed-and-restarted engine might: same run, same node.
    with world.db.begin() as conn:
        conn.execute(runs.update().values(status="active", node_id=send.id, due_at=t("2026-03-02T10:00:00Z")))
    world.advance_to("2026-03-02T11:00:00Z")
    assert len(world.messages("ann")) == 1


def test_a_run_stays_on_the_version_it_entered_with(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    send = send_node(journey, subject="Version one")
    chain(journey, journey.trigger(), wait, send)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    send.config["subject"] = "Version two"
    world.install(journey)                                 # publishes version 2
    world.event("cho", "cart_abandoned", "2026-03-02T10:10:00Z")
    world.advance_to("2026-03-02T12:00:00Z")
    assert world.sent("ann")[0]["subject"] == "Version one"
    assert world.sent("cho")[0]["subject"] == "Version two"
    assert [r["version"] for r in world.runs()] == [1, 2]


def test_stopping_a_journey_exits_its_runs_and_cancels_what_is_queued(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    chain(journey, journey.trigger(), send_node(journey), wait, send_node(journey, subject="Later"))
    world.install(journey)
    world.clock.set(t("2026-03-02T10:00:00Z"))
    from app.engine.ingest import EventIn

    world.engine.ingest([EventIn("ann", "cart_abandoned", t("2026-03-02T10:00:00Z"))])   # not handed off yet
    assert world.engine.stop(journey.id) == 1
    world.advance_to("2026-03-03T00:00:00Z")
    assert [m["status"] for m in world.messages("ann")] == ["cancelled"]
    assert world.runs("ann")[0]["exit_reason"] == "journey_stopped"
    assert JourneyStore(world.db).get(journey.id).status == "stopped"


def test_an_exit_while_a_message_waits_out_quiet_hours_means_it_never_goes(world):
    world.contacts(CONTACTS)
    journey = simple_journey(quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"},
                             exit_conditions=[{"event": "order_placed", "conditions": []}])
    chain(journey, journey.trigger(), send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T22:00:00Z")      # 22:00 in London: deferred
    world.event("ann", "order_placed", "2026-03-03T07:00:00Z", total=12)
    world.advance_to("2026-03-04T00:00:00Z")
    assert world.messages("ann") == []
    assert [r["action"] for r in world.log("ann")] == ["entered", "deferred", "exited"]


def test_a_paused_journey_holds_its_runs_until_it_is_active_again(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    chain(journey, journey.trigger(), wait, send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    store = JourneyStore(world.db)
    store.set_status(journey.id, "paused")
    world.advance_to("2026-03-02T12:00:00Z")
    assert world.messages("ann") == []
    store.set_status(journey.id, "active")
    world.advance_to("2026-03-02T12:00:01Z")
    assert len(world.sent("ann")) == 1


def test_a_channel_error_marks_the_message_failed(world):
    class Broken:
        def send(self, message):
            return "mailbox unavailable"

    world.engine.channel = Broken()
    world.contacts(CONTACTS)
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    [message] = world.messages("ann")
    assert (message["status"], message["error"]) == ("failed", "mailbox unavailable")
    assert journey_stats(world.db, journey.id).nodes[list(journey.nodes)[1]].failed == 1


def test_a_branch_on_a_message_that_was_never_sent_says_no_at_once(world):
    world.contacts(CONTACTS)                                  # bob is unsubscribed from email
    journey, branch = status_journey()
    world.install(journey)
    world.event("bob", "cart_abandoned", "2026-03-02T10:00:00Z")
    [branched] = world.log("bob", "branched")
    assert (branched["outcome"], branched["reason"], branched["at"]) == ("no", "no_message", t("2026-03-02T10:00:00Z"))
    assert [m["channel"] for m in world.sent("bob")] == ["sms"]


def test_reimporting_contacts_updates_fields_and_adds_tags(world):
    world.contacts(CONTACTS)
    world.contacts("id,email,first_name,tags,city\nann,ann@new.example,,vip,Leeds\n")
    from app.engine.context import load_contacts

    with world.db.connect() as conn:
        ann = load_contacts(conn, ["ann"])["ann"]
    assert ann.fields["email"] == "ann@new.example" and ann.fields["first_name"] == "Ann"   # empty keeps
    assert ann.tags == {"newsletter", "vip"} and ann.attributes["city"] == "Leeds"
