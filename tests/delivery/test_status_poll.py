"""Statuses back from Twilio by polling: delivered, undelivered/failed and read become engine feedback
events on the right message, move message-status steps, and polling again changes nothing."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterator

import pytest
from sqlalchemy import select, update

from app.delivery.base import DeliveryFailure, Outgoing
from app.delivery.settings import DeliverySettings, SmsSettings, WhatsAppSettings
from app.delivery.status_poll import poll_twilio_statuses
from app.delivery.twilio import TwilioChannel
from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.stats import journey_stats
from app.store.db import open_database
from app.store.tables import consent_changes, contact_channels, events, messages
from tests.engine.helpers import CONTACTS, START, World, chain, send_node, simple_journey, t

from .provider_servers import Behaviour, FakeTwilio, twilio, twilio_settings  # noqa: F401 - fixture

CONTENT_SID = "HX" + "0" * 31 + "1"


class ThroughTwilio:
    """The outbox's hand-off channel, sending through TwilioChannel (the dispatcher of this issue does
    this for real); remembers each message's SID to record it, as the dispatcher does."""

    def __init__(self, server: FakeTwilio) -> None:
        self.channels = {"sms": TwilioChannel(twilio_settings(server), server.auth_token, whatsapp=False),
                         "whatsapp": TwilioChannel(twilio_settings(server, whatsapp=True), server.auth_token,
                                                   whatsapp=True)}
        self.sids: dict[int, str] = {}

    def send(self, message: dict[str, Any]) -> str | None:
        out = Outgoing(message_id=message["id"], idempotency_key=message["idempotency_key"],
                       channel=message["channel"], recipient=message["recipient"], body_text=message["body_text"],
                       whatsapp_template=message["whatsapp_template"])
        try:
            sent = self.channels[message["channel"]].send(out)
        except DeliveryFailure as exc:
            return str(exc)
        assert sent.provider_id
        self.sids[message["id"]] = sent.provider_id
        return None


@pytest.fixture
def world(any_url: str, twilio: FakeTwilio) -> Iterator[World]:
    db = open_database(any_url)
    clock = VirtualClock(t(START))
    channel = ThroughTwilio(twilio)
    yield World(db, clock, channel, JourneyEngine(db, clock, channel))     # type: ignore[arg-type]
    for c in channel.channels.values():
        c.close()
    db.dispose()


def settings_for(server: FakeTwilio) -> DeliverySettings:
    return DeliverySettings(sms=SmsSettings(twilio=twilio_settings(server)),
                            whatsapp=WhatsAppSettings(provider="twilio", twilio=twilio_settings(server, whatsapp=True)))


def record_sids(world: World) -> None:
    """Writes the SIDs Twilio gave into the outbox, as the dispatcher records a sent message."""
    channel = world.channel
    assert isinstance(channel, ThroughTwilio)
    with world.db.begin() as conn:
        for mid, sid in channel.sids.items():
            conn.execute(update(messages).where(messages.c.id == mid).values(provider_id=sid))


def poll(world: World, server: FakeTwilio, at: str, **kwargs: Any) -> int:
    world.clock.set(t(at))
    return poll_twilio_statuses(world.db, world.engine, settings_for(server), server.auth_token, world.clock, **kwargs)


def gets(server: FakeTwilio) -> int:
    return sum(1 for r in server.requests if r.method == "GET")


def branch_on(channel: str, status: str, **step: Any):
    """Cart abandoned → one message on `channel` → "<status> within 24 h?" → tag yes / no."""
    journey = simple_journey()
    send = send_node(journey, channel, subject="Your cart {{ contact.first_name }}", **step)
    branch = journey.add_node("message_status", {"step": send.id, "status": status,
                                                 "window": {"amount": 24, "unit": "hours"}})
    chain(journey, journey.trigger(), send, branch)
    journey.connect(branch.id, journey.add_node("tag", {"add": ["yes"]}).id, "yes")
    journey.connect(branch.id, journey.add_node("tag", {"add": ["no"]}).id, "no")
    return journey, send


def outcomes(world: World, contact: str) -> list[str]:
    return [b["outcome"] for b in world.log(contact, "branched")]


