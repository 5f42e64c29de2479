"""Leases: a claim whose process died is recovered (the one message maybe handed over → unknown, the
rest queued again); a live claim keeps its lease; a claim taken over sends nothing more."""
from __future__ import annotations

from datetime import timedelta

from app.delivery import claims
from app.delivery.base import Outgoing, Sent
from app.delivery.dispatcher import DispatchConfig, Dispatcher
from app.engine.clock import VirtualClock

from .dispatch_channels import open_test_channel
from .dispatch_helpers import START, db, queue, rows, smtp  # noqa: F401 - fixtures


def test_an_expired_claim_marks_its_first_unsent_message_unknown_and_queues_the_rest(db, smtp):
    clock = VirtualClock(START)
    ids = queue(db, [f"p{i}@shop.test" for i in range(5)])
    taken = claims.claim(db, "email", START, 10, timedelta(minutes=5))     # then the process "dies"
    assert [m.id for m in taken.messages] == ids and all(m.attempts == 1 for m in taken.messages)
    assert claims.recover_expired(db, START + timedelta(minutes=4)).unknown == []      # still leased
    recovered = claims.recover_expired(db, START + timedelta(minutes=6))
    assert recovered.unknown == [ids[0]] and recovered.requeued == 4
    found = {r["id"]: r for r in rows(db).values()}
    assert found[ids[0]]["status"] == "unknown" and "not resent automatically" in found[ids[0]]["error"]
    assert all((found[i]["status"], found[i]["attempts"], found[i]["claim"]) == ("queued", 0, None) for i in ids[1:])
    clock.set(START + timedelta(minutes=6))
    done = Dispatcher(db, lambda name: open_test_channel(name, smtp.port, None), clock=clock).dispatch()
    assert done.sent == 4 and len(smtp.accepted) == 4       # the unknown one is not among them


def test_a_dispatcher_recovers_expired_claims_at_the_start_of_its_round(db, smtp):
    clock = VirtualClock(START)
    ids = queue(db, [f"p{i}@shop.test" for i in range(3)])
    claims.claim(db, "email", START, 2, timedelta(minutes=5))           # two claimed, one left queued
    clock.advance(minutes=10)
    done = Dispatcher(db, lambda name: open_test_channel(name, smtp.port, None), clock=clock).dispatch()
    assert (done.recovered_unknown, done.requeued, done.sent) == (1, 1, 2)
    assert {r["id"]: r["status"] for r in rows(db).values()} == {ids[0]: "unknown", ids[1]: "sent", ids[2]: "sent"}


class Slow:
    """Each send takes three (virtual) minutes; `meanwhile` runs after each, as another process would."""

    def __init__(self, clock: VirtualClock, meanwhile=None) -> None:
        self.clock, self.meanwhile, self.sent = clock, meanwhile, []

    def send(self, message: Outgoing) -> Sent:
        self.sent.append(message.message_id)
        self.clock.advance(minutes=3)
        if self.meanwhile:
            self.meanwhile()
        return Sent(None)

    def close(self) -> None:
        pass


def test_a_long_claim_renews_its_lease_so_a_second_dispatcher_takes_nothing_from_it(db):
    clock = VirtualClock(START)
    queue(db, [f"p{i}@shop.test" for i in range(6)])
    recovered = []
    channel = Slow(clock, lambda: recovered.append(claims.recover_expired(db, clock.now())))
    done = Dispatcher(db, lambda name: channel, clock=clock, config=DispatchConfig(workers={"email": 1})).dispatch()
    assert done.sent == 6 and done.unknown == 0                 # 18 minutes of sending on a 5-minute lease
    assert all(r.unknown == [] and r.requeued == 0 for r in recovered)


def test_a_claim_taken_over_sends_nothing_more(db):
    """The lease ran out mid-claim (a send hung past it) and another dispatcher recovered it: this one
    stops at once; the message it was sending was marked `unknown` by the recovery, then gets its real
    fate when the hung send returns (sent); the rest are sent once, by the next round."""
    clock = VirtualClock(START)
    ids = queue(db, [f"p{i}@shop.test" for i in range(4)])
    log: list[int] = []

    class Hung:
        def send(self, message: Outgoing) -> Sent:
            log.append(message.message_id)
            if len(log) == 1:
                clock.advance(minutes=10)
                claims.recover_expired(db, clock.now())         # the other dispatcher
            return Sent(None)

        def close(self) -> None:
            pass

    done = Dispatcher(db, lambda name: Hung(), clock=clock, config=DispatchConfig(workers={"email": 1})).dispatch()
    assert log[0] == ids[0] and log.count(ids[0]) == 1
    assert rows(db)["p0@shop.test"]["status"] == "sent"         # the late answer replaced the guess
    assert sorted(log) == ids and len(log) == len(set(log))     # the rest went once, after being queued again
    assert done.sent == 3


def test_a_long_wait_for_the_rate_limits_turn_keeps_the_claim(db):
    """Each turn comes four (virtual) minutes later, on a five-minute lease: the claim is renewed before
    each message goes, so a second dispatcher recovering expired claims meanwhile takes nothing."""
    from app.delivery.ratelimit import TokenBucket

    clock = VirtualClock(START)
    queue(db, [f"p{i}@shop.test" for i in range(5)])
    recovered = []

    def wait(seconds: float) -> bool:
        clock.advance(minutes=4)
        recovered.append(claims.recover_expired(db, clock.now()))
        return False

    bucket = TokenBucket(100, burst=1, clock=lambda: 0.0, wait=wait)
    channel = Slow(VirtualClock(START))
    config = DispatchConfig(rates={"email": 100}, workers={"email": 1}, batch_size=5)
    done = Dispatcher(db, lambda name: channel, clock=clock, config=config, buckets={"email": bucket}).dispatch()
    assert done.sent == 5 and done.unknown == 0 and len(channel.sent) == 5
    assert all(r.unknown == [] and r.requeued == 0 for r in recovered) and len(recovered) == 4


def test_a_rate_limited_channel_gets_no_more_connections_than_its_rate_keeps_busy():
    config = DispatchConfig(rates={"email": 10, "sms": 1, "whatsapp": 0}, workers={"email": 2, "sms": 4, "whatsapp": 4})
    assert (config.workers_for("email"), config.workers_for("sms"), config.workers_for("whatsapp")) == (2, 1, 4)
    assert (config.claim_size("email"), config.claim_size("sms"), config.claim_size("whatsapp")) == (20, 2, 50)
