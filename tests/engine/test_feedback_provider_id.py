"""Imported feedback events (e.g. Meta's WhatsApp status webhooks saved as JSON lines) may name their
message by the provider's id (`properties.provider_id`: a Meta wamid, a Twilio SID): it lands on that
message of that contact, never on another contact's."""
from __future__ import annotations

from sqlalchemy import update

from app.store.tables import messages

from .helpers import CONTACTS, chain, send_node, simple_journey, t

WAMID = "wamid.HBgLMTU1NTAwMDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"


def whatsapp_then_branch(world, status: str = "delivered"):
    journey = simple_journey()
    wa = send_node(journey, "whatsapp", subject="Hi")
    branch = journey.add_node("message_status", {"step": wa.id, "status": status,
                                                 "window": {"amount": 24, "unit": "hours"}})
    chain(journey, journey.trigger(), wa, branch)
    journey.connect(branch.id, journey.add_node("tag", {"add": ["yes"]}).id, "yes")
    journey.connect(branch.id, journey.add_node("tag", {"add": ["no"]}).id, "no")
    world.contacts(CONTACTS)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("bob", "cart_abandoned", "2026-03-02T10:00:00Z")
    with world.db.begin() as conn:      # what the dispatcher records when Meta takes a message
        conn.execute(update(messages).where(messages.c.contact_id == "ann").values(provider_id=WAMID))
        conn.execute(update(messages).where(messages.c.contact_id == "bob").values(provider_id="wamid.bob"))
    return journey


def branched(world, contact):
    return [b["outcome"] for b in world.log(contact, "branched")]


def test_a_status_naming_the_wamid_stamps_that_message_and_moves_the_step(world):
    whatsapp_then_branch(world)
    done = world.event("ann", "message_delivered", "2026-03-02T10:03:00Z", provider_id=WAMID)
    assert done.unmatched == 0
    [message] = world.messages("ann")
    assert message["delivered_at"] == t("2026-03-02T10:03:00Z")
    assert branched(world, "ann") == ["yes"]


def test_a_failure_by_wamid_with_metas_code(world):
    whatsapp_then_branch(world, "failed")
    world.event("ann", "message_failed", "2026-03-02T10:03:00Z", provider_id=f"  {WAMID} ", code="131026",
                channel="whatsapp")
    assert world.messages("ann")[0]["failed_at"] == t("2026-03-02T10:03:00Z")
    assert branched(world, "ann") == ["yes"]


def test_another_contacts_provider_id_is_ignored_not_stamped_anywhere(world):
    whatsapp_then_branch(world)
    done = world.event("bob", "message_delivered", "2026-03-02T10:03:00Z", provider_id=WAMID)
    assert done.unmatched == 1
    assert all(m["delivered_at"] is None for m in world.messages())


def test_an_unknown_or_malformed_provider_id_matches_nothing(world):
    whatsapp_then_branch(world)
    for value in ("wamid.nobody", "", "   ", 12345, "x" * 300):
        assert world.event("ann", "message_delivered", "2026-03-02T10:03:00Z", provider_id=value).unmatched == 1
    assert world.messages("ann")[0]["delivered_at"] is None


def test_a_provider_id_and_a_message_id_that_disagree_are_not_trusted(world):
    whatsapp_then_branch(world)
    anns = world.messages("ann")[0]["id"]
    assert world.event("ann", "message_delivered", "2026-03-02T10:03:00Z", message_id=anns,
                       provider_id="wamid.other").unmatched == 1
    assert world.event("ann", "message_delivered", "2026-03-02T10:04:00Z", message_id=anns,
                       provider_id=WAMID).unmatched == 0


def test_a_provider_id_on_another_channel_than_the_event_names_is_ignored(world):
    whatsapp_then_branch(world)
    assert world.event("ann", "message_delivered", "2026-03-02T10:03:00Z", provider_id=WAMID,
                       channel="sms").unmatched == 1
