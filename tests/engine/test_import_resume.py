"""Imports are resumable and idempotent: a bad line is reported and skipped (never half an import and
a crash), re-importing the fixed file adds only the fixed line, an import killed between its
transactions and run again leaves the state of one clean import, and `simulate --db` run again
publishes nothing new and re-imports nothing. Real SQLite files, real processes for the kills."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.cli import main
from app.engine.importers import import_contacts_report, parse_contacts
from app.paths import EXAMPLES, RESOURCES
from app.store.db import open_database
from app.store.tables import (consent_changes, contact_channels, contact_tags, contacts, events, journey_versions,
                              messages, run_log, runs)

from . import test_events_import_once as once

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _count(db_file: Path | str, table) -> int:
    db = open_database(str(db_file), write=False)
    try:
        with db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        db.dispose()


# -- a bad line in the middle ---------------------------------------------------------------------


def _event_lines(count: int) -> list[str]:
    """Orders (by order_id), views with an id, and opens without one (keyed by their content)."""
    base = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)
    lines = []
    for i in range(count):
        at = (base + timedelta(minutes=i)).isoformat()
        c = f"c{i % 150:03d}"
        if i % 3 == 0:
            line = {"contact": c, "type": "order_placed", "at": at, "properties": {"order_id": f"O{i}", "total": 10.5}}
        elif i % 3 == 1:
            line = {"contact": c, "type": "product_viewed", "at": at, "id": f"v{i}", "properties": {"sku": f"S{i}"}}
        else:
            line = {"contact": c, "type": "message_opened", "at": at, "properties": {"channel": "email"}}
        lines.append(json.dumps(line))
    return lines


BAD_AT_LINE_1100 = {
    "month 13": lambda line: _with(line, at=json.loads(line)["at"].replace("2026-03-", "2026-13-")),
    "year 9999 at -14:00": lambda line: _with(line, at="9999-12-31T23:59:59-14:00"),
    "year 1": lambda line: _with(line, at="0001-01-01T00:00:00+01:00"),
    "no time zone": lambda line: _with(line, at="2026-03-01T10:00:00"),
    "a number": lambda line: _with(line, at=1772352000),
    "NaN in properties": lambda line: line[:-1] + ', "ratio": NaN}',
    "1e999 in properties": lambda line: line[:-1] + ', "ratio": 1e999}',
    "a total of 1e20": lambda line: _with(line, type="order_placed", properties={"order_id": "big", "total": 1e20}),
}


def _with(line: str, **changes: Any) -> str:
    return json.dumps({**json.loads(line), **changes})


@pytest.mark.parametrize("bad", BAD_AT_LINE_1100)
def test_a_bad_line_1100_is_skipped_and_the_fixed_file_adds_only_that_line(tmp_path, capsys, bad, any_url):
    """On both databases: what PostgreSQL would refuse mid-import (NaN, 1e20) is refused on its line."""
    lines = _event_lines(2200)
    broken = list(lines)
    broken[1099] = BAD_AT_LINE_1100[bad](lines[1099])
    file, db = tmp_path / "events.jsonl", any_url
    file.write_text("\n".join(broken) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "events", "import", str(file), "--db", str(db))
    assert code == 0                                # events were taken; the bad line is listed (issue 12)
    assert err.count("\n") == 1 and f"{file}: line 1100: " in err and "(skipped)" in err
    assert f"Imported events from {file}: 2199 new, 0 already present; 1 bad line(s) skipped" in out
    assert _count(db, events) == 2199
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")      # fixed
    code, out, err = run(capsys, "events", "import", str(file), "--db", str(db))
    assert code == 0 and err == ""
    assert "1 new, 2199 already present; 0 bad line(s) skipped" in out
    assert _count(db, events) == 2200


def test_a_bad_contact_row_is_skipped_and_the_fixed_file_adds_only_that_contact(tmp_path, capsys):
    rows = [f"k{i:05d},k{i}@example.com,First{i},vip;new,{'sms' if i % 4 == 0 else ''}" for i in range(2199)]
    header = "id,email,first_name,tags,unsubscribed"
    broken = [*rows[:1098], "k-bad,bad@example.com,Bad,,pigeon", *rows[1098:]]   # line 1,100 (after the header)
    file, db = tmp_path / "people.csv", tmp_path / "journeys.sqlite3"
    file.write_text("\n".join([header, *broken]) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "contacts", "import", str(file), "--db", str(db))
    assert code == 0 and f"{file}: line 1100: unsubscribed names 'pigeon'" in err      # rows imported (issue 12)
    assert "2199 new, 0 updated, 0 unchanged; 1 bad row(s) skipped" in out
    file.write_text("\n".join([header, *rows[:1098], "k-bad,bad@example.com,Bad,,", *rows[1098:]]) + "\n",
                    encoding="utf-8")
    code, out, err = run(capsys, "contacts", "import", str(file), "--db", str(db))
    assert code == 0 and err == ""
    assert "1 new, 0 updated, 2199 unchanged" in out
    assert _count(db, contacts) == 2200 and _count(db, consent_changes) == 550      # no opt-out recorded twice


def test_a_contacts_file_imported_again_writes_nothing_and_a_changed_row_is_an_update(any_url):
    text = "id,email,first_name,tags,plan\n" + "".join(f"u{i},u{i}@example.com,U{i},a;b,gold\n" for i in range(30))
    rows, problems = parse_contacts(text)
    assert not problems
    db = open_database(any_url)
    try:
        first = import_contacts_report(db, rows, datetime(2026, 3, 1, tzinfo=timezone.utc))
        assert (first.new, first.updated, first.unchanged) == (30, 0, 0)
        again = import_contacts_report(db, rows, datetime(2026, 3, 2, tzinfo=timezone.utc))
        assert (again.new, again.updated, again.unchanged) == (0, 0, 30)
        with db.connect() as conn:        # not even touched
            assert conn.execute(select(func.max(contacts.c.updated_at))).scalar() == datetime(
                2026, 3, 1, tzinfo=timezone.utc)
        changed, _ = parse_contacts(text.replace("u3,u3@example.com,U3,a;b,gold", "u3,u3@example.com,U3,a;b;c,gold")
                                    .replace("u4,u4@example.com,U4,a;b,gold", "u4,u4@example.com,U4,a;b,silver"))
        third = import_contacts_report(db, changed, datetime(2026, 3, 3, tzinfo=timezone.utc))
        assert (third.new, third.updated, third.unchanged) == (0, 2, 28)
    finally:
        db.dispose()


# -- killed halfway, run again ---------------------------------------------------------------------


def _contacts_state(db_file: Path) -> dict[str, Any]:
    """Everything a contacts import writes, without the times it wrote it."""
    db = open_database(str(db_file), write=False)
    try:
        with db.connect() as conn:
            return {
                "contacts": sorted(tuple(r) for r in conn.execute(select(
                    contacts.c.id, contacts.c.email, contacts.c.first_name, contacts.c.timezone, contacts.c.attributes)
                    .order_by(contacts.c.id)).all()),
                "tags": sorted(tuple(r) for r in conn.execute(select(contact_tags)).all()),
                "channels": sorted(tuple(r) for r in conn.execute(select(
                    contact_channels.c.contact_id, contact_channels.c.channel, contact_channels.c.state,
                    contact_channels.c.source)).all()),
                "history": sorted(tuple(r) for r in conn.execute(select(
                    consent_changes.c.contact_id, consent_changes.c.channel, consent_changes.c.state,
                    consent_changes.c.previous, consent_changes.c.source)).all()),
            }
    finally:
        db.dispose()


KILL_IN_SECOND_CONTACTS_TRANSACTION = """
import os, signal, sys
from contextlib import contextmanager
import app.engine.contact_import as importers
real, calls = importers.write_transaction, []
@contextmanager
def dying(db):
    calls.append(1)
    with real(db) as conn:
        yield conn
        if len(calls) == 2:               # the second 5,000 rows are written, not committed
            os.kill(os.getpid(), signal.SIGKILL)
