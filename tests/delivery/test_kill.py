"""The kill test (issue 10): `journeys outbox send` in a child process, against real local servers in this
process, is killed with SIGKILL at random moments (a fixed seed) 50 times and restarted each time,
then runs once cleanly. No message may arrive twice, none may be lost, and every message that arrived
is marked `sent` — or `unknown`, when the kill came between handing it over and recording it.

The child sends through the product's real channels (EmailChannel over SMTP to an aiosmtpd server,
TwilioChannel to a FakeTwilio speaking Twilio's Messages API), both servers in this process: see
real_channels.py.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from app.delivery.dispatcher import DEFAULT_WORKERS
from app.delivery.email_message import message_id_for
from app.delivery.unsubscribe import signing_key
from app.delivery.settings import load_settings, save_settings
from app.store.db import open_database

from .dispatch_helpers import START, queue, rows, smtp  # noqa: F401 - fixtures
from .provider_servers import twilio  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = "tests.delivery.real_channels:factory"
KILLS = 50
TOP_UP = 100           # messages (half email, half SMS) added whenever fewer than this wait: the child is
                       # always busy when killed, however fast this machine sends
LEASE = 0.5            # seconds: a killed child's claims are recovered by the next one soon after


def _child(url: str, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "app.cli", "outbox", "send", "--db", url, "--channels", CHANNELS,
                             "--lease", str(LEASE), *extra], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def test_kill_9_at_random_moments_never_sends_a_message_twice_nor_loses_one(tmp_path, smtp, twilio):
    _kill_test(f"sqlite:///{tmp_path / 'kill.sqlite3'}", tmp_path, smtp, twilio, KILLS, dispatchers=1)


def test_two_dispatchers_at_once_killed_at_random_never_send_twice_nor_lose(any_url, tmp_path, smtp, twilio):
    """The app and `journeys outbox send` on one database (a SQLite file, and PostgreSQL when configured),
    both killed with SIGKILL at random moments, again and again, while both send."""
    _kill_test(any_url, tmp_path, smtp, twilio, KILLS // 2, dispatchers=2)


def _kill_test(url: str, tmp_path: Path, smtp, twilio, kills: int, dispatchers: int) -> None:  # noqa: ANN001
    db = open_database(url)
    settings = load_settings(db)
    settings.email.rate_per_second = settings.sms.rate_per_second = 0      # the providers' limits off
    save_settings(db, settings)
    total = 0

    def top_up() -> None:
        nonlocal total
        if sum(r["status"] == "queued" for r in rows(db).values()) < TOP_UP:
            queue(db, [f"c{total + i}@shop.example" for i in range(TOP_UP // 2)], at=START)
            queue(db, [f"+447700{total + i:06d}" for i in range(TOP_UP // 2)], at=START, channel="sms")
            total += TOP_UP

    env = {**os.environ, "PYTHONPATH": str(ROOT), "JOURNEYS_TEST_SMTP_PORT": str(smtp.port),
           "JOURNEYS_TEST_TWILIO_URL": twilio.url, "JOURNEYS_TEST_TWILIO_SID": twilio.account_sid,
           "JOURNEYS_TEST_TWILIO_FROM": twilio.number, "JOURNEYS_TWILIO_AUTH_TOKEN": twilio.auth_token,
           "JOURNEYS_LOG_FILE": str(tmp_path / "child.log")}

    def texts() -> list[str]:
        with twilio.lock:
            return [m["to"] for m in twilio.messages.values()]

    rng = random.Random(20261130)
    progress = []
    for _ in range(kills):
        top_up()
        child = _child(url, env, "--interval", "0.05")
        others = [_child(url, env, "--interval", "0.05") for _ in range(dispatchers - 1)]
        assert child.stdout is not None
        before = len(smtp.accepted) + len(texts())
        child.stdout.readline()                   # "Sending due messages…": the dispatcher is up
        deadline = time.monotonic() + 20          # its channels are opened (imported) on first use
        while len(smtp.accepted) + len(texts()) == before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.15))          # then somewhere while messages are going out
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        for other in others:                      # the second dispatcher dies a moment later
            time.sleep(rng.uniform(0, 0.1))
            other.send_signal(signal.SIGKILL)
            other.wait(timeout=30)
        progress.append(len(smtp.accepted) + len(texts()))
    time.sleep(LEASE + 0.1)                       # the last child's leases run out
    for _ in range(3):                            # then clean runs until nothing is left to do
        final = _child(url, env, "--once")
        final.communicate(timeout=120)
        statuses = Counter(r["status"] for r in rows(db).values())
        if not statuses["queued"] and not statuses["sending"]:
            break
    found = rows(db)
    by_key = {r["idempotency_key"]: r for r in found.values()}
    salt = signing_key(db)       # the channel salts Message-IDs with the database's key
    email_keys = {message_id_for(r["idempotency_key"], "dispatch.example", salt): r["idempotency_key"]
                  for r in found.values() if r["channel"] == "email"}
    sms_keys = {r["recipient"]: r["idempotency_key"] for r in found.values() if r["channel"] == "sms"}
    received = [email_keys[m] for m in smtp.accepted] + [sms_keys[to] for to in texts()]
    twice = [k for k, n in Counter(received).items() if n > 1]
    assert twice == [], f"sent twice: {twice[:5]}"
    assert set(received) <= set(by_key)
    statuses = Counter(r["status"] for r in found.values())
    assert set(statuses) <= {"sent", "unknown"}, statuses            # nothing queued or sending is left
    for key, row in by_key.items():
        if row["status"] == "sent":
            assert key in received, f"marked sent, never arrived: {key}"
    for key in received:
        assert by_key[key]["status"] in ("sent", "unknown")
    # At most one message per claim in flight when killed: one per worker per kill.
    assert statuses["unknown"] <= kills * dispatchers * (DEFAULT_WORKERS["email"] + DEFAULT_WORKERS["sms"])
    assert statuses["sent"] + statuses["unknown"] == total
    # The kills fell while messages were going out, not after everything was done.
    assert sum(1 for before, after in zip([0, *progress], progress) if after > before) >= kills // 2, progress
    print(f"kill test: {kills} kills of {dispatchers} dispatcher(s), {statuses['sent']} sent, {statuses['unknown']} unknown "
          f"({sum(k in received for k, r in by_key.items() if r['status'] == 'unknown')} of them arrived)")
    db.dispose()
