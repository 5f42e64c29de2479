"""The dispatcher against real local servers: what each answer makes of a message, and that nothing is
sent twice. SQLite files on disk, and PostgreSQL when JOURNEYS_TEST_PG_URL is set."""
from __future__ import annotations

from datetime import timedelta

from app.delivery.base import NotConfigured, Outgoing, Sent
from app.delivery.retry import RetryPolicy
from app.engine.clock import VirtualClock

from .dispatch_channels import message_id, open_test_channel
from .dispatch_helpers import START, db, dispatcher, http, queue, rows, smtp  # noqa: F401 - fixtures


def test_email_and_sms_go_out_once_each_and_are_marked_sent(db, smtp, http):
    clock = VirtualClock(START)
    queue(db, ["ann@shop.test", "bob@shop.test"])
    queue(db, ["+15550001"], channel="sms")
    done = dispatcher(db, clock, smtp, http).dispatch()
    assert (done.sent, done.failed, done.retried, done.unknown) == (3, 0, 0, 0)
    found = rows(db)
    assert sorted(smtp.accepted) == sorted(message_id(found[r]["idempotency_key"])
                                           for r in ("ann@shop.test", "bob@shop.test"))
    assert http.accepted == [found["+15550001"]["idempotency_key"]]
    for row in found.values():
        assert row["status"] == "sent" and row["sent_at"] == START and row["attempts"] == 1
        assert row["provider_id"] and row["claim"] is None and row["lease_until"] is None
    # A second round finds nothing to send: nothing goes twice.
    assert dispatcher(db, clock, smtp, http).dispatch().sent == 0
    assert len(smtp.accepted) == 2 and len(http.accepted) == 1


def test_smtp_421_450_451_are_passing_failures_retried_later(db, smtp):
    clock = VirtualClock(START)
    smtp.answer("busy@shop.test", "450 4.2.1 Mailbox busy, try later")
    smtp.answer("later@shop.test", "421 4.7.0 Too many connections, closing")
    smtp.answer("local@shop.test", "451 4.3.0 Local error in processing")
    queue(db, ["busy@shop.test", "later@shop.test", "local@shop.test", "fine@shop.test"])
    done = dispatcher(db, clock, smtp).dispatch()
    assert (done.sent, done.retried, done.failed) == (1, 3, 0)
    found = rows(db)
    for recipient, code in (("busy@shop.test", "450"), ("later@shop.test", "421"), ("local@shop.test", "451")):
        row = found[recipient]
        assert (row["status"], row["error_code"], row["attempts"]) == ("queued", code, 1)
        assert row["error"] and row["failed_at"] is None and row["claim"] is None
        # The first retry comes after 30 to 60 seconds (a minute's backoff, with jitter).
        assert START + timedelta(seconds=30) <= row["scheduled_at"] <= START + timedelta(seconds=60)
    assert dispatcher(db, clock, smtp).dispatch().sent == 0        # not due yet: nothing goes
    clock.advance(minutes=2)
    done = dispatcher(db, clock, smtp).dispatch()
    assert done.sent == 3
    found = rows(db)
    assert all(r["status"] == "sent" and r["error"] is None for r in found.values())
    assert found["busy@shop.test"]["attempts"] == 2
    assert len(smtp.accepted) == len(set(smtp.accepted)) == 4


def test_smtp_550_552_554_fail_at_once_with_the_servers_code_and_words(db, smtp):
    clock = VirtualClock(START)
    smtp.answer("nobody@shop.test", "550 5.1.1 No such user here")
    smtp.answer("full@shop.test", "552 5.2.2 Mailbox full")
    smtp.answer("spam@shop.test", "554 5.7.1 Message rejected as spam")
    queue(db, ["nobody@shop.test", "full@shop.test", "spam@shop.test"])
    done = dispatcher(db, clock, smtp).dispatch()
    assert (done.failed, done.retried, done.sent) == (3, 0, 0)
    found = rows(db)
    assert found["nobody@shop.test"]["error_code"] == "550"
    assert "No such user" in found["nobody@shop.test"]["error"]
    assert found["full@shop.test"]["error_code"] == "552" and found["spam@shop.test"]["error_code"] == "554"
    assert all(r["status"] == "failed" and r["failed_at"] == START for r in found.values())
    clock.advance(days=2)
    assert dispatcher(db, clock, smtp).dispatch().sent == 0       # never tried again
    assert smtp.accepted == []


