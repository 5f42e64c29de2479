"""Engine throughput against the naive design, the statistics poll, and template renders/s.

- The engine (target ≥ 10,000 contact-steps/s): 100,000 contacts through the
  cart-abandonment example on a SQLite file in virtual time — ingest of their
  events (carts, opens, orders), waits, sends, branches, exits, the outbox —
  counted as node steps (handler calls) per wall-clock second.
- The naive design: one transaction per event and one APScheduler job per
  waiting contact, each job its own transaction, with the same node handlers
  and template cache, so the difference is the design. It runs on a 1,000-contact
  sample because the full set would take a quarter of an hour.
- Template renders per second (target ≥ 20,000).
"""
from __future__ import annotations

import random
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.importers import ContactRow, import_contacts
from app.engine.ingest import EventIn
from app.engine.runs import ACTIVE, RUN_COLUMNS, Batch, RunState
from app.engine.simulator import install_journey, simulate
from app.engine.stats import journey_stats
from app.engine.stepper import advance
from app.engine.templating import TemplateCache
from app.examples import load_example
from app.store.db import open_database
from app.store.sql import write_transaction
from app.store.tables import runs

CONTACTS = 100_000
NAIVE_SAMPLE = 1_000
TARGET_STEPS = 10_000
TARGET_RENDERS = 20_000
START = datetime(2026, 3, 2, tzinfo=timezone.utc)
ZONES = ("Europe/London", "Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "UTC")
ITEMS = [{"name": "Ceramic mug", "quantity": 2, "price": 14.5}, {"name": "Oolong tea", "quantity": 1, "price": 9.9}]


def workload(count: int, seed: int = 4) -> tuple[list[ContactRow], list[EventIn]]:
    """`count` shoppers abandon carts over a day; some open the reminder, some order during the wait."""
    rng = random.Random(seed)
    rows, events = [], []
    for i in range(count):
        cid = f"b{i:06d}"
        rows.append(ContactRow(i, cid, {"email": f"{cid}@example.com", "phone": f"+1555{i:07d}",
                                        "first_name": f"Shopper{i}", "last_name": None,
                                        "timezone": ZONES[i % len(ZONES)]}, [], [], {},
                               ["sms"]))    # texts need recorded consent: these shoppers gave it
        at = START + timedelta(seconds=rng.randrange(86_400))
        events.append(EventIn(cid, "cart_abandoned", at, {"items": ITEMS, "cart_url": f"https://shop.example/c/{i}"}))
        roll = rng.random()
        if roll < 0.10:
            events.append(EventIn(cid, "order_placed", at + timedelta(minutes=30), {"total": 38.9}))
        elif roll < 0.40:
            events.append(EventIn(cid, "message_opened", at + timedelta(hours=2)))
    return rows, events


def bench_engine(count: int, stats_lines: list[str] | None = None) -> tuple[int, float]:
    journey = load_example("cart_abandonment")
    rows, events = workload(count)
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "bench.sqlite3")
        started = time.perf_counter()
        result = simulate(journey, rows, events, db_url=path, keep_log=False)
        elapsed = time.perf_counter() - started
        if stats_lines is not None:
            stats_lines.extend(_bench_stats(path, result.journey_id))
        return result.steps, elapsed


def _bench_stats(path: str, journey_id: str) -> list[str]:
    """How long the canvas's statistics poll takes on the finished 100,000-contact journey."""
    db = open_database(path)
    timings = []
    for label, start, end in (("the busiest hour", START + timedelta(hours=12), START + timedelta(hours=13)),
                              ("all time", None, None)):
        started = time.perf_counter()
        journey_stats(db, journey_id, start, end)
        timings.append(f"{label} {1000 * (time.perf_counter() - started):.0f} ms")
    db.dispose()
    return [f"statistics poll (per node and journey, from the counters the engine keeps): {', '.join(timings)}"]