def test_delivered_moves_the_status_step_and_the_message_is_not_asked_about_again(world, twilio):
    world.contacts(CONTACTS)
    journey, sms = branch_on("sms", "delivered")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    record_sids(world)
    [message] = world.messages("ann")
    assert message["status"] == "sent" and message["provider_id"].startswith("SM")
    assert poll(world, twilio, "2026-03-02T10:01:00Z") == 0            # Twilio says "sent": not settled
    assert twilio.requests[-1].path.endswith(f"/Messages/{message['provider_id']}.json")
    assert poll(world, twilio, "2026-03-02T10:02:00Z") == 0 and gets(twilio) == 1      # asked a minute ago: wait
    assert poll(world, twilio, "2026-03-02T10:07:00Z") == 1            # now delivered
    [message] = world.messages("ann")
    assert message["delivered_at"] == t("2026-03-02T10:07:00Z") and message["status"] == "delivered"
    assert outcomes(world, "ann") == ["yes"]
    assert journey_stats(world.db, journey.id).nodes[sms.id].delivered == 1
    with world.db.connect() as conn:
        [(key, props)] = conn.execute(select(events.c.idempotency_key, events.c.properties)
                                      .where(events.c.type == "message_delivered")).all()
    assert key == f"id:twilio:{message['provider_id']}:delivered"
    assert (props["message_id"], props["channel"]) == (message["id"], "sms")
    assert poll(world, twilio, "2026-03-02T11:00:00Z") == 0 and gets(twilio) == 2      # settled: never asked again


def test_undelivered_and_failed_become_message_failed_with_twilios_code(world, twilio):
    world.contacts(CONTACTS)
    twilio.script("+15550001", Behaviour(path=("queued", "sent", "undelivered"), error_code=30003))
    twilio.script("+15550002", Behaviour(path=("queued", "failed"), error_code=30008))
    journey, sms = branch_on("sms", "failed")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("bob", "cart_abandoned", "2026-03-02T10:00:00Z")
    record_sids(world)
    for minute in ("10:01", "10:07", "10:13"):
        poll(world, twilio, f"2026-03-02T{minute}:00Z")
    assert outcomes(world, "ann") == ["yes"] and outcomes(world, "bob") == ["yes"]
    with world.db.connect() as conn:
        codes = {p["message_id"]: (p["code"], p["status"]) for (p,) in conn.execute(
            select(events.c.properties).where(events.c.type == "message_failed"))}
    ann, bob = world.messages("ann")[0], world.messages("bob")[0]
    assert codes == {ann["id"]: ("30003", "undelivered"), bob["id"]: ("30008", "failed")}
    assert ann["failed_at"] is not None and ann["status"] == "failed"
    assert journey_stats(world.db, journey.id).nodes[sms.id].failed == 2


def test_a_whatsapp_read_receipt_is_an_open_and_polling_again_changes_nothing(world, twilio):
    world.contacts(CONTACTS)
    journey, wa = branch_on("whatsapp", "opened", wa_template=CONTENT_SID,
                            wa_variables=[{"value": "{{ contact.first_name }}"}, {"value": "cart"}])
    world.install(journey)
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z")
    record_sids(world)
    [message] = world.messages("cho")
    twilio.advance(message["provider_id"], "delivered")           # stays delivered for now
    assert poll(world, twilio, "2026-03-02T10:01:00Z") == 1
    assert poll(world, twilio, "2026-03-02T10:07:00Z") == 0        # still delivered: the same event, skipped
    assert gets(twilio) == 2                                        # a delivered WhatsApp may still be read
    twilio.advance(message["provider_id"], "read")
    assert poll(world, twilio, "2026-03-02T10:13:00Z") == 1
    [message] = world.messages("cho")
    assert (message["delivered_at"], message["opened_at"]) == (t("2026-03-02T10:01:00Z"), t("2026-03-02T10:13:00Z"))
    assert outcomes(world, "cho") == ["yes"]
    stats = journey_stats(world.db, journey.id).nodes[wa.id]
    assert (stats.delivered, stats.opened) == (1, 1)
    assert poll(world, twilio, "2026-03-02T10:20:00Z") == 0 and gets(twilio) == 3      # read: settled


