"""`python -m app.intake` (tests and bench only) applies stored requests only while it holds the engine
lease: while the service or the app's window runs the engine it only stores them (that process applies
them), and once its lease is lost it stops applying at once."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import delete

from app.intake.standalone import LeasedApplier
from app.store.lease import Lease
from app.store.tables import engine_lease

from .test_segment import TRACK

ROOT = Path(__file__).resolve().parents[2]


def _post(receiver, mid: str) -> None:
    with receiver.client(auth=(receiver.token, "")) as http:
        assert http.post("/v1/track", json={**TRACK, "messageId": mid, "userId": f"u-{mid}"}).status_code == 200


def _until(check, what: str) -> None:
    for _ in range(1200):           # a thread applies: up to a minute on a loaded machine
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(what)


def test_it_stores_only_while_another_process_runs_the_engine_and_applies_once_it_takes_over(receiver):
    window = Lease(receiver.db, "app", ttl=60)
    assert window.acquire()
    leased = LeasedApplier(receiver.db, ttl=60, heartbeat=3600)    # rounds by hand: keeper.step()
    try:
        assert leased.keeper.step() is False and not leased.applying()
        _post(receiver, "m-1")
        leased.wake()
        assert receiver.inbox("new") == 1 and receiver.events() == []    # stored, applied by nobody here
        window.release()                                                  # the window closes
        assert leased.keeper.step() is True and leased.applying()
        _until(lambda: receiver.inbox("new") == 0, "not applied once the lease was taken")
        assert receiver.events() != []
    finally:
        leased.stop()
    assert Lease(receiver.db, "app").acquire()          # given back on stop: the next one takes it at once


def test_it_stops_applying_once_its_lease_is_taken_over(receiver):
    leased = LeasedApplier(receiver.db, ttl=60, heartbeat=3600)
    try:
        assert leased.keeper.step() is True
        _post(receiver, "m-1")
        leased.wake()
        _until(lambda: receiver.inbox("new") == 0, "the first request was not applied")
        with receiver.db.begin() as conn:                 # its lease ran out and the service took it
            conn.execute(delete(engine_lease))
        service = Lease(receiver.db, "service", ttl=60)
        assert service.acquire()
        assert leased.keeper.step() is False and leased.applier is None
        _post(receiver, "m-2")
        leased.wake()
        assert receiver.inbox("new") == 1               # left for the service's intake job
    finally:
        leased.stop()


def test_python_m_app_intake_says_it_is_for_tests_and_the_bench():
    done = subprocess.run([sys.executable, "-m", "app.intake", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "tests and the bench only" in " ".join(done.stdout.split())
    assert "engine lease" in done.stdout