def test_http_429_with_retry_after_is_honoured_and_holds_the_channel(db, http):
    clock = VirtualClock(START)
    http.answer("+15550001", (429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "600"}))
    queue(db, ["+15550001", "+15550002", "+15550003"], channel="sms")
    done = dispatcher(db, clock, http=http, workers={"sms": 1}).dispatch()
    found = rows(db)
    first = found["+15550001"]
    assert (first["status"], first["error_code"]) == ("queued", "429")
    assert first["scheduled_at"] >= START + timedelta(seconds=600)       # never sooner than the provider said
    # The provider asked the whole account to wait: the others were not sent into the same wall.
    assert done.sent == 0 and http.accepted == []
    assert all(found[r]["status"] == "queued" and found[r]["attempts"] == 0 for r in ("+15550002", "+15550003"))
    clock.advance(seconds=601)
    done = dispatcher(db, clock, http=http).dispatch()
    assert done.sent == 3 and sorted(http.accepted) == sorted(r["idempotency_key"] for r in rows(db).values())


def test_retry_after_longer_than_the_backoff_wins_and_a_short_one_does_not_shorten_it(db, http):
    clock = VirtualClock(START)
    http.answer("+15550001", (429, {"message": "slow down"}, {"Retry-After": "1"}))
    http.answer("+15550002", (503, {"message": "Service Unavailable"}, {}))
    queue(db, ["+15550001"], channel="sms")
    queue(db, ["+15550002"], channel="whatsapp")
    dispatcher(db, clock, http=http).dispatch()
    found = rows(db)
    assert found["+15550001"]["scheduled_at"] >= START + timedelta(seconds=30)     # backoff's own floor
    assert (found["+15550002"]["status"], found["+15550002"]["error_code"]) == ("queued", "503")


def test_http_4xx_errors_fail_at_once_with_the_providers_code(db, http):
    clock = VirtualClock(START)
    http.answer("+1555000", (400, {"code": 21211, "message": "The 'To' number +1555000 is not a valid phone number."}, {}))
    http.answer("+15550009", (400, {"code": 21614, "message": "'To' number is not a valid mobile number"}, {}))
    queue(db, ["+1555000", "+15550009"], channel="sms")
    done = dispatcher(db, clock, http=http).dispatch()
    found = rows(db)
    assert done.failed == 2
    assert (found["+1555000"]["status"], found["+1555000"]["error_code"]) == ("failed", "21211")
    assert "not a valid phone number" in found["+1555000"]["error"]
    assert found["+15550009"]["error_code"] == "21614"


def test_retries_stop_after_the_limit_and_the_message_fails(db, smtp):
    clock = VirtualClock(START)
    queue(db, ["busy@shop.test"])
    smtp.answer("busy@shop.test", *["450 4.2.1 Mailbox busy"] * 100)
    policy = RetryPolicy(retry_hours=2)
    attempts = 0
    while rows(db)["busy@shop.test"]["status"] == "queued":
        clock.set(rows(db)["busy@shop.test"]["scheduled_at"])
        dispatcher(db, clock, smtp, retry=policy).dispatch()
        attempts += 1
        assert attempts < 50
    row = rows(db)["busy@shop.test"]
    assert row["status"] == "failed" and row["error_code"] == "450" and "gave up" in row["error"]
    assert row["attempts"] == attempts
    assert START + timedelta(hours=2) == clock.now()       # the last try came at the limit, not later
    # Doubling from a minute: 1, 2, 4, 8, 16, 32, 60 … minutes fit about 7 to 9 tries in two hours.
    assert 6 <= attempts <= 12
    clock.advance(days=1)
    dispatcher(db, clock, smtp, retry=policy).dispatch()
    assert smtp.accepted == [] and rows(db)["busy@shop.test"]["attempts"] == attempts


def test_uncertain_becomes_unknown_and_is_never_resent(db, smtp, http):
    """The connection drops after the message was handed over: the server has it, the answer is lost."""
    clock = VirtualClock(START)
    smtp.answer("ann@shop.test", "drop")
    http.answer("+15550001", "drop")
    queue(db, ["ann@shop.test", "bob@shop.test"])
    queue(db, ["+15550001"], channel="sms")
    done = dispatcher(db, clock, smtp, http).dispatch()
    assert (done.unknown, done.sent) == (2, 1)
    found = rows(db)
    assert found["ann@shop.test"]["status"] == "unknown" and found["ann@shop.test"]["error_code"] == "lost"
    assert found["+15550001"]["status"] == "unknown"
    assert found["bob@shop.test"]["status"] == "sent"       # the next message on a fresh connection
    for _ in range(3):
        clock.advance(days=1)
        dispatcher(db, clock, smtp, http).dispatch()
    assert len(smtp.dropped) == 1 and len(http.requests) == 1     # each handed over exactly once, ever
    assert rows(db)["ann@shop.test"]["status"] == "unknown"