importers.write_transaction = dying
from app.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_contacts_import_killed_halfway_and_run_again_equals_one_clean_import(tmp_path, capsys):
    lines = ["id,email,first_name,timezone,tags,unsubscribed,subscribed,tier"] + [
        f"m{i:05d},m{i}@example.com,M{i},{'Europe/Paris' if i % 2 else ''},t{i % 7};all,"
        f"{'email' if i % 5 == 0 else ''},{'sms' if i % 3 == 0 else ''},{'gold' if i % 11 == 0 else ''}"
        for i in range(12_000)]                                        # three transactions of 5,000
    file = tmp_path / "people.csv"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    clean, crashed = tmp_path / "clean.sqlite3", tmp_path / "crashed.sqlite3"
    assert run(capsys, "contacts", "import", str(file), "--db", str(clean))[0] == 0
    killed = subprocess.run([sys.executable, "-c", KILL_IN_SECOND_CONTACTS_TRANSACTION, "contacts", "import",
                             str(file), "--db", str(crashed)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    assert _count(crashed, contacts) == 5000                            # the first transaction only
    code, out, _ = run(capsys, "contacts", "import", str(file), "--db", str(crashed))
    assert code == 0 and "7000 new, 0 updated, 5000 unchanged" in out
    assert _contacts_state(crashed) == _contacts_state(clean)


def _many_event_lines() -> list[dict[str, Any]]:
    """The shape of test_events_import_once's file, for 200 people: 5,000 lines, ten transactions."""
    return once._lines(200)


KILL_IN_SIXTH_EVENTS_TRANSACTION = """
import os, signal, sys
import app.engine.engine as engine
real, calls = engine.ingest_batch, []
def dying(*args):
    calls.append(1)
    done = real(*args)
    if len(calls) == 6:
        os.kill(os.getpid(), signal.SIGKILL)
    return done
engine.ingest_batch = dying
from app.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_big_events_import_killed_halfway_and_run_again_equals_one_clean_import(tmp_path, capsys):
    lines = _many_event_lines()
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crash"
    clean_dir.mkdir()
    crash_dir.mkdir()
    file = tmp_path / "events.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    clean_db, crashed_db = once._setup(clean_dir), once._setup(crash_dir)
    assert run(capsys, "events", "import", str(file), "--db", str(clean_db))[0] == 0
    killed = subprocess.run([sys.executable, "-c", KILL_IN_SIXTH_EVENTS_TRANSACTION, "events", "import", str(file),
                             "--db", str(crashed_db)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    halfway = once._state(crashed_db)
    assert 0 < halfway["events"] < once._state(clean_db)["events"]
    code, out, _ = run(capsys, "events", "import", str(file), "--db", str(crashed_db))
    assert code == 0 and f"{4000 - halfway['events']} new" in out      # 5,000 lines, 4,000 distinct events
    assert once._state(crashed_db) == once._state(clean_db)      # spend, orders, runs, messages, log, statistics


# -- simulate --db, again ----------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["cart_abandonment.json", "win_back.json"])     # event and scan triggers
def test_simulate_on_the_same_database_again_publishes_nothing_and_imports_nothing_again(any_url, capsys, example):
    args = ["simulate", str(EXAMPLES / example), "--contacts", str(RESOURCES / "sample_contacts.csv"),
            "--events", str(RESOURCES / "sample_events.jsonl"), "--db", any_url]
    code, first, _ = run(capsys, *args)
    assert code == 0 and "Database: contacts 32 new, 0 updated, 0 unchanged; events 33 new, 0 already present; " \
                         "published version 1" in first
    tables = (contacts, events, journey_versions, consent_changes, runs, messages, run_log)
    counted = {t.name: _count(any_url, t) for t in tables}
    assert counted["runs"] > 0 and counted["messages"] > 0
    code, second, _ = run(capsys, *args)
    assert code == 0
    assert "Database: contacts 0 new, 0 updated, 32 unchanged; events 0 new, 33 already present; " \
           "version 1 unchanged (nothing published)" in second
    assert {t.name: _count(any_url, t) for t in tables} == counted       # nobody entered or was sent twice
    table = [line for line in first.splitlines() if not line.startswith("Database:")]
    assert [line for line in second.splitlines() if not line.startswith("Database:")] == table


def test_simulate_with_a_changed_journey_publishes_one_new_version(tmp_path, capsys):
    from app.journey.fileformat import load, save

    db = tmp_path / "sim.sqlite3"
    journey = load(EXAMPLES / "welcome_series.json")
    path = tmp_path / "welcome.json"
    save(journey, path)
    args = ["simulate", str(path), "--contacts", str(RESOURCES / "sample_contacts.csv"), "--events",
            str(RESOURCES / "sample_events.jsonl"), "--db", str(db)]
    assert "published version 1" in run(capsys, *args)[1]
    journey.description = (journey.description or "") + " (edited)"
    save(journey, path)
    assert "published version 2" in run(capsys, *args)[1]
    assert "version 2 unchanged (nothing published)" in run(capsys, *args)[1]
    assert _count(db, journey_versions) == 2


def test_an_events_import_killed_from_outside_at_any_moment_then_run_again_equals_one_clean_import(tmp_path, capsys):
    """As a person would: `kill -9` once some of it is in (whatever it is doing at that moment)."""
    import os
    import signal
    import sqlite3
    import time

    lines = _many_event_lines()
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crash"
    clean_dir.mkdir()
    crash_dir.mkdir()
    file = tmp_path / "events.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    clean_db, crashed_db = once._setup(clean_dir), once._setup(crash_dir)
    assert run(capsys, "events", "import", str(file), "--db", str(clean_db))[0] == 0
    importing = subprocess.Popen([sys.executable, "-m", "app.cli", "events", "import", str(file), "--db",
                                  str(crashed_db)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = sqlite3.connect(f"file:{crashed_db}?mode=ro", uri=True)
    try:
        while importing.poll() is None and watch.execute("SELECT count(*) FROM events").fetchone()[0] == 0:
            time.sleep(0.01)
    finally:
        watch.close()
    if importing.poll() is None:
        os.kill(importing.pid, signal.SIGKILL)
    importing.wait(timeout=300)
    code, out, _ = run(capsys, "events", "import", str(file), "--db", str(crashed_db))
    assert code == 0 and "already present" in out
    assert once._state(crashed_db) == once._state(clean_db)
