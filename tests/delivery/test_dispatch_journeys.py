"""The dispatcher inside journeys: failures take a message-status step's `failed` outcome (counted once),
a carrier STOP opts the contact out of SMS, opt-outs cancel, paused journeys hold, stopped ones cancel."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from sqlalchemy import select

from app.delivery.base import Outgoing, Sent
from app.delivery.dispatcher import DispatchConfig, Dispatcher
from app.delivery.outcomes import CARRIER_STOP_SOURCE, report_failures
from app.delivery.retry import RetryPolicy
from app.engine.clock import VirtualClock
from app.engine.consent import set_by_hand
from app.engine.engine import JourneyEngine
from app.engine.ingest import EventIn
from app.engine.stats import journey_stats
from app.store.contacts import contact_detail
from app.store.db import open_database
from app.store.journeys import JourneyStore
from app.store.tables import contact_tags, events, messages, run_log

from ..engine.helpers import CONTACTS, World, chain, send_node, simple_journey, t
from .dispatch_channels import open_test_channel
from .dispatch_helpers import db, http, smtp  # noqa: F401 - fixtures
from .dispatch_servers import RecordingHttp, RecordingSmtp


class Shop:
    """A database with contacts and a journey, the engine on a virtual clock, and the dispatcher."""

    def __init__(self, db: Any, smtp: RecordingSmtp | None, http: RecordingHttp | None) -> None:
        self.db, self.clock = db, VirtualClock(t("2026-03-02T10:00:00Z"))
        self.engine = JourneyEngine(db, self.clock)
        self.world = World(db, self.clock, None, self.engine)  # type: ignore[arg-type]
        self.world.contacts(CONTACTS)
        self.open = lambda name: open_test_channel(name, smtp.port if smtp else None, http.url if http else None)
        self.retry = RetryPolicy()

    def dispatcher(self, open_channel: Any = None) -> Dispatcher:
        return Dispatcher(self.db, open_channel or self.open, config=DispatchConfig(retry=self.retry),
                          clock=self.clock, engine=self.engine)

    def enter(self, contact: str, kind: str = "cart_abandoned") -> None:
        self.engine.ingest([EventIn(contact, kind, self.clock.now())])

    def messages(self) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(messages).order_by(messages.c.id))]

    def tags(self, contact: str) -> set[str]:
        with self.db.connect() as conn:
            return set(conn.execute(select(contact_tags.c.tag).where(contact_tags.c.contact_id == contact)).scalars())

    def branched(self, contact: str) -> list[str | None]:
        with self.db.connect() as conn:
            return list(conn.execute(select(run_log.c.outcome).where(
                run_log.c.contact_id == contact, run_log.c.action == "branched")).scalars())


@pytest.fixture
def shop_email(db, smtp) -> Iterator[Shop]:  # noqa: F811
    yield Shop(db, smtp, None)


def bounce_journey(channel: str = "email"):
    """Send, then "did the message fail within a day?": yes → tag `bounced`, no → tag `reached`."""
    journey = simple_journey()
    send = send_node(journey, channel)
    branch = journey.add_node("message_status", {"step": send.id, "status": "failed",
                                                 "window": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), send, branch)
    yes, no = journey.add_node("tag", {"add": ["bounced"]}), journey.add_node("tag", {"add": ["reached"]})
    journey.connect(branch.id, yes.id, "yes")
    journey.connect(branch.id, no.id, "no")
    return journey, send, branch


def test_a_permanent_failure_takes_the_message_status_steps_failed_branch_and_counts_once(shop_email, smtp):
    shop = shop_email
    journey, send, branch = bounce_journey()
    shop.world.install(journey)
    smtp.answer("ann@example.com", "550 5.1.1 No such user")
    shop.enter("ann")
    shop.enter("cho")
    assert shop.branched("ann") == []                 # waiting for the message's fate
    done = shop.dispatcher().dispatch()
    assert (done.failed, done.sent) == (1, 1)
    assert shop.branched("ann") == ["yes"] and "bounced" in shop.tags("ann")
    [failed] = [m for m in shop.messages() if m["contact_id"] == "ann"]
    assert (failed["status"], failed["error_code"], failed["claim"]) == ("failed", "550", None)
    with shop.db.connect() as conn:
        [event] = conn.execute(select(events).where(events.c.type == "message_failed")).all()
    assert event.idempotency_key == f"id:dispatch:failed:{failed['id']}"
    assert event.properties == {"message_id": failed["id"], "channel": "email", "code": "550",
                                "error": failed["error"]}
    # The same failure reported again (a crash between recording and reporting) changes nothing.
    again = shop.engine.ingest([EventIn("ann", "message_failed", failed["failed_at"], dict(event.properties),
                                        f"dispatch:failed:{failed['id']}")])
    assert again.duplicates == 1
    stats = journey_stats(shop.db, journey.id).nodes
    assert stats[send.id].failed == 1                   # once, not once per report
    # cho's message went out: no failure, so the branch waits for the window to end, then says no.
    assert shop.branched("cho") == []
    shop.world.advance_to("2026-03-03T10:01:00Z")
    assert shop.branched("cho") == ["no"] and "reached" in shop.tags("cho")


def test_retries_exhausted_also_take_the_failed_branch(shop_email, smtp):
    shop = shop_email
    shop.retry = RetryPolicy(retry_hours=1)
    journey, send, _ = bounce_journey()
    shop.world.install(journey)
    smtp.answer("ann@example.com", *["451 4.3.0 Try again later"] * 50)
    shop.enter("ann")
    for _ in range(20):
        shop.dispatcher().dispatch()
        [row] = shop.messages()
        if row["status"] != "queued":
            break
        shop.clock.set(row["scheduled_at"])
    assert row["status"] == "failed" and row["error_code"] == "451"
    assert shop.branched("ann") == ["yes"]
    assert journey_stats(shop.db, journey.id).nodes[send.id].failed == 1


def test_a_failure_recorded_before_a_crash_is_reported_by_the_next_dispatcher(shop_email, smtp):
    shop = shop_email
    journey, _, _ = bounce_journey()
    shop.world.install(journey)
    smtp.answer("ann@example.com", "554 5.7.1 Rejected")
    shop.enter("ann")
    dispatcher = shop.dispatcher()
    dispatcher._report = lambda ids: None            # type: ignore[method-assign]  # "dies" before reporting
    dispatcher.dispatch()
    [row] = shop.messages()
    assert row["status"] == "failed" and row["claim"] is not None       # not reported yet
    assert shop.branched("ann") == []
    shop.dispatcher().dispatch()                      # a new dispatcher reports what is left
    assert shop.branched("ann") == ["yes"]
    assert shop.messages()[0]["claim"] is None
    assert report_failures(shop.engine) == 0


def test_twilio_21610_opts_the_contact_out_of_sms_and_cancels_the_next_text(db, http):  # noqa: F811
    shop = Shop(db, None, http)
    journey = simple_journey()
    first = send_node(journey, "sms", subject="Your cart is waiting")
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    second = send_node(journey, "sms", subject="Last chance")
    chain(journey, journey.trigger(), first, wait, second)
    shop.world.install(journey)
    http.answer("+15550001", (400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}, {}))
    shop.enter("ann")
    done = shop.dispatcher().dispatch()
    assert done.failed == 1
    detail = contact_detail(db, "ann")
    assert detail is not None
    sms = next(c for c in detail.consent if c.channel == "sms")
    assert (sms.state, sms.source) == ("unsubscribed", CARRIER_STOP_SOURCE)
    assert [(h.channel, h.previous, h.state, h.source) for h in detail.history][0] == (
        "sms", "subscribed", "unsubscribed", CARRIER_STOP_SOURCE)
    assert next(c for c in detail.consent if c.channel == "email").state != "unsubscribed"   # SMS only
    shop.world.advance_to("2026-03-02T11:30:00Z")     # the second text: skipped at its step (opted out)
    shop.dispatcher().dispatch()
    assert len(http.requests) == 1
    assert [m["status"] for m in shop.messages()] == ["failed"]


def test_a_text_queued_before_the_carrier_stop_came_back_is_cancelled(db, http):  # noqa: F811
    shop = Shop(db, None, http)
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey, "sms"))
    other = simple_journey(name="Other journey", event="product_viewed")
    chain(other, other.trigger(), send_node(other, "sms"))
    shop.world.install(journey)
    shop.world.install(other)
    http.answer("+15550001", (400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}, {}))
    shop.enter("ann")
    shop.enter("ann", "product_viewed")      # both texts queued before any went
    done = shop.dispatcher().dispatch()
    assert (done.failed, done.cancelled, done.sent) == (1, 1, 0)
    assert [m["status"] for m in shop.messages()] == ["failed", "cancelled"] and len(http.requests) == 1


def test_21610_never_loosens_and_records_an_opt_out_once(db, http):  # noqa: F811
    shop = Shop(db, None, http)
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey, "sms"))
    shop.world.install(journey)
    http.answer("+15550003", (400, {"code": 21610, "message": "unsubscribed recipient"}, {}))
    shop.enter("cho")
    shop.dispatcher().dispatch()
    from app.delivery.outcomes import carrier_stop
    from app.store.sql import write_transaction

    with write_transaction(db) as conn:
        assert carrier_stop(conn, "cho", shop.clock.now()) is False      # already opted out: nothing recorded
    detail = contact_detail(db, "cho")
    assert detail is not None
    assert sum(h.source == CARRIER_STOP_SOURCE for h in detail.history) == 1


def test_an_opt_out_after_queueing_cancels_the_message(shop_email, smtp):
    shop = shop_email
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    shop.world.install(journey)
    shop.enter("ann")
    shop.enter("cho")
    shop.engine.ingest([EventIn("ann", "unsubscribed", shop.clock.now(), {"channel": "email"})])
    done = shop.dispatcher().dispatch()
    assert (done.cancelled, done.sent) == (1, 1)
    status = {m["contact_id"]: (m["status"], m["error"]) for m in shop.messages()}
    assert status["ann"] == ("cancelled", "the contact opted out of email before it was sent")
    assert status["cho"][0] == "sent" and len(smtp.accepted) == 1


def test_an_opt_out_while_a_claim_is_being_sent_cancels_the_rest_for_that_contact(shop_email, smtp):
    """Claimed together; the contact opts out while the message before theirs is being sent."""
    shop = shop_email
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    shop.world.install(journey)
    shop.enter("ann")
    shop.enter("cho")

    class OptOutMidway:
        def __init__(self) -> None:
            self.inner = shop.open("email")

        def send(self, message: Outgoing) -> Sent:
            sent = self.inner.send(message)
            set_by_hand(shop.db, "cho", "email", "unsubscribed", shop.clock.now())
            return sent

        def close(self) -> None:
            self.inner.close()

    done = shop.dispatcher(lambda name: OptOutMidway()).dispatch()
    status = {m["contact_id"]: m["status"] for m in shop.messages()}
    assert status == {"ann": "sent", "cho": "cancelled"} and done.cancelled == 1 and len(smtp.accepted) == 1


def test_a_paused_journey_holds_its_messages_until_resumed(shop_email, smtp):
    shop = shop_email
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    journey_id = shop.world.install(journey)
    shop.enter("ann")
    shop.engine.pause(journey_id)
    shop.clock.advance(hours=3)
    done = shop.dispatcher().dispatch()
    [row] = shop.messages()
    assert done.sent == 0 and (row["status"], row["attempts"]) == ("queued", 0) and smtp.accepted == []
    shop.engine.activate(journey_id)
    assert shop.dispatcher().dispatch().sent == 1 and len(smtp.accepted) == 1


def test_a_journey_paused_while_its_claim_is_sent_holds_the_rest(shop_email, smtp):
    shop = shop_email
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    journey_id = shop.world.install(journey)
    shop.enter("ann")
    shop.enter("cho")

    class PauseMidway:
        def __init__(self) -> None:
            self.inner = shop.open("email")

        def send(self, message: Outgoing) -> Sent:
            sent = self.inner.send(message)
            JourneyStore(shop.db).set_status(journey_id, "paused")
            return sent

        def close(self) -> None:
            self.inner.close()

    shop.dispatcher(lambda name: PauseMidway()).dispatch()
    status = {m["contact_id"]: (m["status"], m["attempts"]) for m in shop.messages()}
    assert status == {"ann": ("sent", 1), "cho": ("queued", 0)} and len(smtp.accepted) == 1


def test_stopping_a_journey_cancels_its_queued_messages(shop_email, smtp):
    shop = shop_email
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    other = simple_journey(name="Other journey", event="product_viewed")
    chain(other, other.trigger(), send_node(other))
    journey_id = shop.world.install(journey)
    shop.world.install(other)
    shop.enter("ann")
    shop.enter("cho", "product_viewed")
    shop.engine.stop(journey_id)
    by_contact = {m["contact_id"]: m for m in shop.messages()}
    assert by_contact["ann"]["status"] == "cancelled" and by_contact["cho"]["status"] == "queued"
    assert shop.dispatcher().dispatch().sent == 1
    assert {m["contact_id"]: m["status"] for m in shop.messages()} == {"ann": "cancelled", "cho": "sent"}
    assert len(smtp.accepted) == 1


def test_a_journey_stopped_elsewhere_is_cancelled_at_claim_time(shop_email, smtp):
    """Stopped by another process that only changed the status: the dispatcher cancels, never sends."""
    shop = shop_email
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    journey_id = shop.world.install(journey)
    shop.enter("ann")
    JourneyStore(shop.db).set_status(journey_id, "stopped")
    done = shop.dispatcher().dispatch()
    [row] = shop.messages()
    assert done.cancelled == 1 and row["status"] == "cancelled" and smtp.accepted == []


def test_a_failure_report_without_message_id_lands_on_the_message_that_failed_not_an_older_one(shop_email, smtp):
    """An email went out at 10:00; the next one failed at 11:00 (550). A bounce for the contact's latest
    email arriving without a message id is about the failed one: the earlier email stays sent, and the
    failure is not counted twice."""
    shop = shop_email
    journey = simple_journey()
    first = send_node(journey, subject="Your cart")
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    second = send_node(journey, subject="Still there?")
    chain(journey, journey.trigger(), first, wait, second)
    shop.world.install(journey)
    shop.enter("ann")
    shop.dispatcher().dispatch()
    smtp.answer("ann@example.com", "550 5.1.1 No such user")
    shop.world.advance_to("2026-03-02T11:00:00Z")
    shop.dispatcher().dispatch()
    done = shop.engine.ingest([EventIn("ann", "message_failed", t("2026-03-02T11:05:00Z"), {"channel": "email"})])
    assert done.unmatched == 0
    earlier, failed = shop.messages()
    assert (earlier["status"], earlier["failed_at"]) == ("sent", None)
    assert failed["status"] == "failed"
    stats = journey_stats(shop.db, journey.id).nodes
    assert (stats[first.id].failed, stats[second.id].failed) == (0, 1)


def test_the_recording_channel_never_pretends_a_live_message_was_sent(db, tmp_path):  # noqa: F811
    """On the system clock, messages leave only through the dispatcher: the engine's own hand-off to its
    recording channel (the simulator's) refuses, and the message stays queued."""
    from app.engine.clock import SystemClock

    engine = JourneyEngine(db, SystemClock())
    with pytest.raises(RuntimeError, match="dispatcher"):
        engine.hand_off()


@pytest.mark.parametrize("channel, address", [("email", "ANN@Example.com"), ("sms", "+15550001")])
def test_an_address_opted_out_under_another_contact_is_never_sent_to(db, smtp, http, channel,  # noqa: F811
                                                                     address):
    """One person stored twice (an identify under a new user id, a second shop's export): the opt-out
    given under one contact suppresses the address for the other, in any case of the email."""
    shop = Shop(db, smtp, http)
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey, channel))
    shop.world.install(journey)
    # Written as an older import or another tool left them (an import today would match them by address).
    from app.store.tables import contact_channels, contacts
    with shop.db.begin() as conn:
        conn.execute(contacts.insert().values(
            id="ann2", email=address if channel == "email" else "other@example.com",
            phone=address if channel == "sms" else "+15550999", attributes={}, created_at=shop.clock.now(),
            updated_at=shop.clock.now()))
        conn.execute(contact_channels.insert().values(contact_id="ann2", channel="sms", state="subscribed",
                                                      changed_at=shop.clock.now(), source="test"))
    shop.enter("ann2")
    shop.engine.ingest([EventIn("ann", "unsubscribed", shop.clock.now(), {"channel": channel})])
    shop.dispatcher().dispatch()
    status = {m["contact_id"]: (m["status"], m["error"]) for m in shop.messages()}
    assert status["ann2"] == ("cancelled", f"the address opted out of {channel} (under another contact)")
