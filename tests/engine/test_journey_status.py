"""Activating, pausing and resuming a journey: versions, who enters, who moves on."""
from __future__ import annotations

from app.journey.fileformat import to_document
from app.store.journeys import JourneyStore

from .helpers import CONTACTS, chain, send_node, simple_journey


def _journey_with_wait():
    journey = simple_journey(exit_conditions=[{"event": "order_placed", "conditions": []}])
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    email = send_node(journey, subject="Your cart, {{ contact.first_name }}")
    chain(journey, journey.trigger(), wait, email)
    return journey, email


def test_activating_again_publishes_the_changed_draft_and_running_contacts_keep_their_version(world):
    world.contacts(CONTACTS)
    journey, email = _journey_with_wait()
    world.install(journey)                       # version 1
    assert world.engine.activate(journey.id) == 1     # nothing changed: no new version
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")

    email.config["subject"] = "Still thinking it over, {{ contact.first_name }}?"
    JourneyStore(world.db).save_draft(journey.id, to_document(journey))
    assert world.engine.activate(journey.id) == 2
    world.event("cho", "cart_abandoned", "2026-03-02T10:10:00Z")
    world.advance_to("2026-03-02T12:00:00Z")

    assert {r["contact_id"]: r["version"] for r in world.runs()} == {"ann": 1, "cho": 2}
    assert {m["contact_id"]: m["subject"] for m in world.sent()} == {
        "ann": "Your cart, Ann", "cho": "Still thinking it over, Cho?"}


def test_a_paused_journey_holds_everyone_until_resumed(world):
    world.contacts(CONTACTS)
    journey, _email = _journey_with_wait()
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.engine.pause(journey.id)

    world.event("bob", "cart_abandoned", "2026-03-02T10:30:00Z")      # nobody new enters
    world.event("cho", "order_placed", "2026-03-02T10:40:00Z", total=20)   # exits still apply
    world.advance_to("2026-03-02T13:00:00Z")
    assert world.sent() == []
    assert {r["contact_id"]: r["status"] for r in world.runs()} == {"ann": "active", "cho": "exited"}

    world.engine.activate(journey.id)                                  # resumed: the overdue send goes now
    world.advance_to("2026-03-02T13:05:00Z")
    assert [m["contact_id"] for m in world.sent()] == ["ann"]
    assert [r["version"] for r in world.runs()] == [1, 1]              # unchanged draft: same version
