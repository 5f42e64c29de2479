"""`kill -9` of `journeys serve` under load (issue 13, "Load and faults"): several clients post Segment
`/v1/batch` requests with messageIds; the service is killed mid-way and restarted; the clients resend
every batch that got no 2xx (and a few that did, as senders do). Every messageId that was answered 2xx
is stored exactly once, and in the end each one sent is applied exactly once: total = sent. Not timed."""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx
from sqlalchemy import func, select

from app.intake.config import receiver_token
from app.store.db import open_database
from app.store.tables import events, intake_requests

from .children import FAST, ServeChild, wait_until

CLIENTS, BATCHES, CALLS = 6, 40, 20          # 4,800 messageIds in 240 batches


def _batch(client: int, number: int) -> list[dict]:
    return [{"type": "track", "event": "Product Viewed", "userId": f"kill-{client}",
             "messageId": f"k{client}-{number:03d}-{call:02d}", "timestamp": "2026-03-02T10:00:00Z",
             "properties": {"sku": f"sku-{client}-{number}-{call}"}} for call in range(CALLS)]


def _sender(base: str, token: str, batches: list[list[dict]], answered: list[list[dict]], lock: threading.Lock,
            stop: threading.Event) -> None:
    with httpx.Client(base_url=base, timeout=10, auth=(token, "")) as http:
        for batch in batches:
            if stop.is_set():
                return
            try:
                answer = http.post("/v1/batch", json={"batch": batch})
            except httpx.HTTPError:
                continue                # no answer: resent after the restart
            if 200 <= answer.status_code < 300:
                with lock:
                    answered.append(batch)


def _serve(url: str, port: int, tmp_path: Path) -> ServeChild:
    env = {k: v for k, v in os.environ.items() if k != "JOURNEYS_TEST_CLOCK"}
    return ServeChild(["--db", url, "--listen", f"127.0.0.1:{port}", "--log-file", str(tmp_path / "serve.jsonl"),
                       *FAST], env)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ids(batches: list[list[dict]]) -> set[str]:
    return {call["messageId"] for batch in batches for call in batch}


def test_kill_9_of_the_service_under_load_loses_no_answered_batch_and_doubles_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    db = open_database(url)
    token = receiver_token(db)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    sent = {c: [_batch(c, n) for n in range(BATCHES)] for c in range(CLIENTS)}
    every = [batch for batches in sent.values() for batch in batches]
    answered: list[list[dict]] = []
    lock, stop = threading.Lock(), threading.Event()
    child = _serve(url, port, tmp_path)
    try:
        child.wait_for("Engine: running in this service")
        senders = [threading.Thread(target=_sender, args=(base, token, sent[c], answered, lock, stop))
                   for c in range(CLIENTS)]
        for thread in senders:
            thread.start()
        wait_until(lambda: len(answered) >= 30 or child.proc.poll() is not None, "30 batches answered")
        assert child.proc.poll() is None, "the service exited under load"
        os.kill(child.proc.pid, signal.SIGKILL)           # mid-way: many batches in flight or not sent yet
        child.proc.wait(timeout=30)
        stop.set()
        for thread in senders:
            thread.join(timeout=60)
        taken = _ids(answered)
        assert len(taken) < len(_ids(every)), "everything was answered before the kill"
        with db.connect() as conn:
            stored = set(conn.execute(select(intake_requests.c.idempotency_key)).scalars())
        assert {f"segment:{m}" for m in taken} <= stored       # each 2xx was on disk before its answer

        child = _serve(url, port, tmp_path)                     # restart; it takes over once the lease expires
        child.wait_for("Listening on ")
        answered_ids = {id(b) for b in answered}
        resend = [b for b in every if id(b) not in answered_ids] + answered[:5]
        again: list[list[dict]] = []
        _sender(base, token, resend, again, lock, threading.Event())
        assert len(again) == len(resend), "a resent batch got no 2xx"

        def all_applied() -> bool:
            with db.connect() as conn:
                return conn.execute(select(func.count()).select_from(intake_requests)
                                    .where(intake_requests.c.status != "done")).scalar_one() == 0
        wait_until(all_applied, "the restarted service to apply every stored request")
    finally:
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
            child.proc.wait(timeout=60)
    with db.connect() as conn:
        keys = list(conn.execute(select(intake_requests.c.idempotency_key)).scalars())
        applied = dict(conn.execute(select(events.c.idempotency_key, func.count())
                                    .where(events.c.idempotency_key.like("id:k%"))
                                    .group_by(events.c.idempotency_key)).all())
    messages = _ids(every)
    assert len(keys) == len(set(keys)) == len(messages)                    # one inbox row per messageId
    assert all(applied.get(f"id:{m}") == 1 for m in taken)                # every 2xx'd one stored exactly once
    assert set(applied) == {f"id:{m}" for m in messages} and sum(applied.values()) == len(messages)   # total = sent
    db.dispose()
