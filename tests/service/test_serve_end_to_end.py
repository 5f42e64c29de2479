"""Issue 13, "done when" (the service's part): with `journeys serve` running in a child process and no
app open, a checkout that is not followed by an order gets its reminder email an hour later (virtual
time) at a real SMTP server; an order during the hour ends the run instead; kill -9 of the service and
a restart lose nothing and send nothing twice; two services on one database run one engine.

Events arrive through `journeys events import` into the same database (the receiver, issue 13 §2, is
another branch; the service runs it when it is installed). Every process reads one virtual clock
(a file: JOURNEYS_TEST_CLOCK, test-only).
"""
from __future__ import annotations

import json
import signal
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from app.store.lease import current_holder

from ..delivery.smtp_servers import SmtpServer, smtp_plain_server  # noqa: F401 - fixture
from .children import Shop, arrived, wait_until


@pytest.fixture
def shop(tmp_path: Path, smtp_plain_server: SmtpServer) -> Iterator[Shop]:  # noqa: F811
    made = Shop(tmp_path, smtp_plain_server)
    yield made
    made.close()


@pytest.fixture
def shop_any(tmp_path: Path, smtp_plain_server: SmtpServer, any_url: str) -> Iterator[Shop]:  # noqa: F811
    """The shop on a SQLite file, and on PostgreSQL when JOURNEYS_TEST_PG_URL is set."""
    made = Shop(tmp_path, smtp_plain_server, url=any_url)
    yield made
    made.close()


