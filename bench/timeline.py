"""A contact's timeline and "Who is here?" at scale (issue 11, section 3), on a SQLite file.

Targets: the timeline of a contact with 1,000 log rows opens (first page) in < 200 ms; "Who is
here?" on a step with 100,000 contacts waiting shows its first page in < 300 ms. The rows are
written directly (as the engine would leave them), so the figure is the read alone.
"""
from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from app.engine.here import who_is_here, who_went
from app.engine.timeline import contact_timeline
from app.examples import load_example
from app.journey.fileformat import to_document
from app.store.db import open_database
from app.store.tables import contacts, events, journey_versions, journeys, messages, run_log, runs

WAITING = 100_000
LOG_ROWS = 1_000
T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def _seed(db) -> tuple[str, str, str]:
    journey = load_example("cart_abandonment")
    document = to_document(journey)
    wait = next(n.id for n in journey.nodes.values() if n.kind == "wait")
    send = next(n.id for n in journey.nodes.values() if n.kind == "send_template")
    branch = next(n.id for n in journey.nodes.values() if n.kind == "message_status")
    with db.begin() as conn:
        conn.execute(journeys.insert().values(id=journey.id, name=journey.name, status="active", draft=document,
                                              published_version=1, created_at=T0, updated_at=T0))
        conn.execute(journey_versions.insert().values(journey_id=journey.id, version=1, document=document,
                                                      published_at=T0))
        conn.execute(contacts.insert(), [
            {"id": f"p{i:06}", "email": f"p{i}@example.com", "first_name": f"P{i}", "timezone": "Europe/Berlin",
             "attributes": {}, "created_at": T0, "updated_at": T0} for i in range(WAITING)])
        conn.execute(runs.insert(), [
            {"id": i + 1, "journey_id": journey.id, "version": 1, "contact_id": f"p{i:06}", "status": "active",
             "node_id": wait, "due_at": T0 + timedelta(seconds=(i * 7919) % WAITING), "entered_at": T0,
             "updated_at": T0, "state": {}} for i in range(WAITING)])
        # One contact with a long story: 1,000 log rows over 250 runs (entered, sent, branched, exited).
        busy, first_run = "p000000", WAITING + 1
        story_runs = LOG_ROWS // 4
        conn.execute(runs.insert(), [
            {"id": first_run + k, "journey_id": journey.id, "version": 1, "contact_id": busy, "status": "exited",
             "exit_reason": "re_triggered", "node_id": branch, "entered_at": T0 + timedelta(hours=k),
             "updated_at": T0 + timedelta(hours=k), "state": {}} for k in range(story_runs)])
        log, sent = [], []
        for k in range(story_runs):
            at, rid = T0 + timedelta(hours=k), first_run + k
            log += [dict(run_id=rid, journey_id=journey.id, node_id=wait, contact_id=busy, at=at, action="waited",
                         outcome=None, reason=None, detail={"until": (at + timedelta(hours=1)).isoformat()}),
                    dict(run_id=rid, journey_id=journey.id, node_id=send, contact_id=busy, at=at, action="sent",
                         outcome=None, reason=None, detail=None),
                    dict(run_id=rid, journey_id=journey.id, node_id=branch, contact_id=busy, at=at, action="branched",
                         outcome="no", reason=None, detail=None),
                    dict(run_id=rid, journey_id=journey.id, node_id=branch, contact_id=busy, at=at, action="exited",
                         outcome=None, reason="re_triggered", detail=None)]
            sent.append(dict(idempotency_key=f"k{k}", run_id=rid, journey_id=journey.id, node_id=send,
                             contact_id=busy, channel="email", recipient="p0@example.com", subject="Your cart",
                             status="opened", created_at=at, sent_at=at, opened_at=at + timedelta(minutes=5)))
        conn.execute(run_log.insert(), log)
        conn.execute(messages.insert(), sent)
        conn.execute(events.insert(), [dict(contact_id=busy, type="cart_abandoned", occurred_at=T0 + timedelta(hours=k),
                                            received_at=T0, properties={"total": 10}, idempotency_key=f"e{k}")
                                       for k in range(story_runs)])
    return journey.id, wait, branch


def _best(fn, times: int = 5) -> float:
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(str(Path(folder) / "timeline.sqlite3"))
        try:
            jid, wait, branch = _seed(db)
            first = _best(lambda: contact_timeline(db, "p000000"))
            page = contact_timeline(db, "p000000")
            assert page is not None and page.next is not None
            later = _best(lambda: contact_timeline(db, "p000000", after=page.next))
            here = _best(lambda: who_is_here(db, jid, wait))
            assert len(who_is_here(db, jid, wait).rows) == 50
            went = _best(lambda: who_went(db, jid, branch, "no"))
        finally:
            db.dispose()
    return [f"timeline, contact with {LOG_ROWS:,} log rows (+{LOG_ROWS // 4} events, messages): first page of 100 "
            f"{first:.0f} ms, next page {later:.0f} ms (target < 200 ms)",
            f"who is here, {WAITING:,} waiting at the step: first page of 50 {here:.0f} ms (target < 300 ms)",
            f"who went this way, {LOG_ROWS // 4} on \"no\": first page {went:.0f} ms"]
