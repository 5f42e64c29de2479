"""Faults found in review of the dispatcher: an absurd Retry-After, a claim taken over while its
message was still with a slow server, and the outbox commands' bounds (no traceback, exit 2)."""
from __future__ import annotations

import math
from datetime import timedelta

import httpx
import pytest

from app.delivery.base import Outgoing, Sent, Transient
from app.delivery.dispatcher import DispatchConfig, Dispatcher
from app.delivery.httpapi import retry_after
from app.delivery.retry import RetryPolicy
from app.engine.clock import VirtualClock
from app.store.db import open_database

from ..engine.helpers import run_cli
from .dispatch_helpers import START, db, queue, rows  # noqa: F401 - fixtures


class TooManyRequests:
    """A provider answering 429 with the given Retry-After header, read as the real channels read it."""

    def __init__(self, header: str) -> None:
        self.header, self.calls = header, 0

    def send(self, message: Outgoing) -> Sent:
        self.calls += 1
        response = httpx.Response(429, headers={"Retry-After": self.header})
        raise Transient("Too Many Requests", code="429", retry_after=retry_after(response, START))

    def close(self) -> None:
        pass


@pytest.mark.parametrize("header", ["99999999999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT", "90000"])
def test_a_retry_after_beyond_the_retry_limit_fails_the_message_once_instead_of_looping(db, header):
    """Before: 1e26 seconds overflowed a timedelta, the message went back to the queue uncounted and was
    tried again every round; a Retry-After past the 24-hour limit now fails it at once, saying why."""
    clock = VirtualClock(START)
    queue(db, ["+15550001"], channel="sms")
    channel = TooManyRequests(header)
    done = Dispatcher(db, lambda name: channel, clock=clock,
                      config=DispatchConfig(retry=RetryPolicy(retry_hours=24))).dispatch()
    row = rows(db)["+15550001"]
    assert (done.failed, row["status"], row["error_code"], row["attempts"]) == (1, "failed", "429", 1)
    assert "Retry-After" in row["error"] or "retry limit" in row["error"]
    clock.advance(hours=2)
    Dispatcher(db, lambda name: channel, clock=clock).dispatch()
    assert channel.calls == 1                          # never asked again


@pytest.mark.parametrize("seconds", [1e26, math.inf, 86_401.0])
def test_the_retry_policy_never_overflows_on_a_huge_retry_after(seconds):
    assert RetryPolicy(retry_hours=24).next_attempt(1, START, START, retry_after=seconds) is None
    assert RetryPolicy(retry_hours=24).next_attempt(1, START, START, retry_after=600) >= START + timedelta(minutes=10)


class SlowThenTakenOver:
    """Sends the first message 'slowly': while it is with the server, a second dispatcher finds the
    claim's lease expired and takes it over (the clock jumps past the lease)."""

    def __init__(self, db, clock: VirtualClock, answer: Exception | None = None) -> None:
        self.db, self.clock, self.answer = db, clock, answer
        self.sent: list[str] = []
        self.other: Dispatcher | None = None

    def send(self, message: Outgoing) -> Sent:
        if not self.sent and self.other is None:
            self.clock.advance(minutes=10)                       # slower than the 5-minute lease
            self.other = Dispatcher(self.db, lambda name: Plain(self.sent), clock=self.clock)
            self.other.dispatch()                                # recovers, then sends the rest
            if self.answer is not None:
                raise self.answer
        self.sent.append(message.recipient)
        return Sent(f"<{message.recipient}>")

    def close(self) -> None:
        pass


class Plain:
    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    def send(self, message: Outgoing) -> Sent:
        self.sent.append(message.recipient)
        return Sent(f"<{message.recipient}>")

    def close(self) -> None:
        pass


