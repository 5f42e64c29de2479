"""`journeys settings timezone` and `journeys simulate --timezone` (issue 8 §7), as a user runs them."""
from __future__ import annotations

import json

from app.journey.fileformat import save
from app.store.app_settings import business_timezone
from app.store.db import open_database

from .helpers import chain, run_cli, send_node, simple_journey




def test_settings_timezone_is_validated_stored_and_printed(tmp_path, capsys):
    db = str(tmp_path / "shop.sqlite3")
    code, out, _ = run_cli(capsys, "settings", "--db", db)
    assert code == 0 and "not set" in out
    code, _, err = run_cli(capsys, "settings", "timezone", "Europe/Berln", "--db", db)
    assert code == 2 and "'Europe/Berln' is not a time zone" in err and "Europe/Berlin" in err
    assert "Traceback" not in err
    code, out, _ = run_cli(capsys, "settings", "timezone", "Europe/Berlin", "--db", db)
    assert code == 0 and "Europe/Berlin" in out
    code, out, _ = run_cli(capsys, "settings", "--db", db)
    assert out.split() == ["timezone", "Europe/Berlin"]
    code, out, _ = run_cli(capsys, "settings", "timezone", "--db", db)
    assert out.strip() == "Europe/Berlin"
    engine = open_database(db)
    assert business_timezone(engine) == "Europe/Berlin"
    engine.dispose()


def test_validate_against_a_database_warns_when_no_business_zone_is_set(tmp_path, capsys):
    db = str(tmp_path / "shop.sqlite3")
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey))
    path = tmp_path / "j.json"
    save(journey, path)
    code, out, _ = run_cli(capsys, "validate", str(path), "--db", db)
    assert code == 0 and "No business time zone is set" in out
    run_cli(capsys, "settings", "timezone", "America/New_York", "--db", db)
    code, out, _ = run_cli(capsys, "validate", str(path), "--db", db)
    assert "No business time zone" not in out
    code, out, _ = run_cli(capsys, "validate", str(path))              # no database: nothing to say
    assert "No business time zone" not in out


def evening_sms(tmp_path):
    """Issue example: wait until 20:30, then an SMS under quiet hours 21:00–08:00."""
    journey = simple_journey(quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"})
    wait = journey.add_node("wait", {"mode": "time_of_day", "time": "20:30"})
    chain(journey, journey.trigger(), wait, send_node(journey, channel="sms", subject="Tonight"))
    path = tmp_path / "evening.json"
    save(journey, path)
    (tmp_path / "people.csv").write_text("id,phone,timezone,subscribed\nx,+15550001,,sms\n")
    (tmp_path / "events.jsonl").write_text(json.dumps(
        {"contact": "x", "type": "cart_abandoned", "at": "2026-03-02T15:00:00Z"}) + "\n")
    return path


def sms_times(log_path) -> list[str]:
    return [line["at"] for line in map(json.loads, log_path.read_text().splitlines()) if line["action"] == "sent"]


def test_simulate_uses_the_business_zone_given_with_timezone(tmp_path, capsys):
    path = evening_sms(tmp_path)
    log = tmp_path / "log.jsonl"
    code, out, err = run_cli(capsys, "simulate", str(path), "--contacts", str(tmp_path / "people.csv"),
                         "--events", str(tmp_path / "events.jsonl"), "--log", str(log),
                         "--timezone", "America/New_York")
    assert code == 0, err
    assert "America/New_York (the business's time zone)" in out
    assert sms_times(log) == ["2026-03-03T01:30:00Z"]                # 20:30 in New York, not held till 08:00
    code, out, _ = run_cli(capsys, "simulate", str(path), "--contacts", str(tmp_path / "people.csv"),
                       "--events", str(tmp_path / "events.jsonl"), "--log", str(log))
    assert "UTC (no business time zone is set" in out
    assert sms_times(log) == ["2026-03-02T20:30:00Z"]


def test_simulate_reads_the_business_zone_of_its_database_and_refuses_a_bad_one(tmp_path, capsys):
    path = evening_sms(tmp_path)
    db = str(tmp_path / "shop.sqlite3")
    run_cli(capsys, "settings", "timezone", "America/New_York", "--db", db)
    log = tmp_path / "log.jsonl"
    code, _, _ = run_cli(capsys, "simulate", str(path), "--contacts", str(tmp_path / "people.csv"),
                     "--events", str(tmp_path / "events.jsonl"), "--log", str(log), "--db", db)
    assert code == 0 and sms_times(log) == ["2026-03-03T01:30:00Z"]
    code, _, err = run_cli(capsys, "simulate", str(path), "--timezone", "Nowhere/Land")
    assert code == 2 and "--timezone" in err and "not a time zone" in err


def simulated(tmp_path, capsys, journey, contacts_csv: str, events: list[dict], *extra: str) -> list[dict]:
    path, log = tmp_path / "j.json", tmp_path / "log.jsonl"
    save(journey, path)
    (tmp_path / "c.csv").write_text(contacts_csv)
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    code, _, err = run_cli(capsys, "simulate", str(path), "--contacts", str(tmp_path / "c.csv"),
                       "--events", str(tmp_path / "e.jsonl"), "--log", str(log), *extra)
    assert code == 0, err
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_simulate_shows_the_entry_rule_example(tmp_path, capsys):
    """Again after 30 days + restart: the next day's trigger changes nothing; day 31 restarts."""
    journey = simple_journey(entry={"mode": "after_days", "days": 30}, retrigger="restart")
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 60, "unit": "days"}})
    chain(journey, journey.trigger(), send_node(journey, subject="First"), wait)
    lines = simulated(tmp_path, capsys, journey, "id,email\na,a@example.com\n", [
        {"contact": "a", "type": "cart_abandoned", "at": at}
        for at in ("2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z", "2026-04-02T10:00:00Z")])
    assert [x["at"] for x in lines if x["action"] == "sent"] == ["2026-03-02T10:00:00Z", "2026-04-02T10:00:00Z"]
    assert [(x["at"], x["reason"]) for x in lines if x["action"] == "exited"] == [
        ("2026-04-02T10:00:00Z", "re_triggered")]


def test_simulate_shows_the_berlin_days_example(tmp_path, capsys):
    """Email 23 Oct 10:00 Berlin, wait 2 days, opened within 2 days? An open 48.5 h later is a yes."""
    journey = simple_journey()
    email = send_node(journey, subject="Offer")
    wait = journey.add_node("wait", {"mode": "duration", "delay": {"amount": 2, "unit": "days"}})
    branch = journey.add_node("message_status", {"step": email.id, "status": "opened",
                                                 "window": {"amount": 2, "unit": "days"}})
    chain(journey, journey.trigger(), email, wait, branch)
    lines = simulated(tmp_path, capsys, journey, "id,email\nb,b@example.com\n", [
        {"contact": "b", "type": "cart_abandoned", "at": "2026-10-23T08:00:00Z"},
        {"contact": "b", "type": "message_opened", "at": "2026-10-25T08:30:00Z"}], "--timezone", "Europe/Berlin")
    [waited] = [x for x in lines if x["action"] == "waited"]
    assert waited["until"] == "2026-10-25T09:00:00Z"                  # 25 Oct 10:00 CET, 49 h
    [branched] = [x for x in lines if x["action"] == "branched"]
    assert (branched["at"], branched["outcome"]) == ("2026-10-25T09:00:00Z", "yes")