def bench_naive(count: int) -> tuple[int, float]:
    """One transaction per event and one scheduler job per waiting contact, each its own transaction.

    Time is compressed (a job runs as soon as it is scheduled, stepping at its due
    time) so the measure is the design's overhead, not the waiting.
    """
    journey = load_example("cart_abandonment")
    rows, events = workload(count)
    events.sort(key=lambda e: e.at)
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(str(Path(folder) / "naive.sqlite3"))
        clock = VirtualClock(START)
        engine = JourneyEngine(db, clock)
        import_contacts(db, rows, START)
        install_journey(db, journey, START)
        started = time.perf_counter()
        for event in events:                       # per-contact transactions
            clock.set(event.at)
            engine.ingest([event], chunk=1)
        with db.connect() as conn:
            waiting = list(conn.execute(select(runs.c.id).where(runs.c.status == ACTIVE)).scalars())
        steps = [engine.ingest_steps]
        left = [len(waiting)]
        done = threading.Event()
        lock = threading.Lock()
        scheduler = BackgroundScheduler(job_defaults={"misfire_grace_time": None, "coalesce": False})

        def job(run_id: int) -> None:
            with write_transaction(db) as conn:
                run = RunState.from_row(conn.execute(select(*RUN_COLUMNS).where(runs.c.id == run_id)).one())
                batch = Batch(conn, engine.journeys, engine.templates)
                taken = advance(batch, run, run.due_at or START)
                batch.flush(clock.now())
            with lock:
                steps[0] += taken
                if run.status == ACTIVE:
                    scheduler.add_job(job, "date", run_date=datetime.now(timezone.utc), args=[run_id])
                    return
                left[0] -= 1
                if left[0] == 0:
                    done.set()

        scheduler.start()
        for run_id in waiting:
            scheduler.add_job(job, "date", run_date=datetime.now(timezone.utc), args=[run_id])
        done.wait(timeout=600)
        elapsed = time.perf_counter() - started
        scheduler.shutdown(wait=True)
        db.dispose()
        return steps[0], elapsed


def bench_templates(renders: int = 30_000) -> tuple[int, float]:
    journey = load_example("cart_abandonment")
    email = next(n for n in journey.nodes.values() if n.kind == "send_template" and n.config["channel"] == "email")
    cache = TemplateCache()
    fields = ("subject", "html", "text")
    contacts = [{"id": f"c{i}", "first_name": f"Name{i}", "email": f"c{i}@example.com"} for i in range(1000)]
    event = {"items": ITEMS, "cart_url": "https://shop.example/c/1"}
    started = time.perf_counter()
    done = 0
    while done < renders:
        contact = contacts[done % 1000]
        # As the send step does: the variables once per message, shared by its three fields.
        variables = cache.variables({"contact": contact, "event": event, "journey": {"name": journey.name}})
        for name in fields:
            cache.render((journey.id, 1, email.id, name), email.config[name], variables)
            done += 1
    return done, time.perf_counter() - started


def run() -> list[str]:
    lines = []
    stats_lines: list[str] = []
    steps, seconds = bench_engine(CONTACTS, stats_lines)
    rate = steps / seconds
    lines.append(f"engine: {CONTACTS:,} contacts through cart abandonment (SQLite file, virtual time): "
                 f"{steps:,} contact-steps in {seconds:.1f} s = {rate:,.0f} steps/s "
                 f"(target ≥ {TARGET_STEPS:,}: {'ok' if rate >= TARGET_STEPS else 'MISSED'})")
    small_steps, small_seconds = bench_engine(NAIVE_SAMPLE)
    naive_steps, naive_seconds = bench_naive(NAIVE_SAMPLE)
    naive_rate = naive_steps / naive_seconds
    small_rate = small_steps / small_seconds
    lines.append(f"naive design (one APScheduler job per waiting contact, one transaction each), "
                 f"sample of {NAIVE_SAMPLE:,} contacts (the full 100,000 would take "
                 f"~{steps / naive_rate / 60:.0f} min): {naive_steps:,} steps in {naive_seconds:.1f} s "
                 f"= {naive_rate:,.0f} steps/s")
    lines.append(f"ratio: batched engine {rate / naive_rate:.1f}× the naive design "
                 f"(on the same {NAIVE_SAMPLE:,}-contact sample: {small_rate:,.0f} vs {naive_rate:,.0f} steps/s, "
                 f"{small_rate / naive_rate:.1f}×)")
    lines += stats_lines
    renders, render_seconds = bench_templates()
    render_rate = renders / render_seconds
    lines.append(f"templates: {renders:,} renders (cart email subject/html/text, cached compile) in "
                 f"{render_seconds:.2f} s = {render_rate:,.0f} renders/s "
                 f"(target ≥ {TARGET_RENDERS:,}: {'ok' if render_rate >= TARGET_RENDERS else 'MISSED'})")
    return lines
