"""Issue 9 §3, events: one event that cannot be applied is dead-lettered with its reason, the rest of
its chunk is applied; importing the same events again changes nothing."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.cli import main
from app.engine import ingest
from app.engine.clock import VirtualClock
from app.engine.dead_letters import dead_letters
from app.engine.engine import JourneyEngine
from app.engine.ingest import EventIn
from app.engine.outbox import RecordingChannel
from app.examples import load_example
from app.logfile import setup_logging
from app.store.db import open_database
from app.store.tables import contacts, events

from .helpers import START, send_node, simple_journey, t
from .test_isolation import CART, poison, two_waits

BAD_ORDER = "o-250"


def chunk(size: int = 500) -> list[EventIn]:
    """`size` events of `size` shoppers: carts, and every fifth an order (order ids o-0, o-5, …)."""
    at = t("2026-03-02T10:00:00Z")
    found = []
    for i in range(size):
        when = at + timedelta(seconds=i)
        if i % 5 == 0:
            found.append(EventIn(f"s{i:03d}", "order_placed", when, {"order_id": f"o-{i}", "total": 20}))
        else:
            found.append(EventIn(f"s{i:03d}", "cart_abandoned", when, dict(CART), f"e-{i}"))
    return found


@pytest.fixture
def poisoned_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording one order raises (a bug met by one event's data, simulated)."""
    original = ingest._record_order

    def record(batch, contact, props, at, live):
        if props.get("order_id") == BAD_ORDER:
            raise ArithmeticError("spend overflow\nwith details")
        return original(batch, contact, props, at, live)

    monkeypatch.setattr(ingest, "_record_order", record)


def _count(db, table) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_one_poisoned_event_in_a_chunk_of_500_is_dead_lettered_and_the_499_applied(world, poisoned_orders, log_file):
    setup_logging()
    world.install(load_example("cart_abandonment"))
    world.clock.set(t("2026-03-02T10:10:00Z"))

    done = world.engine.ingest(chunk())

    assert (done.stored, done.duplicates) == (499, 0)
    assert [(e.contact, reason) for e, reason in done.dead] == [("s250", "ArithmeticError: spend overflow")]
    assert _count(world.db, events) == 499
    assert len([r for r in world.runs()]) == 400                  # every cart entered the journey
    total, found = dead_letters(world.db)
    assert total == 1 and found[0].type == "order_placed" and found[0].contact == "s250"
    assert found[0].payload["properties"] == {"order_id": BAD_ORDER, "total": 20}
    assert found[0].reason == "ArithmeticError: spend overflow"
    with world.db.connect() as conn:                                # it changed nothing: not even its contact
        assert conn.execute(select(contacts.c.id).where(contacts.c.id == "s250")).first() is None
    assert "ArithmeticError: spend overflow" in log_file.read_text(encoding="utf-8")

    again = world.engine.ingest(chunk())                             # the same file, imported again

    assert (again.stored, again.duplicates, again.dead) == (0, 500, [])
    assert _count(world.db, events) == 499 and dead_letters(world.db)[0] == 1
    assert len(world.runs()) == 400


def test_a_journey_that_fails_on_entry_does_not_cost_the_chunk(world, log_file):
    """The issue's example: a poisoned wait right after the trigger raised during import and rejected
    the whole chunk; now only its runs fail, and every event is applied."""
    setup_logging()
    cart = world.install(load_example("cart_abandonment"))
    journey = simple_journey("Poisoned")
    bad_wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}}).id
    trigger = journey.trigger()
    assert trigger is not None
    journey.connect(trigger.id, bad_wait)
    journey.connect(bad_wait, send_node(journey).id)
    poisoned = world.install(journey)
    poison(world, poisoned, bad_wait, delay={"amount": 10 ** 9, "unit": "days"})
    world.clock.set(t("2026-03-02T10:10:00Z"))

    done = world.engine.ingest(chunk())

    assert (done.stored, done.dead) == (500, [])
    mine = [r for r in world.runs() if r["journey_id"] == poisoned]
    assert len(mine) == 400 and {(r["status"], r["exit_reason"]) for r in mine} == {("exited", "error")}
    healthy = [r for r in world.runs() if r["journey_id"] == cart]
    assert len(healthy) == 400 and {r["status"] for r in healthy} == {"active"}