def test_a_message_still_with_a_slow_server_when_its_claim_is_taken_over_gets_its_real_fate(db):
    """Before: the takeover marked it `unknown` for good although the slow dispatcher learnt a moment
    later that it was sent; now the real answer replaces the guess. Nothing goes twice."""
    clock = VirtualClock(START)
    queue(db, ["a@shop.test", "b@shop.test", "c@shop.test"])
    slow = SlowThenTakenOver(db, clock)
    Dispatcher(db, lambda name: slow, clock=clock, config=DispatchConfig(workers={"email": 1})).dispatch()
    assert sorted(slow.sent) == ["a@shop.test", "b@shop.test", "c@shop.test"]     # each once
    found = rows(db)
    assert {r: found[r]["status"] for r in found} == {r: "sent" for r in found}
    assert found["a@shop.test"]["provider_id"] == "<a@shop.test>" and found["a@shop.test"]["error"] is None


def test_a_passing_failure_learnt_after_a_takeover_queues_the_message_again(db):
    clock = VirtualClock(START)
    queue(db, ["a@shop.test", "b@shop.test"])
    slow = SlowThenTakenOver(db, clock, Transient("451 4.3.0 try later", code="451"))
    Dispatcher(db, lambda name: slow, clock=clock, config=DispatchConfig(workers={"email": 1})).dispatch()
    found = rows(db)
    assert found["a@shop.test"]["status"] == "queued" and found["a@shop.test"]["error_code"] == "451"
    assert found["b@shop.test"]["status"] == "sent" and slow.sent == ["b@shop.test"]


def test_a_message_resent_by_hand_meanwhile_is_left_alone(db):
    """The late answer replaces only the takeover's own guess, not what a person did since."""
    from app.delivery.unknown import resend

    clock = VirtualClock(START)
    queue(db, ["a@shop.test"])

    class ResentMeanwhile(SlowThenTakenOver):
        def send(self, message: Outgoing) -> Sent:
            if self.other is None:
                self.clock.advance(minutes=10)
                self.other = Dispatcher(self.db, lambda name: Plain([]), clock=self.clock)
                from app.delivery.claims import recover_expired

                recover_expired(self.db, self.clock.now())
                assert resend(self.db, [message.message_id], self.clock.now() + timedelta(hours=1)) == 1
            return Sent("<late>")

    Dispatcher(db, lambda name: ResentMeanwhile(db, clock), clock=clock).dispatch()
    row = rows(db)["a@shop.test"]
    assert row["status"] == "queued" and row["provider_id"] is None


@pytest.mark.parametrize("args", [
    ("outbox", "status", "--examples", "-1"),
    ("outbox", "status", "--examples", "many"),
    ("outbox", "unknown", "--limit", "-3"),
    ("outbox", "resend", "99999999999999999999"),
    ("outbox", "resend", "²"),
    ("outbox", "send", "--once", "--lease", "inf"),
    ("outbox", "send", "--once", "--lease", "1e300"),
    ("outbox", "send", "--once", "--interval", "nan"),
])
def test_outbox_commands_refuse_out_of_range_numbers_with_exit_2_and_no_traceback(any_url, capsys, args):
    open_database(any_url).dispose()
    code, out, err = run_cli(capsys, *args, "--db", any_url)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "internal error" not in err


def test_outbox_unknown_with_limit_0_does_not_claim_there_are_none(db_url, capsys):
    db = open_database(db_url)
    queue(db, ["a@shop.test"], status="unknown")
    db.dispose()
    # A limit below 1 is refused, naming it (exit 2), rather than read as "show none" and say there are none.
    code, out, err = run_cli(capsys, "outbox", "unknown", "--limit", "0", "--db", db_url)
    assert code == 2 and "No messages" not in out + err and "'0' is not a count" in err
    code, out, err = run_cli(capsys, "outbox", "unknown", "--limit", "1", "--db", db_url)
    assert code == 0 and "a@shop.test" in out


def broken_factory(db):
    """`--channels` entry point whose channels cannot even be opened (a bug, a broken keyring)."""
    def open_channel(name: str):
        raise RuntimeError(f"the {name} channel's constructor broke")
    return open_channel


