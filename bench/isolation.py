"""What isolating a bad run costs (issue 9 §3), on a SQLite file in virtual time.

The same shoppers go through the cart journey twice: alone, and beside a
journey poisoned with an out-of-range wait right after its trigger, so that
*every* import chunk and every tick batch raises and is replayed carefully
(each step, event and journey reaction in its own savepoint) — the worst case.
A batch without a failure pays nothing: it runs as before (see the engine
figures), and this module shows what a failing batch costs instead: with one
bad run among thousands, and when every run of a batch fails.
"""
from __future__ import annotations

import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.importers import import_contacts
from app.engine.ingest import EventIn
from app.engine.simulator import install_journey
from app.examples import load_example
from app.journey.model import Journey
from app.store.db import open_database
from app.store.tables import journey_versions, runs

from .engine import START, workload

CONTACTS = 5_000


def _poisoned(event: str) -> tuple[Journey, str]:
    journey = Journey(name="Poisoned")
    journey.settings["quiet_hours"]["enabled"] = False
    trigger = journey.add_node("trigger", {"mode": "event", "event": event})
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    journey.connect(trigger.id, wait.id)
    return journey, wait.id


def _run(poison: bool, everyone: bool = True) -> tuple[float, int, int]:
    """Seconds, cart runs, poisoned runs that ended with an error. The poisoned journey is entered by
    every shopper (`everyone`), or by one."""
    rows, events = workload(CONTACTS)
    if poison and not everyone:
        events.append(EventIn(events[0].contact, "poison_me", events[0].at + timedelta(minutes=1)))
    events.sort(key=lambda e: e.at)
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(str(Path(folder) / "isolation.sqlite3"))
        clock = VirtualClock(START)
        engine = JourneyEngine(db, clock)
        import_contacts(db, rows, START)
        cart = install_journey(db, load_example("cart_abandonment"), START)
        poisoned = None
        if poison:
            journey, wait = _poisoned("cart_abandoned" if everyone else "poison_me")
            poisoned = install_journey(db, journey, START)
            with db.begin() as conn:
                document = conn.execute(select(journey_versions.c.document).where(
                    journey_versions.c.journey_id == poisoned)).scalar_one()
                for node in document["nodes"]:
                    if node["id"] == wait:
                        node["config"]["delay"] = {"amount": 10 ** 9, "unit": "days"}
                conn.execute(journey_versions.update().where(journey_versions.c.journey_id == poisoned)
                             .values(document=document))
        started = time.perf_counter()
        for i in range(0, len(events), 500):
            clock.set(events[min(i + 499, len(events) - 1)].at)
            engine.tick(clock.now())
            engine.ingest(events[i:i + 500])
        clock.set(START + timedelta(days=3))
        engine.tick(clock.now())
        elapsed = time.perf_counter() - started
        with db.connect() as conn:
            sent = conn.execute(select(func.count()).select_from(runs).where(runs.c.journey_id == cart)).scalar_one()
            failed = conn.execute(select(func.count()).select_from(runs).where(
                runs.c.journey_id == poisoned, runs.c.exit_reason == "error")).scalar_one() if poisoned else 0
        db.dispose()
        return elapsed, int(sent), int(failed)


def run() -> list[str]:
    logging.getLogger("app").addHandler(logging.NullHandler())    # 5,000 tracebacks: not on the terminal
    clean, cart_runs, _ = _run(poison=False)
    one, cart_runs_one, failed_one = _run(poison=True, everyone=False)
    worst, cart_runs_beside, failed = _run(poison=True)
    same = "the same" if cart_runs == cart_runs_beside == cart_runs_one else "DIFFERENT"
    return [f"{CONTACTS:,} shoppers through cart abandonment alone: {clean:.1f} s",
            f"with one run that raises beside them (its chunk replayed, one savepoint per event, the failing "
            f"event step by step): {one:.1f} s ({one / clean:.1f}×); {failed_one} run ended with an error",
            f"beside a journey whose wait raises for every one of them (every chunk and batch replayed, every "
            f"event twice): {worst:.1f} s ({worst / clean:.1f}×); {failed:,} poisoned runs ended with an "
            f"error; the cart journey's {cart_runs_beside:,} runs {same}"]
