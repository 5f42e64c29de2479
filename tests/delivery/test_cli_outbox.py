"""`journeys outbox status` and `journeys outbox send`: what they print, their exit codes, SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.store.db import open_database

from ..engine.helpers import run_cli
from .dispatch_helpers import START, http, queue, rows  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
TEST_CHANNELS = "tests.delivery.dispatch_channels:factory"


def test_status_counts_per_channel_and_status_with_examples(db_url, capsys, http):
    db = open_database(db_url)
    queue(db, ["a@shop.test", "b@shop.test"])
    queue(db, ["+15550001", "+15550002"], channel="sms")
    http.answer("+15550002", (400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}, {}))
    os.environ["JOURNEYS_TEST_HTTP_URL"] = http.url
    try:
        code, out, err = run_cli(capsys, "outbox", "send", "--once", "--db", db_url, "--channels", TEST_CHANNELS)
    finally:
        del os.environ["JOURNEYS_TEST_HTTP_URL"]
    assert code == 1                                   # a message failed, and email is not set up
    assert "1 sent, 1 failed" in out
    assert "email is not set up: 2 messages waiting" in err
    code, out, err = run_cli(capsys, "outbox", "status", "--db", db_url)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["channel", "queued", "sent", "failed"]
    assert lines[1].split() == ["email", "2", "0", "0"] and lines[2].split() == ["sms", "0", "1", "1"]
    assert any("[21211]" in line and "+15550002" in line for line in lines)
    db.dispose()


def test_status_of_an_empty_outbox(db_url, capsys):
    code, out, _ = run_cli(capsys, "outbox", "status", "--db", db_url)
    assert code == 0 and "empty" in out


def test_send_once_with_nothing_set_up_waits_and_says_so(db_url, capsys):
    db = open_database(db_url)
    queue(db, ["a@shop.test"])
    code, out, err = run_cli(capsys, "outbox", "send", "--once", "--db", db_url)
    assert code == 1 and "email is not set up: 1 message waiting" in err and "Traceback" not in err
    assert rows(db)["a@shop.test"]["status"] == "queued"
    db.dispose()


def test_send_with_unusable_channels_or_options_exits_2(db_url, capsys):
    code, _, err = run_cli(capsys, "outbox", "send", "--once", "--db", db_url, "--channels", "no.such.module:f")
    assert code == 2 and "--channels" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "outbox", "send", "--db", db_url, "--interval", "0")
    assert code == 2 and "--interval" in err


def test_sigterm_finishes_the_message_in_hand_and_exits(db_url, http, tmp_path):
    db = open_database(db_url)
    queue(db, [f"+1555000{i}" for i in range(6)], at=START, channel="sms")
    http.answer("+15550000", ("delay", 1.5))
    env = {**os.environ, "JOURNEYS_TEST_HTTP_URL": http.url, "PYTHONPATH": str(ROOT),
           "JOURNEYS_LOG_FILE": str(tmp_path / "child.log")}
    child = subprocess.Popen([sys.executable, "-m", "app.cli", "outbox", "send", "--db", db_url, "--channels",
                              TEST_CHANNELS, "--interval", "0.1"], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not http.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert http.requests, "the child sent nothing"
        child.send_signal(signal.SIGTERM)               # while the first message waits for its answer
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 0, err
    found = rows(db)
    assert found["+15550000"]["status"] == "sent"     # finished, and recorded
    # Up to one message per worker was in hand; the rest wait, unchanged, for the next run.
    in_hand = {r["key"] for r in http.requests}
    for row in found.values():
        if row["idempotency_key"] in in_hand:
            assert row["status"] == "sent"
        else:
            assert (row["status"], row["attempts"], row["claim"]) == ("queued", 0, None)
    assert len(in_hand) < 6
    db.dispose()
