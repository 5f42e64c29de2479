"""Delivery feedback lands on the message it is about: the one `message_id` names, else the contact's
latest message on the event's channel (opens and clicks: email) — never a message of another channel."""
from __future__ import annotations

from app.engine.ingest import EventIn
from app.engine.simulator import simulate
from app.engine.importers import parse_contacts
from app.engine.stats import journey_stats

from .helpers import CONTACTS, chain, send_node, simple_journey, t


def email_then_sms(status: str = "opened", hours: int = 24):
    """Email at once, SMS two hours later, then "was the email <status> within <hours>?"."""
    journey = simple_journey()
    email = send_node(journey, subject="Your cart")
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 2, "unit": "hours"}})
    sms = send_node(journey, "sms", subject="Still thinking?")
    branch = journey.add_node("message_status", {"step": email.id, "status": status,
                                                 "window": {"amount": hours, "unit": "hours"}})
    chain(journey, journey.trigger(), email, wait, sms, branch)
    yes = journey.add_node("tag", {"add": ["engaged"]})
    no = journey.add_node("tag", {"add": ["cold"]})
    journey.connect(branch.id, yes.id, "yes")
    journey.connect(branch.id, no.id, "no")
    return journey, email, sms, branch


def by_channel(world, contact: str) -> dict[str, dict]:
    return {m["channel"]: m for m in world.messages(contact)}


def test_an_open_without_message_id_marks_the_email_not_the_later_sms(world):
    """The issue's example: email 10:00, SMS 12:00, message_opened 13:00 without message_id."""
    world.contacts(CONTACTS)
    journey, email, sms, branch = email_then_sms()
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.advance_to("2026-03-02T12:30:00Z")
    assert sorted(by_channel(world, "ann")) == ["email", "sms"]
    done = world.event("ann", "message_opened", "2026-03-02T13:00:00Z")
    assert done.unmatched == 0
    messages = by_channel(world, "ann")
    assert messages["email"]["opened_at"] == t("2026-03-02T13:00:00Z") and messages["email"]["status"] == "opened"
    assert messages["sms"]["opened_at"] is None and messages["sms"]["status"] == "sent"
    [branched] = world.log("ann", "branched")
    assert (branched["outcome"], branched["at"]) == ("yes", t("2026-03-02T13:00:00Z"))
    stats = journey_stats(world.db, journey.id)
    assert stats.nodes[email.id].opened == 1 and stats.nodes[sms.id].opened == 0


def test_a_click_without_message_id_marks_the_email_even_when_everything_is_in_one_batch(world):
    """The SMS is queued by the same batch (not in SQL yet) and is newer: the click still goes to the email."""
    world.contacts(CONTACTS)
    journey, _, _, _ = email_then_sms(status="clicked")
    world.install(journey)
    world.clock.set(t("2026-03-02T13:00:00Z"))
    world.engine.ingest([EventIn("ann", "cart_abandoned", t("2026-03-02T10:00:00Z")),
                         EventIn("ann", "message_clicked", t("2026-03-02T13:00:00Z"))])
    world.engine.hand_off()
    messages = by_channel(world, "ann")
    assert messages["email"]["clicked_at"] == t("2026-03-02T13:00:00Z")
    assert messages["sms"]["clicked_at"] is None
    assert world.log("ann", "branched")[0]["outcome"] == "yes"


def test_a_reply_names_its_channel(world):
    world.contacts(CONTACTS)
    journey, _, _, _ = email_then_sms()
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_replied", "2026-03-02T12:05:00Z", channel="sms")
    messages = by_channel(world, "ann")
    assert messages["sms"]["replied_at"] == t("2026-03-02T12:05:00Z") and messages["sms"]["status"] == "replied"
    assert messages["email"]["replied_at"] is None


def test_a_reply_on_email_goes_to_the_email_even_though_the_sms_is_newer(world):
    world.contacts(CONTACTS)
    journey, _, _, _ = email_then_sms(status="replied")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_replied", "2026-03-02T12:05:00Z", channel="email")
    messages = by_channel(world, "ann")
    assert messages["email"]["replied_at"] == t("2026-03-02T12:05:00Z") and messages["sms"]["replied_at"] is None
    assert world.log("ann", "branched")[0]["outcome"] == "yes"


