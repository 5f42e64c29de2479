"""Issue 9 §3: one bad run never stops the others.

A poisoned journey (a bad value written straight into its published version, or a step whose
handler raises — a bug, simulated) runs beside the healthy cart journey: the healthy one delivers
every message at the same times as it does alone; the poisoned runs end `exited` with reason
`error`, the one-line text in the run log, the traceback in the log file, the error counted on the step.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import select

from app.engine import handlers, stepper
from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.outbox import RecordingChannel
from app.engine.stats import format_table, journey_stats
from app.examples import load_example
from app.journey.model import Journey
from app.logfile import setup_logging
from app.store.db import open_database
from app.store.tables import journey_versions

from .helpers import CONTACTS, START, World, send_node, simple_journey, t

CART = {"items": [{"name": "Ceramic mug", "quantity": 2, "price": 14.5}], "cart_url": "https://shop.example/c/1"}
SHOPPERS = ("ann", "bob", "cho")


@pytest.fixture
def log_file(log_file: Path) -> Path:
    """The test's log file, set up as the app and the CLI do."""
    assert setup_logging() == log_file.resolve()
    return log_file


def poison(world: World, journey_id: str, node_id: str, **config: Any) -> None:
    """Writes `config` into a node of the journey's published version, past every check (a bad row)."""
    with world.db.begin() as conn:
        version, document = conn.execute(select(journey_versions.c.version, journey_versions.c.document).where(
            journey_versions.c.journey_id == journey_id)).one()
        for node in document["nodes"]:
            if node["id"] == node_id:
                node["config"].update(config)
        conn.execute(journey_versions.update().where(journey_versions.c.journey_id == journey_id,
                                                     journey_versions.c.version == version).values(document=document))


def two_waits(name: str = "Poisoned") -> tuple[Journey, str, str]:
    """cart_abandoned → wait 30 min → wait 1 h → email; returns the journey and the ids of the second wait
    and the email."""
    journey = simple_journey(name)
    first = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 30, "unit": "minutes"}})
    second = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    email = send_node(journey, subject="Hello again")
    trigger = journey.trigger()
    assert trigger is not None
    for a, b in ((trigger, first), (first, second), (second, email)):
        journey.connect(a.id, b.id)
    return journey, second.id, email.id


def shop_day(world: World) -> list[tuple[str, str, str | None, Any]]:
    """Three shoppers abandon carts (events imported in one chunk); a day passes. Returns the cart
    journey's messages that went out: (contact, step, subject, sent at)."""
    world.contacts(CONTACTS)
    cart = world.install(load_example("cart_abandonment"))
    from app.engine.ingest import EventIn

    world.clock.set(t("2026-03-02T10:00:00Z"))
    world.engine.ingest([EventIn(c, "cart_abandoned", t(f"2026-03-02T10:0{i}:00Z"), CART)
                         for i, c in enumerate(SHOPPERS)])
    for hour in range(11, 24):
        world.advance_to(f"2026-03-02T{hour}:00:00Z")
    world.advance_to("2026-03-03T12:00:00Z")
    return [(m["contact_id"], m["node_id"], m["subject"], m["sent_at"]) for m in world.sent()
            if m["journey_id"] == cart]


@pytest.fixture
def alone(tmp_path: Path) -> list[tuple[str, str, str | None, Any]]:
    """What the cart journey sends with nothing else running (on its own SQLite file)."""
    db = open_database(f"sqlite:///{tmp_path / 'alone.sqlite3'}")
    clock = VirtualClock(t(START))
    channel = RecordingChannel()
    try:
        return shop_day(World(db, clock, channel, JourneyEngine(db, clock, channel)))
    finally:
        db.dispose()


def _errors_at(world: World, journey_id: str, node_id: str) -> int:
    return journey_stats(world.db, journey_id).nodes[node_id].errors


def test_a_poisoned_wait_beside_the_cart_journey_fails_its_runs_only(world, alone, log_file):
    journey, bad_wait, _ = two_waits()
    poisoned = world.install(journey)
    poison(world, poisoned, bad_wait, delay={"amount": 10 ** 9, "unit": "days"})

    sent = shop_day(world)

    assert sent == alone and len(sent) == 5      # every cart email and SMS at the same times (bob gets no email)
    mine = [r for r in world.runs() if r["journey_id"] == poisoned]
    assert len(mine) == 3
    assert all((r["status"], r["exit_reason"], r["node_id"]) == ("exited", "error", bad_wait) for r in mine)
    failed = [e for e in world.log(action="failed") if e["journey_id"] == poisoned]
    assert len(failed) == 3 and all(e["node_id"] == bad_wait and e["reason"] == "error" for e in failed)
    assert "OverflowError" in failed[0]["detail"]["error"] and "\n" not in failed[0]["detail"]["error"]
    assert _errors_at(world, poisoned, bad_wait) == 3
    assert journey_stats(world.db, poisoned).exited == {"error": 3}
    table = format_table(journey_stats(world.db, poisoned), {n.id: (n.kind, n.title) for n in journey.nodes.values()})
    assert table[0].endswith("errors") and "an error" in table[-1]
    text = log_file.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "OverflowError" in text and bad_wait in text