def test_read_at_first_look_brings_delivered_too(world, twilio):
    world.contacts(CONTACTS)
    journey, _ = branch_on("whatsapp", "delivered", wa_template=CONTENT_SID,
                           wa_variables=[{"value": "a"}, {"value": "b"}])
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    record_sids(world)
    twilio.advance(world.messages("ann")[0]["provider_id"], "read")
    assert poll(world, twilio, "2026-03-02T10:05:00Z") == 2
    assert outcomes(world, "ann") == ["yes"]


def test_a_stop_reported_late_withdraws_sms_consent(world, twilio):
    world.contacts(CONTACTS)
    twilio.script("+15550001", Behaviour(path=("queued", "failed"), error_code=21610))
    journey, _ = branch_on("sms", "failed")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    record_sids(world)
    assert poll(world, twilio, "2026-03-02T10:01:00Z") == 2
    with world.db.connect() as conn:
        state = conn.execute(select(contact_channels.c.state).where(
            contact_channels.c.contact_id == "ann", contact_channels.c.channel == "sms")).scalar_one()
        sources = list(conn.execute(select(consent_changes.c.source).where(
            consent_changes.c.contact_id == "ann", consent_changes.c.channel == "sms")).scalars())
    assert state == "unsubscribed" and "carrier STOP (Twilio 21610)" in sources[-1]


def test_batches_are_bounded_and_every_message_gets_its_turn(world, twilio):
    world.contacts(CONTACTS)
    journey, _ = branch_on("sms", "delivered")
    world.install(journey)
    for contact in ("ann", "bob", "cho"):
        world.event(contact, "cart_abandoned", "2026-03-02T10:00:00Z")
    record_sids(world)
    poll(world, twilio, "2026-03-02T10:01:00Z", batch=2)
    poll(world, twilio, "2026-03-02T10:01:30Z", batch=2)            # the third one's turn
    asked = [r.path.rsplit("/", 1)[-1] for r in twilio.requests if r.method == "GET"]
    assert len(asked) == 3 and len(set(asked)) == 3


def test_messages_older_than_72_hours_and_other_providers_ids_are_left_alone(world, twilio):
    world.contacts(CONTACTS)
    journey, _ = branch_on("sms", "delivered")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("bob", "cart_abandoned", "2026-03-02T10:00:00Z")
    record_sids(world)
    with world.db.begin() as conn:
        conn.execute(update(messages).where(messages.c.contact_id == "bob").values(provider_id="wamid.HBgLabc"))
    assert poll(world, twilio, "2026-03-02T10:01:00Z") == 0 and gets(twilio) == 1     # ann's only ("sent")
    assert poll(world, twilio, "2026-03-05T10:00:01Z") == 0 and gets(twilio) == 1     # 72 h and a second later


def test_nothing_is_asked_without_twilio_settings_or_token(world, twilio):
    world.contacts(CONTACTS)
    journey, _ = branch_on("sms", "delivered")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    record_sids(world)
    assert poll_twilio_statuses(world.db, world.engine, DeliverySettings(), twilio.auth_token, world.clock) == 0
    assert poll_twilio_statuses(world.db, world.engine, settings_for(twilio), None, world.clock) == 0
    assert gets(twilio) == 0


def test_twilio_down_stops_the_round_and_asks_again_later(world, twilio):
    world.contacts(CONTACTS)
    journey, _ = branch_on("sms", "delivered")
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    record_sids(world)
    wrong = settings_for(twilio)
    wrong.sms.twilio.api_base = "http://127.0.0.1:9"                  # nobody listens there
    world.clock.set(t("2026-03-02T10:01:00Z"))
    assert poll_twilio_statuses(world.db, world.engine, wrong, twilio.auth_token, world.clock) == 0
    poll(world, twilio, "2026-03-02T10:07:00Z")
    poll(world, twilio, "2026-03-02T10:13:00Z")
    assert outcomes(world, "ann") == ["yes"]
    assert world.clock.now() - t("2026-03-02T10:00:00Z") == timedelta(minutes=13)