def test_feedback_naming_neither_message_nor_channel_is_ignored_not_guessed(world):
    world.contacts(CONTACTS)
    journey, _, _, _ = email_then_sms()
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    for kind in ("message_replied", "message_delivered", "message_failed"):
        done = world.event("ann", kind, "2026-03-02T12:10:00Z")
        assert (done.stored, done.unmatched) == (1, 1)
    for message in world.messages("ann"):
        assert (message["replied_at"], message["delivered_at"], message["failed_at"]) == (None, None, None)
        assert message["status"] == "sent"


def test_an_open_when_the_contact_got_only_an_sms_changes_nothing(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    sms = send_node(journey, "sms", subject="Hi")
    chain(journey, journey.trigger(), sms)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.event("ann", "message_opened", "2026-03-02T11:00:00Z").unmatched == 1
    [message] = world.messages("ann")
    assert (message["opened_at"], message["status"]) == (None, "sent")
    assert journey_stats(world.db, journey.id).nodes[sms.id].opened == 0


def test_a_whatsapp_read_receipt_names_its_channel(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey), send_node(journey, "whatsapp", subject="Hi"))
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_opened", "2026-03-02T10:30:00Z", channel="whatsapp")
    messages = by_channel(world, "ann")
    assert messages["whatsapp"]["opened_at"] == t("2026-03-02T10:30:00Z")
    assert messages["email"]["opened_at"] is None


def test_a_message_id_of_another_contact_is_ignored_not_stamped_anywhere(world):
    world.contacts(CONTACTS)
    journey, email, _, _ = email_then_sms()
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z")
    chos_email = by_channel(world, "cho")["email"]
    done = world.event("ann", "message_opened", "2026-03-02T11:00:00Z", message_id=chos_email["id"])
    assert done.unmatched == 1
    for contact in ("ann", "cho"):
        assert all(m["opened_at"] is None for m in world.messages(contact))
    assert journey_stats(world.db, journey.id).nodes[email.id].opened == 0
    world.advance_to("2026-03-03T12:00:00Z")
    assert [b["outcome"] for b in world.log("ann", "branched")] == ["no"]


def test_an_unknown_message_id_is_ignored_not_applied_to_the_latest_message(world):
    world.contacts(CONTACTS)
    journey, _, _, _ = email_then_sms()
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    for unknown in (999_999, "999999", "sg-8f3a", ""):
        assert world.event("ann", "message_opened", "2026-03-02T11:00:00Z", message_id=unknown).unmatched == 1
    assert all(m["opened_at"] is None for m in world.messages("ann"))


def test_a_message_id_names_the_message_even_when_another_is_newer(world):
    world.contacts(CONTACTS)
    journey, _, _, _ = email_then_sms(status="delivered")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.advance_to("2026-03-02T12:30:00Z")
    messages = by_channel(world, "ann")
    world.event("ann", "message_delivered", "2026-03-02T12:40:00Z", message_id=str(messages["email"]["id"]))
    after = by_channel(world, "ann")
    assert after["email"]["delivered_at"] == t("2026-03-02T12:40:00Z") and after["sms"]["delivered_at"] is None
    assert world.log("ann", "branched")[0]["outcome"] == "yes"


def test_a_message_id_of_another_channel_than_the_event_names_is_ignored(world):
    world.contacts(CONTACTS)
    journey, _, _, _ = email_then_sms()
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.advance_to("2026-03-02T12:30:00Z")
    sms = by_channel(world, "ann")["sms"]
    assert world.event("ann", "message_delivered", "2026-03-02T12:40:00Z", message_id=sms["id"],
                       channel="email").unmatched == 1
    assert all(m["delivered_at"] is None for m in world.messages("ann"))


def test_the_activity_log_gives_message_ids_that_feedback_can_name():
    """Ids are the same on every run of the same simulation: run once, read the id, feed it back."""
    contacts, _ = parse_contacts(CONTACTS)
    journey, email, sms, _ = email_then_sms(status="delivered")
    events = [EventIn("ann", "cart_abandoned", t("2026-03-02T10:00:00Z")),
              EventIn("cho", "cart_abandoned", t("2026-03-02T10:00:00Z"))]
    first = simulate(journey, contacts, events)
    sent = [line for line in first.activity if line["action"] == "sent"]
    assert all(isinstance(line["message_id"], int) for line in sent)
    assert len({line["message_id"] for line in sent}) == len(sent) == 4
    chos_email = next(line["message_id"] for line in sent if line["contact"] == "cho" and line["node"] == email.id)
    again = simulate(journey, contacts, [*events, EventIn("cho", "message_delivered", t("2026-03-02T12:30:00Z"),
                                                          {"message_id": chos_email})])
    assert [line["message_id"] for line in again.activity if line["action"] == "sent"] == \
        [line["message_id"] for line in sent]
    outcomes = {line["contact"]: line["outcome"] for line in again.activity if line["action"] == "branched"}
    assert outcomes == {"ann": "no", "cho": "yes"}


