"""kill -9 of the receiver under load, then a restart: every request that got a 2xx is stored exactly
once, and the senders' retries of the unanswered ones are stored once too (the receiver runs as a
child process: `python -m app.intake`)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from app.engine.engine import JourneyEngine
from app.intake.apply import apply_pending
from app.intake.config import receiver_token
from app.store.db import open_database
from app.store.tables import events, intake_requests

from .conftest import free_port
from .test_segment import TRACK

ROOT = Path(__file__).resolve().parents[2]


def _child(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JOURNEYS_LOG_FILE": str(log)}
    return subprocess.Popen([sys.executable, "-m", "app.intake", "--db", url, "--listen", f"127.0.0.1:{port}"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "ab"))


def _ready(base: str, token: str, child: subprocess.Popen[bytes]) -> None:
    for _ in range(2400):          # up to two minutes on a loaded machine
        assert child.poll() is None, "the receiver exited"
        try:
            if httpx.get(f"{base}/health", headers={"Authorization": f"Bearer {token}"}, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("the receiver did not come up")


def _sender(base: str, token: str, ids: list[str], answered: set[str], lock: threading.Lock,
            stop: threading.Event) -> None:
    with httpx.Client(base_url=base, timeout=5, auth=(token, "")) as http:
        for mid in ids:
            if stop.is_set():
                return
            try:
                answer = http.post("/v1/track", json={**TRACK, "messageId": mid, "userId": f"c-{mid[:6]}",
                                                     "event": "Product Viewed", "properties": {"sku": mid}})
            except httpx.HTTPError:
                continue            # no answer: the sender will retry it
            if answer.status_code == 200:
                with lock:
                    answered.add(mid)


def test_kill_9_under_load_loses_no_answered_request_and_doubles_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    db = open_database(url)
    token = receiver_token(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    child = _child(url, port, tmp_path / "receiver.log")
    sent = [f"m{n:05d}-{c}" for c in range(8) for n in range(3000)]
    answered: set[str] = set()
    lock, stop = threading.Lock(), threading.Event()
    try:
        _ready(base, token, child)
        senders = [threading.Thread(target=_sender, args=(base, token, sent[c::8], answered, lock, stop))
                   for c in range(8)]
        for s in senders:
            s.start()
        while len(answered) < 400:          # under load: hundreds answered, many more in flight
            assert child.poll() is None
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        stop.set()
        for s in senders:
            s.join(timeout=30)
        taken = set(answered)
        with db.connect() as conn:
            stored = set(conn.execute(select(intake_requests.c.idempotency_key)).scalars())
        assert {f"segment:{m}" for m in taken} <= stored           # every 2xx was on disk before its answer
        # Restart; the senders retry what got no answer, and (as senders do) some that did.
        child = _child(url, port, tmp_path / "receiver.log")
        _ready(base, token, child)
        retried = [m for m in sent if m not in taken][:600] + sorted(taken)[:200]
        again: set[str] = set()
        _sender(base, token, retried, again, lock, threading.Event())
        assert again == set(retried)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)
    apply_pending(JourneyEngine(db))        # whatever the child had not applied yet
    with db.connect() as conn:
        keys = list(conn.execute(select(intake_requests.c.idempotency_key)).scalars())
        applied = {k: int(n) for k, n in conn.execute(select(events.c.idempotency_key, func.count())
                                                      .group_by(events.c.idempotency_key)).all()}
        left = conn.execute(select(func.count()).select_from(intake_requests)
                            .where(intake_requests.c.status != "done")).scalar_one()
    assert len(keys) == len(set(keys))
    everything = taken | set(retried)
    assert {f"segment:{m}" for m in everything} <= set(keys)
    assert left == 0
    assert all(applied.get(f"id:{m}") == 1 for m in everything)     # each applied exactly once
    assert sum(applied.values()) == len(keys)
    db.dispose()
