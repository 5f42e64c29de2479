"""Statistics over a time range, and the live engine under APScheduler."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from app.delivery.base import Outgoing, Sent
from app.delivery.dispatcher import Dispatcher
from app.engine.clock import SystemClock
from app.engine.engine import JourneyEngine
from app.engine.ingest import EventIn
from app.delivery.feedback_jobs import feedback_jobs
from app.engine.scheduler import LiveEngine
from app.engine.simulator import install_journey
from app.engine.stats import journey_stats

from .helpers import CONTACTS, chain, send_node, simple_journey, t


def test_stats_per_node_and_journey_over_a_time_range(world):
    world.contacts(CONTACTS)
    journey = simple_journey(goal={"enabled": True, "event": "order_placed"},
                             quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"})
    email = send_node(journey)
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), email, wait)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")     # sent at once
    world.event("bob", "cart_abandoned", "2026-03-02T10:00:00Z")     # unsubscribed: skipped
    world.event("cho", "cart_abandoned", "2026-03-02T14:00:00Z")     # 23:00 in Tokyo: deferred
    world.event("ann", "message_opened", "2026-03-02T10:30:00Z")
    world.event("ann", "order_placed", "2026-03-02T12:00:00Z", total=30)
    world.advance_to("2026-03-02T23:30:00Z")

    day = journey_stats(world.db, journey.id, t("2026-03-02T00:00:00Z"), t("2026-03-03T00:00:00Z"))
    node = day.nodes[email.id]
    assert (node.entered, node.sent, node.skipped, node.deferred) == (3, 2, {"unsubscribed": 1}, 1)
    assert (node.opened, node.converted, node.revenue) == (1, 1, 30.0)
    assert day.nodes[wait.id].waiting == 3 and day.active == 3      # cho went at 08:00 Tokyo time
    assert (day.entered, day.converted, day.goals) == (3, 1, 1)
    assert day.completed == 0

    world.advance_to("2026-03-05T00:00:00Z")
    later = journey_stats(world.db, journey.id, t("2026-03-03T00:00:00Z"), t("2026-03-06T00:00:00Z"))
    assert later.entered == 0 and later.nodes[email.id].sent == 0 and later.completed == 3
    everything = journey_stats(world.db, journey.id)
    assert everything.entered == 3 and everything.active == 0


class Kept:
    """A channel (app/delivery/base.py) that keeps what it is given: the live engine's outbox job is the
    dispatcher, which sends through channels like this one."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    def send(self, message: Outgoing) -> Sent:
        self.sent.append(message)
        return Sent(f"kept-{message.message_id}")

    def close(self) -> None:
        pass


def test_live_engine_without_an_outbox_job_leaves_messages_queued(tmp_path):
    """Nothing pretends a message was sent: without a dispatcher there is no outbox job at all."""
    from app.store.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 'live.sqlite3'}")
    live = LiveEngine(JourneyEngine(db, SystemClock()))
    try:
        live.start()
        assert {job.id for job in live.scheduler.get_jobs()} == {"tick", "scan"}
    finally:
        live.stop()
        db.dispose()


def test_live_engine_jobs_coalesce_and_tolerate_lateness(tmp_path):
    from app.store.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 'live.sqlite3'}")
    engine = JourneyEngine(db, SystemClock())
    live = LiveEngine(engine, outbox=Dispatcher(db, lambda name: Kept()),
                      jobs=feedback_jobs(db, engine, engine.clock))
    try:
        live.start()
        jobs = {job.id: job for job in live.scheduler.get_jobs()}
        assert set(jobs) == {"tick", "scan", "outbox", "statuses", "mailbox"}     # a handful of jobs, never one per contact
        for job in jobs.values():
            assert job.coalesce and job.misfire_grace_time is None   # late jobs run, never dropped
            assert job.max_instances == 1
    finally:
        live.stop()
        db.dispose()


def test_live_engine_moves_contacts_on_the_system_clock(tmp_path):
    from app.store.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 'live.sqlite3'}")
    engine = JourneyEngine(db, SystemClock())
    from app.engine.importers import import_contacts, parse_contacts

    import_contacts(db, parse_contacts(CONTACTS)[0], datetime.now(timezone.utc))
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "minutes"}})
    chain(journey, journey.trigger(), wait, send_node(journey))
    install_journey(db, journey, datetime.now(timezone.utc))
    kept = Kept()
    live = LiveEngine(engine, outbox=Dispatcher(db, lambda name: kept), tick_seconds=0.05, outbox_seconds=0.05)
    try:
        live.start()
        engine.ingest([EventIn("ann", "cart_abandoned", datetime.now(timezone.utc))])
        # Make the wait due now rather than in a minute, as if the minute had passed.
        from app.store.tables import messages, runs

        from app.store.sql import write_transaction

        with write_transaction(db) as conn:     # BEGIN IMMEDIATE: the scheduler's jobs write too
            now = datetime.now(timezone.utc)
            state = conn.execute(runs.select()).one().state
            conn.execute(runs.update().values(due_at=now, state={**state, "until": now.isoformat()}))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with db.connect() as conn:
                if conn.execute(messages.select().where(messages.c.status == "sent")).first():
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("the live engine did not send within 20 s")
        assert [m.subject for m in kept.sent] == ["Hello Ann"]
    finally:
        live.stop()
        db.dispose()


def test_the_tick_advances_everyone_due_in_batches(world):
    from app.engine.importers import parse_contacts, import_contacts

    rows, _ = parse_contacts("id,email\n" + "".join(f"p{i},p{i}@example.com\n" for i in range(7)))
    import_contacts(world.db, rows, world.clock.now())
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    chain(journey, journey.trigger(), wait, send_node(journey, subject="Hi"))
    world.install(journey)
    world.clock.set(t("2026-03-02T10:00:00Z"))
    world.engine.ingest([EventIn(f"p{i}", "cart_abandoned", t("2026-03-02T10:00:00Z")) for i in range(7)])
    world.engine.stepper.batch_size = 3                  # 7 due runs: batches of 3, 3 and 1
    world.clock.set(t("2026-03-02T11:00:00Z"))
    assert world.engine.tick() == 7
    world.engine.hand_off()
    assert len(world.sent()) == 7 and world.engine.tick() == 0