def test_a_message_id_in_any_number_form_names_its_message_and_a_malformed_one_is_ignored(world):
    """1, "1", " 001 " and 1.0 all name message 1; "²", "٣", a number beyond any id, -1, 1.5 and true
    name no message: ignored and counted, never a crash that loses the whole import."""
    world.contacts(CONTACTS)
    journey, _, _, _ = email_then_sms(status="delivered")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.advance_to("2026-03-02T12:30:00Z")
    email_id = by_channel(world, "ann")["email"]["id"]
    for bad in ("²", "٣", "99999999999999999999999", 2**70, -email_id, str(-email_id), email_id + 0.5, True):
        done = world.event("ann", "message_delivered", "2026-03-02T12:35:00Z", message_id=bad)
        assert (done.stored, done.unmatched) == (1, 1), bad
    assert all(m["delivered_at"] is None for m in world.messages("ann"))
    for minute, good in enumerate((float(email_id), f" 00{email_id} ", str(email_id)), start=40):
        assert world.event("ann", "message_delivered", f"2026-03-02T12:{minute}:00Z", message_id=good).unmatched == 0
    after = by_channel(world, "ann")
    assert after["email"]["delivered_at"] == t("2026-03-02T12:40:00Z") and after["sms"]["delivered_at"] is None


def test_a_channel_written_in_capitals_is_that_channel_and_an_unknown_one_is_never_email(world):
    world.contacts(CONTACTS)
    journey, _, _, _ = email_then_sms()
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.advance_to("2026-03-02T12:30:00Z")
    assert world.event("ann", "message_clicked", "2026-03-02T12:40:00Z", channel="fax").unmatched == 1
    assert world.event("ann", "message_opened", "2026-03-02T12:41:00Z", channel="push").unmatched == 1
    assert all(m["clicked_at"] is None and m["opened_at"] is None for m in world.messages("ann"))
    assert world.event("ann", "message_clicked", "2026-03-02T12:45:00Z", channel=" SMS ").unmatched == 0
    sms_id = by_channel(world, "ann")["sms"]["id"]
    assert world.event("ann", "message_replied", "2026-03-02T12:50:00Z", channel="Email",
                       message_id=sms_id).unmatched == 1     # the id is an SMS, the event says email
    messages = by_channel(world, "ann")
    assert messages["sms"]["clicked_at"] == t("2026-03-02T12:45:00Z") and messages["email"]["clicked_at"] is None
    assert messages["sms"]["replied_at"] is None


def test_importing_feedback_with_a_capitalised_channel_is_read_not_refused():
    from app.engine.importers import parse_events
    found, problems = parse_events('{"contact": "ann", "type": "message_replied", "at": "2026-03-02T12:00:00Z", '
                                   '"properties": {"channel": "SMS"}}\n'
                                   '{"contact": "ann", "type": "message_opened", "at": "2026-03-02T12:00:00Z", '
                                   '"properties": {"channel": "fax"}}\n')
    assert len(found) == 1 and [p.line for p in problems] == [2]


def test_a_read_receipt_marks_the_whatsapp_message_opened_never_the_email(world):
    """`message_read` (WhatsApp's read status) is an open of the WhatsApp message, with or without a channel;
    a read naming SMS finds no SMS and changes nothing."""
    world.contacts(CONTACTS)
    journey = simple_journey()
    whatsapp = send_node(journey, "whatsapp", subject="Your cart")
    email = send_node(journey, subject="Your cart")
    branch = journey.add_node("message_status", {"step": whatsapp.id, "status": "opened",
                                                 "window": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), whatsapp, email, branch)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.event("ann", "message_read", "2026-03-02T10:20:00Z", channel="sms").unmatched == 1
    assert world.event("ann", "message_read", "2026-03-02T10:30:00Z").unmatched == 0
    messages = by_channel(world, "ann")
    assert messages["whatsapp"]["opened_at"] == t("2026-03-02T10:30:00Z") and messages["email"]["opened_at"] is None
    assert [(b["outcome"], b["at"]) for b in world.log("ann", "branched")] == [("yes", t("2026-03-02T10:30:00Z"))]