def test_journeys_events_import_reports_the_dead_letter_and_lists_it(tmp_path: Path, poisoned_orders, capsys):
    db = tmp_path / "shop.sqlite3"
    lines = [{"contact": e.contact, "type": e.type, "at": e.at.isoformat(), "properties": e.properties,
              **({"id": e.id} if e.id else {})} for e in chunk(20)]
    lines[10]["properties"]["order_id"] = BAD_ORDER
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    assert main(["events", "import", str(path), "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert ": 19 new, 0 already present" in out
    assert "1 event(s) could not be applied and were set aside (dead-lettered)" in err
    assert "order_placed of 's010': ArithmeticError: spend overflow" in err

    assert main(["events", "dead-letters", "--db", str(db)]) == 0
    out, _ = capsys.readouterr()
    assert "1 event(s) could not be applied" in out and "order_placed of 's010'" in out
    assert "ArithmeticError: spend overflow" in out

    assert main(["events", "import", str(path), "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert ": 0 new, 20 already present" in out and "dead-lettered" not in err


def test_no_dead_letters_says_so(tmp_path: Path, capsys):
    assert main(["events", "dead-letters", "--db", str(tmp_path / "empty.sqlite3")]) == 0
    assert "No dead-lettered events" in capsys.readouterr().out


def test_a_kill_after_isolation_keeps_its_result(tmp_path: Path, poisoned_orders):
    """What isolation decided is committed: a new engine on the same file (the app restarted) neither
    retries the dead letter nor the failed runs, and the healthy runs go on."""
    url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    db = open_database(url)
    clock = VirtualClock(t(START))
    first = JourneyEngine(db, clock, RecordingChannel())
    from app.engine.simulator import install_journey

    journey, bad_wait, _ = two_waits()
    poisoned = install_journey(db, journey, clock.now())
    clock.set(t("2026-03-02T10:10:00Z"))
    with db.begin() as conn:
        from app.store.tables import journey_versions

        document = conn.execute(select(journey_versions.c.document)).scalar_one()
        for node in document["nodes"]:
            if node["id"] == bad_wait:
                node["config"]["delay"] = {"amount": 10 ** 9, "unit": "days"}
        conn.execute(journey_versions.update().values(document=document))
    file = chunk(20)
    file[10].properties["order_id"] = BAD_ORDER
    assert len(first.ingest(file).dead) == 1
    clock.set(t("2026-03-02T12:00:00Z"))
    first.tick()
    db.dispose()

    db = open_database(url)
    second = JourneyEngine(db, clock, RecordingChannel())
    clock.set(t("2026-03-03T12:00:00Z"))
    second.run_due()
    assert second.ingest(file).stored == 0
    with db.connect() as conn:
        from app.store.tables import runs

        rows = conn.execute(select(runs.c.status, runs.c.exit_reason).where(runs.c.journey_id == poisoned)).all()
    assert len(rows) == 16 and set(rows) == {("exited", "error")}
    assert dead_letters(db)[0] == 1
    db.dispose()


def test_dead_letters_are_applied_again_once_the_cause_is_fixed(tmp_path: Path, monkeypatch, capsys):
    db = tmp_path / "shop.sqlite3"
    lines = [{"contact": e.contact, "type": e.type, "at": e.at.isoformat(), "properties": e.properties,
              **({"id": e.id} if e.id else {})} for e in chunk(20)]
    lines[10]["properties"]["order_id"] = BAD_ORDER
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    original = ingest._record_order

    def record(batch, contact, props, at, live):
        if props.get("order_id") == BAD_ORDER:
            raise ArithmeticError("spend overflow")
        return original(batch, contact, props, at, live)

    monkeypatch.setattr(ingest, "_record_order", record)
    assert main(["events", "import", str(path), "--db", str(db)]) == 0
    assert main(["events", "dead-letters", "--retry", "--db", str(db)]) == 0     # not fixed yet
    assert "Retried 1 dead-lettered event(s): 0 applied, 1 set aside again" in capsys.readouterr().out
    monkeypatch.undo()                                                              # the bug is fixed

    assert main(["events", "dead-letters", "--retry", "--db", str(db)]) == 0
    assert "Retried 1 dead-lettered event(s): 1 applied, 0 set aside again" in capsys.readouterr().out
    engine = open_database(f"sqlite:///{db}")
    assert _count(engine, events) == 20 and dead_letters(engine)[0] == 0
    with engine.connect() as conn:
        assert conn.execute(select(contacts.c.order_count).where(contacts.c.id == "s010")).scalar_one() == 1
    engine.dispose()
    assert main(["events", "import", str(path), "--db", str(db)]) == 0                # still counted once
    assert ": 0 new, 20 already present" in capsys.readouterr().out
