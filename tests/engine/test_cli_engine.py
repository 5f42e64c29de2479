"""The engine's commands as a user runs them: contacts import, events import, simulate, stats."""
from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import select

from app.cli import main
from app.engine.importers import parse_contacts, parse_events
from app.paths import EXAMPLES, RESOURCES
from app.store.db import open_database
from app.store.tables import contact_channels, contacts, events

SAMPLE_CONTACTS = str(RESOURCES / "sample_contacts.csv")
SAMPLE_EVENTS = str(RESOURCES / "sample_events.jsonl")
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_bad_csv_row_is_reported_with_its_line_and_the_rest_imported(tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text("id,email,timezone,unsubscribed,city\n"
                    "a1,a1@example.com,Europe/Paris,,Paris\n"
                    "a2,a2@example.com,Mars/Olympus,,Nowhere\n"          # line 3: bad zone
                    ",nobody@example.com,,,\n"                           # line 4: no id
                    "a3,a3@example.com,UTC,email;sms,Leeds\n"
                    "a4,a4@example.com,UTC,pigeon,\n", encoding="utf-8")   # line 6: unknown channel
    db = tmp_path / "db.sqlite3"
    code, out, err = run(capsys, "contacts", "import", str(path), "--db", str(db))
    assert code == 0            # rows were imported: the bad ones are reported (issue 12)
    # A zone that is no IANA name is left out, as a phone that is no number: the row is kept.
    assert f"{path}: line 3: time zone 'Mars/Olympus' is not an IANA name" in err
    assert "left empty (the zone of the phone or address, else the business's, applies) (row kept)" in err
    assert "line 4" not in err          # no id: matched, and named, by its email
    assert f"{path}: line 6: unsubscribed names 'pigeon'" in err
    assert (f"Imported contacts from {path} (Journey Studio contacts): 4 new, 0 updated, 0 unchanged; "
            "1 bad row(s) skipped; 1 row(s) kept with a value left out") in out
    engine = open_database(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(contacts))}
        unsub = set(conn.execute(select(contact_channels.c.contact_id, contact_channels.c.channel)))
    engine.dispose()
    assert set(rows) == {"a1", "a2", "a3", "nobody@example.com"} and rows["a1"].attributes == {"city": "Paris"}
    assert rows["a2"].timezone is None
    assert unsub == {("a3", "email"), ("a3", "sms")}