def _raising_for(node_id: str, kind: str, monkeypatch: pytest.MonkeyPatch,
                 error: Callable[[], Exception] = lambda: RuntimeError("simulated bug")) -> None:
    original = handlers.HANDLERS[kind]

    def handler(step):
        if step.node.id == node_id:
            raise error()
        return original(step)

    monkeypatch.setitem(stepper.HANDLERS, kind, handler)


@pytest.mark.parametrize("kind", ["wait", "send_template"])
def test_any_step_handler_that_raises_fails_only_its_run(world, alone, log_file, monkeypatch, kind):
    journey, bad_wait, email = two_waits()
    poisoned = world.install(journey)
    bad = bad_wait if kind == "wait" else email
    _raising_for(bad, kind, monkeypatch, lambda: ValueError("missing\nsecond line"))

    sent = shop_day(world)

    assert sent == alone
    mine = [r for r in world.runs() if r["journey_id"] == poisoned]
    assert [(r["status"], r["exit_reason"], r["node_id"]) for r in mine] == [("exited", "error", bad)] * 3
    assert not [m for m in world.messages() if m["journey_id"] == poisoned]     # nothing half-written
    assert _errors_at(world, poisoned, bad) == 3
    stats = journey_stats(world.db, poisoned).nodes[bad]
    assert stats.entered == 3 and stats.left == {"error": 3}                  # arrivals add up
    failed = [e for e in world.log(action="failed") if e["journey_id"] == poisoned]
    assert failed[0]["detail"]["error"] == "ValueError: missing"


def test_a_healthy_batch_never_takes_the_careful_path(world, alone, monkeypatch):
    """Isolation costs nothing until something raises: no savepoint per step on the hot path."""
    from app.engine.runs import Batch

    def refuse(self, now):
        raise AssertionError("a batch without a failure was replayed carefully")

    monkeypatch.setattr(Batch, "be_careful", refuse)
    monkeypatch.setattr(Batch, "recover", refuse)
    assert shop_day(world) == alone


def test_the_database_s_own_trouble_is_not_blamed_on_a_run(world, monkeypatch):
    """A locked or vanished database is retried later as a whole: no run is marked as an error."""
    from sqlalchemy.exc import OperationalError

    journey, bad_wait, _ = two_waits()
    poisoned = world.install(journey)
    _raising_for(bad_wait, "wait", monkeypatch, lambda: OperationalError("UPDATE runs", {}, Exception("locked")))
    world.contacts(CONTACTS)
    from app.engine.ingest import EventIn

    world.clock.set(t("2026-03-02T10:00:00Z"))
    world.engine.ingest([EventIn("ann", "cart_abandoned", t("2026-03-02T10:00:00Z"), CART)])
    with pytest.raises(OperationalError):
        world.engine.tick(t("2026-03-02T11:00:00Z"))
    [run] = [r for r in world.runs() if r["journey_id"] == poisoned]
    assert run["status"] == "active" and not world.log(action="failed")     # nothing committed, nobody blamed
    monkeypatch.undo()
    world.engine.tick(t("2026-03-02T11:00:00Z"))                               # retried: it goes on
    [run] = [r for r in world.runs() if r["journey_id"] == poisoned]
    assert run["status"] == "active" and run["node_id"] == bad_wait


def test_a_stored_run_that_cannot_be_read_fails_alone(db_url):
    """SQLite lets a run's stored state be anything; one that cannot be read ends with an error, and
    the runs due with it go on."""
    from app.engine.ingest import EventIn
    from app.store.tables import runs

    db = open_database(db_url)
    clock = VirtualClock(t(START))
    world = World(db, clock, RecordingChannel(), JourneyEngine(db, clock, RecordingChannel()))
    world.contacts(CONTACTS)
    cart = world.install(load_example("cart_abandonment"))
    clock.set(t("2026-03-02T10:00:00Z"))
    world.engine.ingest([EventIn(c, "cart_abandoned", t("2026-03-02T10:00:00Z"), CART) for c in ("ann", "cho")])
    with db.begin() as conn:
        conn.exec_driver_sql("UPDATE runs SET state = '{not json' WHERE contact_id = 'ann'")

    world.advance_to("2026-03-02T11:30:00Z")

    assert [m["contact_id"] for m in world.sent() if m["journey_id"] == cart] == ["cho"]
    with db.connect() as conn:
        status = conn.execute(select(runs.c.status, runs.c.exit_reason).where(runs.c.contact_id == "ann")).one()
    assert tuple(status) == ("exited", "error")
    db.dispose()
