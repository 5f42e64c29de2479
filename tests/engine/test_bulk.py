"""The engine's lean executemany (`app/engine/bulk.py`) writes exactly what SQLAlchemy Core writes.

`Many` converts parameters itself with the columns' bind processors and hands
the driver a plain list. Each case writes the same rows twice into the same
table — once through `Many`, once through plain Core — and reads both back:
timestamps (aware, in several zones, and NULL), JSON documents (nested, empty,
NULL), numbers and NULL strings must come back identical. A SQLAlchemy upgrade
that changes how bind processors are found or applied fails here, not in a
simulation's numbers.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine

from app.engine.bulk import Many
from app.engine.ingest import _INSERT_EVENTS
from app.engine.runs import _INSERT_LOGS, _INSERT_OUTBOX, _INSERT_RUNS, _UPDATE_RUN, MESSAGE_FIELDS
from app.examples import load_example
from app.engine.simulator import install_journey
from app.store.db import open_database
from app.store.sql import write_transaction
from app.store.tables import contacts, events, messages, run_log, runs

UTC = timezone.utc
T0 = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)                      # microseconds kept
PARIS = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Paris"))            # just after a DST jump
TOKYO = datetime(2026, 11, 1, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
FIXED = datetime(2026, 1, 1, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
DOCS: list[Any] = [None, {}, {"until": "2026-03-02T10:00:00Z"}, {"items": [{"name": "Mug × 2", "price": 14.5}],
                                                                       "nested": {"a": [1, None, True]}}]


def _db(url: str) -> Engine:
    return open_database(url)


def _setup(db: Engine) -> tuple[str, int]:
    journey_id = install_journey(db, load_example("cart_abandonment"), T0)
    with write_transaction(db) as conn:
        conn.execute(contacts.insert(), [{"id": c, "attributes": {}, "created_at": T0, "updated_at": T0}
                                         for c in ("c1", "c2")])
    return journey_id, 1


def _read(db: Engine, table: Any, key: Any, wanted: list[Any], skip: tuple[str, ...]) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(select(table).where(key.in_(wanted)).order_by(key)).mappings().all()
    return [{k: v for k, v in row.items() if k not in skip} for row in rows]


def test_inserts_read_back_as_through_core(any_url: str) -> None:
    db = _db(any_url)
    try:
        journey_id, version = _setup(db)
        times = [T0, PARIS, TOKYO, FIXED]
        base = {"journey_id": journey_id, "version": version, "contact_id": "c1", "status": "active",
                "exit_reason": None, "node_id": None, "trigger_event_id": None}
        lean = [{**base, "id": 100 + i, "due_at": times[i] if i else None, "entered_at": times[i],
                 "updated_at": times[-1 - i], "state": DOCS[i] or {}} for i in range(4)]
        core = [{**row, "id": row["id"] + 100} for row in lean]
        with write_transaction(db) as conn:
            _INSERT_RUNS.run(conn, lean)
            conn.execute(runs.insert(), core)
        assert _read(db, runs, runs.c.id, [r["id"] for r in lean], ("id",)) == \
            _read(db, runs, runs.c.id, [r["id"] for r in core], ("id",))
        got = _read(db, runs, runs.c.id, [100, 101], ())
        assert got[0]["due_at"] is None and got[0]["state"] == {}
        assert got[1]["entered_at"] == PARIS and got[1]["entered_at"].tzinfo is not None

        logs = [{"run_id": 100 + i % 2, "journey_id": journey_id, "node_id": None if i else "n1",
                 "contact_id": "c1", "at": times[i], "action": "sent", "outcome": None, "reason": "r" if i else None,
                 "detail": DOCS[i], "revenue": [None, 38.9, 0.0, 12345.67][i]} for i in range(4)]
        with write_transaction(db) as conn:
            _INSERT_LOGS.run(conn, logs)
            conn.execute(run_log.insert(), [{**row, "run_id": row["run_id"] + 100} for row in logs])
        lean_logs = _read(db, run_log, run_log.c.run_id, [100, 101], ("id", "run_id"))
        assert lean_logs == _read(db, run_log, run_log.c.run_id, [200, 201], ("id", "run_id"))
        with db.connect() as conn:      # None is SQL NULL, never the JSON text 'null'
            assert conn.execute(select(run_log.c.id).where(run_log.c.run_id == 100, run_log.c.detail.is_(None))
                                ).all()

        outbox = [{c: None for c in MESSAGE_FIELDS} | {
            "idempotency_key": f"k{i}", "run_id": 100, "journey_id": journey_id, "node_id": "n", "contact_id": "c1",
            "channel": "email", "recipient": "a@example.com", "subject": "Hi ☕", "body_text": "x" * i,
            "status": "queued", "scheduled_at": times[i], "created_at": times[i], "opened_at": times[-1 - i]}
            for i in range(4)]
        with write_transaction(db) as conn:
            _INSERT_OUTBOX.run(conn, outbox)
            _INSERT_OUTBOX.run(conn, outbox[:1])          # insert-or-ignore: a repeated key is skipped
            conn.execute(messages.insert(), [{**row, "idempotency_key": "core-" + row["idempotency_key"],
                                              "run_id": 200} for row in outbox])
        lean_rows = _read(db, messages, messages.c.idempotency_key, [r["idempotency_key"] for r in outbox],
                          ("id", "idempotency_key", "run_id"))
        assert len(lean_rows) == 4
        assert lean_rows == _read(db, messages, messages.c.idempotency_key,
                                  ["core-" + r["idempotency_key"] for r in outbox], ("id", "idempotency_key", "run_id"))

        props = [{"id": 1000 + i, "contact_id": "c2", "type": "cart_abandoned", "occurred_at": times[i],
                  "received_at": T0, "properties": DOCS[i] or {}, "idempotency_key": f"id:e{i}"} for i in range(4)]
        with write_transaction(db) as conn:
            _INSERT_EVENTS.run(conn, props)
            conn.execute(events.insert(), [{**row, "id": row["id"] + 100, "idempotency_key": f"id:core-e{i}"}
                                           for i, row in enumerate(props)])
        assert _read(db, events, events.c.id, [1000, 1001, 1002, 1003], ("id", "idempotency_key")) == \
            _read(db, events, events.c.id, [1100, 1101, 1102, 1103], ("id", "idempotency_key"))
    finally:
        db.dispose()


def test_updates_match_core_including_literals_in_the_statement(any_url: str) -> None:
    db = _db(any_url)
    try:
        journey_id, version = _setup(db)
        base = {"journey_id": journey_id, "version": version, "contact_id": "c1", "status": "active",
                "exit_reason": None, "node_id": "n0", "due_at": T0, "entered_at": T0, "updated_at": T0,
                "state": {"a": 1}, "trigger_event_id": None}
        with write_transaction(db) as conn:
            conn.execute(runs.insert(), [{**base, "id": 1}, {**base, "id": 2}])
        change = {"status": "exited", "exit_reason": None, "node_id": None, "due_at": None,
                  "state": {"last_message": "n1", "until": PARIS.isoformat()}, "updated_at": TOKYO}
        core_update = runs.update().where(runs.c.id == bindparam("rid")).values(
            {k: bindparam(k) for k in change})
        with write_transaction(db) as conn:
            _UPDATE_RUN.run(conn, [{"rid": 1, **change}])
            conn.execute(core_update, [{"rid": 2, **change}])
        assert _read(db, runs, runs.c.id, [1], ("id",)) == _read(db, runs, runs.c.id, [2], ("id",))

        # `order_count + 1` compiles to a literal bind the rows do not carry.
        core_order = contacts.update().where(contacts.c.id == bindparam("cid")).values(
            lifetime_spend=bindparam("spend"), order_count=contacts.c.order_count + 1,
            last_order_at=bindparam("last"), updated_at=bindparam("at"))
        order_many = Many(lambda _: core_order)
        with write_transaction(db) as conn:
            for _ in range(2):
                order_many.run(conn, [{"cid": "c1", "spend": 12.5, "last": FIXED, "at": PARIS}])
                conn.execute(core_order, [{"cid": "c2", "spend": 12.5, "last": FIXED, "at": PARIS}])
        one, two = _read(db, contacts, contacts.c.id, ["c1", "c2"], ("id",))
        assert one == two and one["order_count"] == 2 and one["last_order_at"] == FIXED
    finally:
        db.dispose()


def test_naive_timestamps_are_still_refused() -> None:
    """The column type's own checks run: a naive datetime is an error, as through Core."""
    import pytest

    from app.store.tables import run_log as table

    many = Many(lambda _: table.insert().values(at=bindparam("at"), run_id=bindparam("run_id"),
                                                 journey_id=bindparam("j"), contact_id=bindparam("c"),
                                                 action=bindparam("a")))
    db = open_database("sqlite://")
    try:
        with pytest.raises(Exception, match="naive"):
            with db.begin() as conn:
                many.run(conn, [{"at": datetime(2026, 1, 1), "run_id": 1, "j": "j", "c": "c", "a": "sent"}])
    finally:
        db.dispose()