def test_a_bad_jsonl_line_is_reported_with_its_line_and_the_rest_imported(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    lines = [
        {"contact": "c1", "type": "cart_abandoned", "at": "2026-03-01T10:00:00Z", "properties": {"cart_url": "u"}},
        "{not json",
        {"contact": "c1", "type": "order_placed", "at": "yesterday"},
        {"contact": "c2", "type": "order_placed", "at": "2026-03-01T11:00:00Z", "properties": {"total": "lots"}},
        {"contact": "c2", "type": "order_placed", "at": "2026-03-01T12:00:00+01:00", "properties": {"total": 12.5}},
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    db = tmp_path / "db.sqlite3"
    code, out, err = run(capsys, "events", "import", str(path), "--db", str(db))
    assert code == 0        # events were taken, the bad lines listed (issue 12's exit codes)
    assert f"{path}: line 2: not valid JSON" in err
    assert f"{path}: line 3: 'at' 'yesterday' is not an ISO-8601 time" in err
    assert f"{path}: line 4: order_placed 'total' must be a non-negative number" in err
    assert f"Imported events from {path}: 2 new, 0 already present; 3 bad line(s) skipped" in out
    engine = open_database(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert sorted(conn.execute(select(events.c.contact_id, events.c.type))) == [
            ("c1", "cart_abandoned"), ("c2", "order_placed")]
        assert float(conn.execute(select(contacts.c.lifetime_spend).where(contacts.c.id == "c2")).scalar()) == 12.5
    engine.dispose()


def test_an_unreadable_file_is_one_line_and_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "contacts", "import", str(tmp_path / "missing.csv"), "--db", str(tmp_path / "d"))
    assert code == 2 and err.strip() == f"journeys contacts: {tmp_path / 'missing.csv'}: no such file"


def test_the_sample_files_are_clean():
    rows, problems = parse_contacts((RESOURCES / "sample_contacts.csv").read_text(encoding="utf-8"))
    assert not problems and len(rows) >= 30
    assert len({r.fields["timezone"] for r in rows if r.fields["timezone"]}) >= 5
    assert any(r.unsubscribed for r in rows)
    found, problems = parse_events((RESOURCES / "sample_events.jsonl").read_text(encoding="utf-8"))
    assert not problems
    assert {"cart_abandoned", "order_placed", "subscribed", "unsubscribed", "message_opened"} <= {e.type for e in found}


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_simulate_runs_each_example_on_the_sample_data(example, tmp_path, capsys):
    log = tmp_path / "activity.jsonl"
    code, out, err = run(capsys, "simulate", str(example), "--contacts", SAMPLE_CONTACTS,
                         "--events", SAMPLE_EVENTS, "--log", str(log))
    assert code == 0, err
    assert err == ""
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").split("\n") if x]
    assert lines, "the simulation did nothing"
    assert [x["at"] for x in lines] == sorted(x["at"] for x in lines)
    allowed = {"entered", "sent", "skipped", "deferred", "waited", "branched", "tagged", "goal", "converted",
               "exited", "completed", "failed"}
    assert {x["action"] for x in lines} <= allowed
    assert {"entered", "sent"} <= {x["action"] for x in lines}
    for x in lines:
        assert {"at", "contact", "journey", "node", "kind", "action"} <= set(x) and x["at"].endswith("Z")
        if x["action"] == "sent":
            assert x["channel"] in ("email", "sms", "whatsapp") and x["text"]
        if x["action"] in ("skipped", "deferred", "exited"):
            assert x["reason"]
    assert out.splitlines()[1].split()[:3] == ["step", "kind", "entered"]
    assert f"Wrote {len(lines)} activity line(s)" in out


def test_simulate_the_cart_story_end_to_end(tmp_path, capsys):
    log = tmp_path / "cart.jsonl"
    code, out, _ = run(capsys, "simulate", str(EXAMPLES / "cart_abandonment.json"), "--contacts", SAMPLE_CONTACTS,
                       "--events", SAMPLE_EVENTS, "--log", str(log))
    assert code == 0
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").split("\n") if x]
    by = lambda c: [x for x in lines if x["contact"] == c]   # noqa: E731
    assert [x["action"] for x in by("c004")][-1] == "exited"                       # ordered during the wait
    assert not any(x["action"] == "sent" for x in by("c004"))
    assert [x.get("reason") for x in by("c009") if x["action"] == "exited"] == ["re_triggered"]
    c003 = by("c003")                                                              # unsubscribed from email
    assert [x["channel"] for x in c003 if x["action"] == "sent"] == ["sms"]
    tokyo = [x for x in by("c007") if x["action"] in ("deferred", "sent")]
    assert tokyo[0]["reason"] == "quiet_hours" and tokyo[1]["at"] == "2026-03-02T23:00:00Z"   # 08:00 in Tokyo
    [conversion] = [x for x in by("c002") if x["action"] == "converted"]
    assert conversion["revenue"] == 38.9 and conversion["kind"] == "send_template"


def test_simulate_without_log_prints_only_the_table_and_honours_until(tmp_path, capsys):
    code, out, _ = run(capsys, "simulate", str(EXAMPLES / "cart_abandonment.json"), "--contacts", SAMPLE_CONTACTS,
                       "--events", SAMPLE_EVENTS, "--until", "2026-03-02T12:00:00Z")
    assert code == 0 and "Wrote" not in out
    waiting = [line for line in out.splitlines() if line.startswith("Wait 1 hour")]
    assert waiting and waiting[0].split()[5] != "0"          # contacts still waiting at the cut-off


def test_simulate_refuses_bad_times_and_files(tmp_path, capsys):
    code, _, err = run(capsys, "simulate", str(EXAMPLES / "cart_abandonment.json"), "--start", "soon")
    assert code == 2 and "--start 'soon' is not an ISO-8601 time" in err
    code, _, err = run(capsys, "simulate", str(tmp_path / "none.json"))
    assert code == 2 and err.count("\n") == 1


def test_simulate_into_a_named_database_then_stats(tmp_path, capsys):
    db = tmp_path / "sim.sqlite3"
    code, _, _ = run(capsys, "simulate", str(EXAMPLES / "welcome_series.json"), "--contacts", SAMPLE_CONTACTS,
                     "--events", SAMPLE_EVENTS, "--db", str(db))
    assert code == 0 and db.exists()
    code, out, _ = run(capsys, "stats", "Welcome series", "--db", str(db))
    assert code == 0 and "Welcome email" in out and out.splitlines()[-1].startswith("journey: entered 3")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "CET+1", "Europe/Pariss", "GMT+25", "utc/"])
def test_a_row_with_a_bad_time_zone_keeps_its_opt_out_and_gets_the_phones_zone(zone, tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text("id,email,phone,timezone,unsubscribed\n"
                    f"a1,a1@example.com,+33 6 12 34 56 78,{zone},email;sms\n", encoding="utf-8")
    db = tmp_path / "db.sqlite3"
    code, out, err = run(capsys, "contacts", "import", str(path), "--db", str(db))
    assert code == 0 and "1 new" in out and "(row kept)" in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT timezone FROM contacts").fetchall() == [("Europe/Paris",)]
        assert sorted(conn.execute("SELECT channel, state FROM contact_channels")) == [
            ("email", "unsubscribed"), ("sms", "unsubscribed")]