def test_a_channel_that_cannot_be_opened_is_said_not_hidden(db):
    """Before: the worker's exception was only logged; the round said nothing, `outbox send --once`
    printed "Nothing was due." and exited 0 while the message waited, and the app showed nothing."""
    queue(db, ["a@shop.test"])
    done = Dispatcher(db, broken_factory(db), clock=VirtualClock(START)).dispatch()
    assert done.notices() == ["email could not send: RuntimeError: the email channel's constructor broke (its "
                              "messages wait; the details are in the log)"]
    assert rows(db)["a@shop.test"]["status"] == "queued"


def test_outbox_send_exits_1_and_says_why_when_a_channel_cannot_be_opened(db_url, capsys):
    db = open_database(db_url)
    queue(db, ["a@shop.test"])
    db.dispose()
    code, out, err = run_cli(capsys, "outbox", "send", "--once", "--db", db_url, "--channels",
                             "tests.delivery.test_dispatch_review:broken_factory")
    assert code == 1 and "Nothing was due" not in out
    assert "email could not send" in err and "constructor broke" in err and "Traceback" not in err


def test_a_recovery_racing_the_slow_owners_record_never_queues_the_message_being_sent(any_url):
    """PostgreSQL (READ COMMITTED): dispatcher B finds A's claim expired and picks its first message M;
    before B marks M, slow A records M as sent and hands M+1 to the server. Before: B's mark of M
    matched nothing and B queued M+1 again with the rest, so it was sent twice; now B locks the claim's
    rows first and marks the one really in flight (M+1) `unknown`."""
    if not any_url.startswith("postgresql"):
        pytest.skip("SQLite's recovery holds the write lock from its first read: no race")
    from sqlalchemy import event

    from app.delivery import claims
    from app.delivery.outcomes import SENT, Result, record_result
    from app.store.sql import write_transaction

    a_db, b_db = open_database(any_url), open_database(any_url)
    try:
        ids = queue(a_db, ["m@shop.test", "n@shop.test", "o@shop.test"])
        batch = claims.claim(a_db, "email", START, 10, timedelta(minutes=5))
        assert [m.id for m in batch.messages] == ids
        raced: list[bool] = []
        seen: list[str] = []

        def a_records_m_meanwhile(conn, cursor, statement, parameters, context, executemany):
            # Right after B's first look at the outbox, before its next statement on it.
            if "messages" in statement.lower():
                seen.append(statement)
            if len(seen) == 2 and not raced:
                raced.append(True)
                with write_transaction(a_db) as a_conn:      # A: M went out; M+1 is handed over next
                    assert record_result(a_conn, batch.messages[0], batch.token, Result(SENT, "<m>"), START)

        event.listen(b_db, "before_cursor_execute", a_records_m_meanwhile)
        recovered = claims.recover_expired(b_db, START + timedelta(minutes=10))
        event.remove(b_db, "before_cursor_execute", a_records_m_meanwhile)
        assert raced
        found = rows(a_db)
        assert found["m@shop.test"]["status"] == "sent"
        assert found["n@shop.test"]["status"] == "unknown"        # A may be sending it: never queued again
        assert found["o@shop.test"]["status"] == "queued"
        assert recovered.unknown == [ids[1]]
    finally:
        a_db.dispose()
        b_db.dispose()


def _contacts(db) -> None:
    from datetime import timezone as tz

    from app.engine.contact_import import import_contacts
    from app.engine.importers import parse_contacts

    from ..engine.helpers import CONTACTS

    rows_, _ = parse_contacts(CONTACTS)
    import_contacts(db, rows_, START.astimezone(tz.utc))


def _set_status(db, journey_id: str, status: str) -> None:
    from app.store.tables import journeys

    with db.begin() as conn:
        conn.execute(journeys.update().where(journeys.c.id == journey_id).values(status=status))