def test_a_channel_that_raises_something_else_leaves_the_message_unknown(db):
    clock = VirtualClock(START)

    class Broken:
        def send(self, message: Outgoing) -> Sent:
            raise RuntimeError("bug in the channel")

        def close(self) -> None:
            pass

    queue(db, ["ann@shop.test"])
    from app.delivery.dispatcher import Dispatcher

    done = Dispatcher(db, lambda name: Broken(), clock=clock).dispatch()
    row = rows(db)["ann@shop.test"]
    assert done.unknown == 1 and row["status"] == "unknown" and "bug in the channel" in row["error"]


def test_a_channel_that_is_not_set_up_keeps_its_messages_waiting(db, http):
    clock = VirtualClock(START)
    queue(db, ["ann@shop.test", "bob@shop.test", "cho@shop.test"])
    queue(db, ["+15550001"], channel="sms")
    done = dispatcher(db, clock, smtp=None, http=http).dispatch()
    assert done.sent == 1 and done.failed == 0
    assert done.notices() == ["email is not set up: 3 messages waiting (no test SMTP port)"]
    found = rows(db)
    for recipient in ("ann@shop.test", "bob@shop.test", "cho@shop.test"):
        assert (found[recipient]["status"], found[recipient]["attempts"], found[recipient]["error"]) == ("queued", 0, None)
        assert found[recipient]["scheduled_at"] == START
    clock.advance(days=5)           # days later, set up at last: they go (not failed for the wait)
    from .dispatch_servers import RecordingSmtp

    smtp = RecordingSmtp()
    try:
        done = dispatcher(db, clock, smtp, http).dispatch()
    finally:
        smtp.close()
    assert done.sent == 3 and len(smtp.accepted) == 3


def test_not_configured_from_send_gives_the_claim_back_unchanged(db):
    clock = VirtualClock(START)

    class NoSecret:
        def send(self, message: Outgoing) -> Sent:
            raise NotConfigured("no SMTP password is stored")

        def close(self) -> None:
            pass

    queue(db, [f"p{i}@shop.test" for i in range(7)])
    from app.delivery.dispatcher import Dispatcher

    done = Dispatcher(db, lambda name: NoSecret(), clock=clock).dispatch()
    assert done.notices() == ["email is not set up: 7 messages waiting (no SMTP password is stored)"]
    assert all((r["status"], r["attempts"], r["claim"]) == ("queued", 0, None) for r in rows(db).values())


def test_connection_refused_is_a_passing_failure_on_every_channel(db):
    """No server listens (it is down, or restarting): each message waits for its retry, none fails."""
    from .dispatch_servers import free_port
    from app.delivery.dispatcher import Dispatcher

    clock = VirtualClock(START)
    port = free_port()                      # nothing listens there
    queue(db, ["ann@shop.test"])
    queue(db, ["+15550001"], channel="sms")
    queue(db, ["+15550002"], channel="whatsapp")
    done = Dispatcher(db, lambda name: open_test_channel(name, port, f"http://127.0.0.1:{port}"),
                      clock=clock).dispatch()
    assert (done.retried, done.failed, done.unknown) == (3, 0, 0)
    assert {(r["status"], r["error_code"]) for r in rows(db).values()} == {("queued", "connect")}


def test_meta_whatsapp_errors_fail_at_once_with_their_code(db, http):
    clock = VirtualClock(START)
    http.answer("+15550001", (400, {"code": 131047, "message": "Re-engagement message: more than 24 hours have "
                                                               "passed since the customer last replied"}, {}))
    http.answer("+15550002", (400, {"code": 131026, "message": "Message undeliverable"}, {}))
    queue(db, ["+15550001", "+15550002"], channel="whatsapp")
    done = dispatcher(db, clock, http=http).dispatch()
    found = rows(db)
    assert done.failed == 2
    assert (found["+15550001"]["error_code"], found["+15550002"]["error_code"]) == ("131047", "131026")
    assert "24 hours" in found["+15550001"]["error"]