def _health(url: str, db) -> dict:
    """GET /health: the receiver's (token needed), with the engine's state from the service."""
    from app.intake.config import receiver_token

    request = urllib.request.Request(f"{url}/health", headers={"Authorization": f"Bearer {receiver_token(db)}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        found = json.loads(answer.read())
    return {key: found[key] for key in ("status", "engine", "holder")}


def test_the_cart_email_reaches_the_smtp_server_an_hour_later_with_no_app_open(shop, smtp_plain_server):
    smtp = smtp_plain_server
    service = shop.serve()
    service.wait_for("Engine: running in this service")
    assert service.said("Test clock: the time is read from ")        # said loudly: it is never for real use
    shop.checkout("ann")
    shop.checkout("bob")
    assert shop.run_status("ann") == ["active"]
    shop.advance(minutes=30)
    shop.order("bob")                                   # bob orders during the wait: his run ends
    assert shop.run_status("bob") == ["exited"]
    assert arrived(smtp, "ann@shop.example") == []      # not before the hour
    shop.advance(minutes=31)
    mails = wait_until(lambda: arrived(smtp, "ann@shop.example"), "ann's reminder at the SMTP server")
    message = mails[0].message
    assert message["Subject"] == "Ann, your order is one step away"
    assert "https://cornershop.example/cart/ann" in message.get_body(("plain",)).get_content()
    wait_until(lambda: [m for m in shop.messages() if m["recipient"] == "ann@shop.example"
                        and m["status"] == "sent"], "ann's message recorded as sent")
    assert arrived(smtp, "bob@shop.example") == []
    assert [m["recipient"] for m in shop.messages()] == ["ann@shop.example"]     # nothing queued for bob
    assert service.terminate() == 0
    log = [json.loads(line) for line in (shop.tmp / "service-0.jsonl").read_text().splitlines()]
    assert any(entry.get("job") == "outbox" and entry.get("sent") == 1 for entry in log)
    assert log[-1]["event"] == "stopped"


def test_sigterm_and_sigint_stop_cleanly_and_give_the_lease_back(shop):
    for sig in (signal.SIGTERM, signal.SIGINT):
        service = shop.serve()
        service.wait_for("Engine: running in this service")
        assert current_holder(shop.db).pid == service.pid
        assert _health(service.url, shop.db) == {"status": "ok", "engine": "running", "holder": None}
        assert service.terminate(sig) == 0
        assert service.lines[-2:] == ["Stopping: finishing the batch in hand…", "Stopped."]
        assert current_holder(shop.db) is None           # another process may take over at once


def test_sigterm_while_sending_finishes_the_message_in_hand_and_a_restart_sends_the_rest(tmp_path,
                                                                                       smtp_plain_server):
    """40 reminders due at once, sent at 10 a second: SIGTERM lands while they go out. The service
    stops cleanly (exit 0) with no message left "sending" or of unknown fate; the next one sends the rest,
    each exactly once."""
    smtp = smtp_plain_server
    names = tuple(f"c{i:02d}" for i in range(40))
    shop = Shop(tmp_path, smtp, contacts=names, rate=10)
    try:
        service = shop.serve()
        service.wait_for("Engine: running in this service")
        shop.checkout(*names)
        shop.advance(hours=1, minutes=1)
        wait_until(lambda: smtp.received, "the first reminder")
        assert service.terminate() == 0
        statuses = Counter(m["status"] for m in shop.messages())
        assert set(statuses) <= {"sent", "queued"} and statuses["queued"] > 0, statuses    # stopped mid-way
        assert statuses["sent"] == len(smtp.received)            # what went out is recorded as sent
        again = shop.serve()
        again.wait_for("Engine: running in this service")
        wait_until(lambda: len(smtp.received) >= len(names), "every reminder")
        wait_until(lambda: all(m["status"] == "sent" for m in shop.messages()), "every message recorded")
        assert again.terminate() == 0
        assert sorted(r for m in smtp.received for r in m.rcpt_tos) == [f"{n}@shop.example" for n in names]
    finally:
        shop.close()


def test_kill_9_and_restart_lose_nothing_and_send_nothing_twice(shop, smtp_plain_server):
    smtp = smtp_plain_server
    first = shop.serve("--lease-seconds", "15")          # long enough to see the next one wait for it
    first.wait_for("Engine: running in this service")
    shop.checkout("ann")
    first.kill()                                          # dies while ann waits for her hour
    second = shop.serve()
    shop.checkout("cho")                                  # an event while no engine runs
    # The dead service's lease has not expired yet: the new one waits, then takes over.
    assert "the background service (pid %d" % first.pid in second.wait_for("Engine: waiting")
    second.wait_for("Engine: running in this service")
    shop.advance(hours=1, minutes=1)
    wait_until(lambda: arrived(smtp, "ann@shop.example") and arrived(smtp, "cho@shop.example"),
               "both reminders after the restart")
    second.kill()                                         # right after sending: maybe before recording
    third = shop.serve()
    third.wait_for("Engine: running in this service")
    shop.advance(days=1, hours=1)                         # the second reminder, a day later
    wait_until(lambda: len(arrived(smtp, "ann@shop.example")) >= 2 and len(arrived(smtp, "cho@shop.example")) >= 2,
               "the second reminders")
    wait_until(lambda: all(m["status"] in ("sent", "unknown") for m in shop.messages()), "every message recorded")
    assert third.terminate() == 0
    counts = Counter(m.message_id for m in smtp.received)
    assert set(counts.values()) == {1}, counts             # no message arrived twice
    subjects = sorted(m.message["Subject"] for m in smtp.received)
    assert subjects == sorted(["Ann, your order is one step away", "Cho, your order is one step away",
                               "Still thinking it over? 10% off your order"] + ["Still thinking it over? 10% off "
                                                                                "your order"])
    assert len(shop.messages()) == 4                       # one row per message: none lost, none doubled


def test_two_services_on_one_database_run_one_engine(shop_any, smtp_plain_server):
    shop, smtp = shop_any, smtp_plain_server
    one, two = shop.serve(), shop.serve()
    wait_until(lambda: (one.said("Engine: ") and two.said("Engine: ")), "both services to say who runs the engine")
    running = [s for s in (one, two) if s.said("Engine: running in this service")]
    waiting = [s for s in (one, two) if s.said("Engine: waiting")]
    assert len(running) == 1 and len(waiting) == 1
    runner, other = running[0], waiting[0]
    assert current_holder(shop.db).pid == runner.pid
    assert _health(runner.url, shop.db)["engine"] == "running"
    assert _health(other.url, shop.db)["engine"] == "waiting" and _health(other.url, shop.db)["holder"]["pid"] == runner.pid
    shop.checkout("ann")
    shop.advance(hours=1, minutes=1)
    wait_until(lambda: arrived(smtp, "ann@shop.example"), "ann's reminder")
    wait_until(lambda: [m for m in shop.messages() if m["status"] == "sent"], "the message recorded as sent")
    assert runner.terminate() == 0                         # the one running stops: the other takes over at once
    other.wait_for("Engine: running in this service")
    shop.checkout("bob")
    shop.advance(hours=1, minutes=1)
    wait_until(lambda: arrived(smtp, "bob@shop.example"), "bob's reminder from the second service")
    assert len(arrived(smtp, "ann@shop.example")) == 1
    assert other.terminate() == 0