@pytest.mark.parametrize("change", ["opt-out", "pause", "stop"])
def test_what_comes_while_a_message_waits_for_the_rates_turn_still_holds_it_back(db, change):
    """Under a rate limit a message waits for its turn after it was last judged (at one SMS a second,
    seconds; at 0.1/s, ten). Before: an opt-out (or a pause, a stop) that came during that wait was not
    seen and the message went; now a message that had to wait is judged again right before it goes."""
    from app.delivery.ratelimit import TokenBucket
    from app.engine.consent import set_by_hand
    from app.store.journeys import JourneyStore
    from app.journey.fileformat import to_document

    from ..engine.helpers import send_node, simple_journey

    _contacts(db)
    journey = simple_journey()
    send_node(journey, "sms")
    journey_id = JourneyStore(db).create(to_document(journey)).id
    _set_status(db, journey_id, "active")
    queue(db, ["+15550003"], channel="sms", contact_id="cho", journey_id=journey_id)
    queue(db, ["+15550001"], channel="sms", contact_id="ann", journey_id=journey_id)
    clock = VirtualClock(START)
    fake_now = [0.0]

    def meanwhile(seconds: float) -> bool:            # the wait for the second message's turn
        fake_now[0] += seconds
        if change == "opt-out":
            set_by_hand(db, "ann", "sms", "unsubscribed", clock.now(), "reply STOP")
        else:
            _set_status(db, journey_id, "paused" if change == "pause" else "stopped")
        return False

    bucket = TokenBucket(1.0, 1.0, clock=lambda: fake_now[0], wait=meanwhile)
    sent: list[str] = []
    done = Dispatcher(db, lambda name: Plain(sent), clock=clock, config=DispatchConfig(rates={"sms": 1.0}),
                      buckets={"email": TokenBucket(0), "sms": bucket, "whatsapp": TokenBucket(0)}).dispatch()
    assert sent == ["+15550003"]
    expected = {"opt-out": "cancelled", "pause": "queued", "stop": "cancelled"}[change]
    assert rows(db)["+15550001"]["status"] == expected
    assert done.sent == 1


def test_a_clock_set_back_does_not_hold_a_channel_until_it_catches_up(db):
    """A 429 with Retry-After holds the channel for a while (at most an hour). Before: when the
    computer's clock was then set back a day, the channel stood still for a day; now a hold reaching
    further than any hold can is void."""
    clock = VirtualClock(START)
    queue(db, ["+15550001"], channel="sms")
    calls: list[str] = []

    class Busy:
        def send(self, message: Outgoing) -> Sent:
            calls.append(message.recipient)
            if len(calls) == 1:
                raise Transient("Too Many Requests", code="429", retry_after=600)
            return Sent("SM1")

        def close(self) -> None:
            pass

    channel = Busy()
    dispatcher = Dispatcher(db, lambda name: channel, clock=clock)
    dispatcher.dispatch()
    clock._now = START - timedelta(days=1)              # the computer's clock is set back a day
    queue(db, ["+15550002"], channel="sms", at=START - timedelta(days=1))
    done = dispatcher.dispatch()
    assert done.sent == 1 and calls == ["+15550001", "+15550002"]


def test_a_message_changed_under_its_claim_does_not_strand_the_rest_as_unknown(db):
    """While the first message of a claim is with the server, its row is changed by someone else (a
    failure report naming it marks it `failed`). Before: the dispatcher gave up on the claim without
    giving the rest back; they stayed `sending` until the lease ran out and then the next one became
    `unknown` although it was never handed over. Now they go back to the queue and out once."""
    from sqlalchemy import update

    from app.store.tables import messages

    clock = VirtualClock(START)
    ids = queue(db, ["a@shop.test", "b@shop.test", "c@shop.test"])
    sent: list[str] = []

    class ReportedMeanwhile:
        def send(self, message: Outgoing) -> Sent:
            if not sent:
                with db.begin() as conn:
                    conn.execute(update(messages).where(messages.c.id == ids[0]).values(status="failed"))
            sent.append(message.recipient)
            return Sent(None)

        def close(self) -> None:
            pass

    Dispatcher(db, lambda name: ReportedMeanwhile(), clock=clock, config=DispatchConfig(workers={"email": 1})).dispatch()
    clock.advance(minutes=10)                       # past any lease
    Dispatcher(db, lambda name: ReportedMeanwhile(), clock=clock).dispatch()
    found = rows(db)
    assert found["b@shop.test"]["status"] == found["c@shop.test"]["status"] == "sent"
    assert sorted(sent) == ["a@shop.test", "b@shop.test", "c@shop.test"]       # each once
