"""`journeys events import` counts every event once: a file imported twice, or an import killed halfway
and run again, leaves the same state as one clean import, and the report says what was skipped."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.cli import main
from app.engine.importers import import_contacts, parse_contacts
from app.engine.simulator import install_journey
from app.engine.stats import journey_stats
from app.store.db import open_database
from app.store.tables import contacts, events, messages, run_log, runs

from .helpers import chain, send_node, simple_journey, t

REPO = Path(__file__).resolve().parents[2]
PEOPLE = 60


def _journeys():
    carts = simple_journey("Carts", goal={"enabled": True, "event": "order_placed", "exits": False},
                           entry={"mode": "every_time"})
    chain(carts, carts.trigger(), send_node(carts, subject="Your cart"))
    views = simple_journey("Views", event="product_viewed",
                           goal={"enabled": True, "event": "order_placed", "exits": False})
    chain(views, views.trigger(), send_node(views, "sms", subject="Still looking?"))
    return [carts, views]


JOURNEYS = _journeys()


def _lines(people: int = PEOPLE) -> list[dict[str, Any]]:
    """25 events a person (1,500 over 60 people), with repeats inside the file (same order, same event id).

    The command runs on the real clock (a journey reacts when an event arrives), so the events lie
    a little ahead of now: an order then falls within the conversion window of the messages sent."""
    base = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    lines: list[dict[str, Any]] = []
    for i in range(people):
        c = f"p{i:02d}" if people <= 100 else f"p{i:03d}"
        for day in range(1, 6):
            at = base + timedelta(hours=12 * (day - 1), minutes=i % 60)

            def when(minutes: int) -> str:
                return (at + timedelta(minutes=minutes)).isoformat()

            lines.append({"contact": c, "type": "cart_abandoned", "at": when(0), "id": f"cart-{c}-{day}",
                          "properties": {"cart_url": f"https://shop.example/{c}/{day}"}})
            lines.append({"contact": c, "type": "product_viewed", "at": when(1), "properties": {"sku": f"S{day}"}})
            lines.append({"contact": c, "type": "message_opened", "at": when(2)})
            order = {"contact": c, "type": "order_placed", "at": when(3),
                     "properties": {"order_id": f"O-{c}-{day}", "total": 20.0 + day}}
            lines.append(order)
            # The shop's webhook delivered the order again, later and with another event id.
            lines.append({**order, "at": when(4), "id": f"retry-{c}-{day}"})
    return lines


def _setup(path: Path) -> Path:
    db_file = path / "journeys.sqlite3"
    db = open_database(f"sqlite:///{db_file}")
    rows, problems = parse_contacts("id,email,phone\n" + "".join(
        f"p{i:02d},p{i}@example.com,+1555{i:04d}\n" for i in range(PEOPLE)))
    assert not problems
    import_contacts(db, rows, t("2026-03-01T00:00:00Z"))
    for journey in JOURNEYS:
        install_journey(db, journey, t("2026-03-01T00:00:00Z"))
    db.dispose()
    return db_file


def _state(db_file: Path) -> dict[str, Any]:
    """What a user would compare: customers' spend and orders, runs, messages, the log, the statistics."""
    db = open_database(f"sqlite:///{db_file}")
    try:
        with db.connect() as conn:
            def count(table) -> int:
                return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

            state: dict[str, Any] = {
                "customers": sorted((r.id, float(r.lifetime_spend), r.order_count) for r in conn.execute(
                    select(contacts.c.id, contacts.c.lifetime_spend, contacts.c.order_count))),
                "events": count(events), "runs": count(runs), "messages": count(messages),
                "opened": int(conn.execute(select(func.count()).where(messages.c.opened_at.is_not(None))).scalar_one()),
                "log": sorted(conn.execute(select(run_log.c.action, func.count()).group_by(run_log.c.action)).all()),
            }
        for journey in JOURNEYS:
            s = journey_stats(db, journey.id)
            state[journey.name] = (s.entered, s.converted, round(s.revenue, 2), s.goals,
                                   sorted((n, v.sent, v.opened, v.converted) for n, v in s.nodes.items()))
        return state
    finally:
        db.dispose()


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    file = path / "events.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return file


def _import(capsys, file: Path, db_file: Path) -> str:
    assert main(["events", "import", str(file), "--db", str(db_file)]) == 0
    return capsys.readouterr().out


def test_importing_the_same_file_twice_changes_nothing_the_second_time(tmp_path, capsys):
    lines = _lines()
    file = _write(tmp_path, lines)
    db_file = _setup(tmp_path)
    first = _import(capsys, file, db_file)
    unique = len(lines) - PEOPLE * 5
    assert f"{unique} new, {PEOPLE * 5} already present ({PEOPLE * 5} of them repeated within the file)" in first
    once = _state(db_file)
    assert once["customers"][0] == ("p00", 115.0, 5)          # 21 + 22 + 23 + 24 + 25, each order once
    assert once["Carts"][1] + once["Views"][1] == PEOPLE * 5     # each order converts once, in one journey
    second = _import(capsys, file, db_file)
    assert f"0 new, {len(lines)} already present ({PEOPLE * 5} of them repeated within the file)" in second
    assert _state(db_file) == once


def test_an_import_killed_halfway_and_run_again_leaves_the_state_of_one_clean_import(tmp_path, capsys):
    lines = _lines()
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crash"
    clean_dir.mkdir()
    crash_dir.mkdir()
    file = _write(tmp_path, lines)
    clean_db, crashed_db = _setup(clean_dir), _setup(crash_dir)
    _import(capsys, file, clean_db)
    # SIGKILL inside the third transaction (500 events each), before it commits: two are in, one is lost.
    killer = (
        "import os, signal, sys\n"
        "import app.engine.engine as engine\n"
        "real, calls = engine.ingest_batch, []\n"
        "def dying(*args):\n"
        "    calls.append(1)\n"
        "    done = real(*args)\n"
        "    if len(calls) == 3:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return done\n"
        "engine.ingest_batch = dying\n"
        "from app.cli import main\n"
        f"sys.exit(main(['events', 'import', {str(file)!r}, '--db', {str(crashed_db)!r}]))\n")
    killed = subprocess.run([sys.executable, "-c", killer], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    halfway = _state(crashed_db)
    assert 0 < halfway["events"] < _state(clean_db)["events"]
    again = _import(capsys, file, crashed_db)
    assert "already present" in again
    assert _state(crashed_db) == _state(clean_db)


def test_a_line_separator_inside_a_text_does_not_split_the_event(tmp_path, capsys):
    line = {"contact": "ann", "type": "product_viewed", "at": "2026-03-02T10:00:00Z",
            "properties": {"review": "Great\u2028mug\u0085really"}}
    file = tmp_path / "events.jsonl"
    file.write_text(json.dumps(line, ensure_ascii=False) + "\r\n" + json.dumps(line, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    out = _import(capsys, file, tmp_path / "db.sqlite3")
    assert "1 new, 1 already present (1 of them repeated within the file); 0 bad line(s)" in out