def test_read_ahead_messages_stay_true_after_writes(any_url: str) -> None:
    """Rows a batch read ahead (or wrote early) answer like SQL after a write, a cancel and a stamp."""
    from app.engine.context import JourneyCache
    from app.engine.runs import Batch, message_key
    from app.engine.templating import TemplateCache

    db = _db(any_url)
    try:
        journey_id, _ = _setup(db)
        with write_transaction(db) as conn:
            batch = Batch(conn, JourneyCache(), TemplateCache())
            journey = batch.journeys.get(conn, journey_id, 1)
            run = batch.new_run(journey, "c1", T0, {}, None)
            batch.write_pending()
            batch.preload_messages([run.id])
            key = message_key(run.id, "n1")
            assert batch.message(key) is None
            batch.queue_message({c: None for c in MESSAGE_FIELDS} | {
                "idempotency_key": key, "run_id": run.id, "journey_id": journey_id, "node_id": "n1",
                "contact_id": "c1", "channel": "email", "recipient": "a@example.com", "status": "queued",
                "scheduled_at": T0, "created_at": T0})
            batch.write_pending()          # e.g. before a frequency-cap query: the row leaves the buffer
            assert batch.message(key) is not None and batch.message(key)["status"] == "queued"
            batch.stamped(run.id, "n1", "opened", PARIS, "queued")
            assert batch.message(key)["opened_at"] == PARIS
            batch.finish(run, "exited", TOKYO, "exit_condition")
            assert batch.message(key)["status"] == "cancelled"
            batch.flush(TOKYO)
            stored = conn.execute(select(messages).where(messages.c.idempotency_key == key)).mappings().one()
            assert stored["status"] == "cancelled" and stored["error"] == batch.message(key)["error"]
    finally:
        db.dispose()
