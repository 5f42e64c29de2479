"""`journeys contacts show ID` with the timeline, and `journeys contacts here JOURNEY STEP`."""
from __future__ import annotations

from app.paths import RESOURCES

from .helpers import run_cli

CART = str(RESOURCES / "examples" / "cart_abandonment.json")
SAMPLE = ["--contacts", str(RESOURCES / "sample_contacts.csv"), "--events", str(RESOURCES / "sample_events.jsonl")]


def _ran(tmp_path, capsys, *until: str) -> str:
    db = str(tmp_path / "db.sqlite3")
    assert run_cli(capsys, "simulate", CART, *SAMPLE, "--db", db, *until)[0] in (0, 1)
    return db


def test_show_prints_the_timeline_in_both_zones(tmp_path, capsys):
    db = _ran(tmp_path, capsys)
    code, out, err = run_cli(capsys, "contacts", "show", "c009", "--db", db, "--limit", "200", "--oldest-first")
    assert code == 0 and err == ""
    lines = out.splitlines()
    start = lines.index("Timeline (oldest first; local time Asia/Kolkata, business time UTC)")
    story = lines[start + 1:]
    assert any("Event: cart abandoned (total 24.00 USD, 1 item)" in line for line in story)
    email = next(i for i, line in enumerate(story) if line.endswith("Cart abandonment › Cart reminder email: Sent the email"))
    assert story[email].split()[:8] == ["Tue", "3", "Mar", "13:00", "[Tue", "3", "Mar", "07:30]"]
    assert story[email + 1].strip().startswith("email to arjun.patel@example.com “Arjun, your cart misses you”: "
                                               "queued Tue 3 Mar 13:00 → sent Tue 3 Mar 13:00")
    assert any(line.endswith("Opened within 24 h?: No: not opened within 24 hours") for line in story)
    assert story[-1].endswith("Completed the journey")


def test_show_limits_the_timeline_newest_first(tmp_path, capsys):
    db = _ran(tmp_path, capsys)
    code, out, _ = run_cli(capsys, "contacts", "show", "c009", "--db", db, "--limit", "2")
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Timeline (newest first"))
    assert lines[start + 1].endswith("Completed the journey")
    assert len(lines[start + 1:]) == 4 and lines[-1].strip().startswith("… more: --limit 4")  # 2 rows, 1 message, more
    assert run_cli(capsys, "contacts", "show", "c009", "--db", db, "--limit", "0")[0] == 2


def test_here_lists_who_waits_and_who_went(tmp_path, capsys):
    db = _ran(tmp_path, capsys, "--until", "2026-03-02T11:40:00Z")
    code, out, err = run_cli(capsys, "contacts", "here", "Cart abandonment", "Wait 1 hour", "--db", db)
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "Cart abandonment › Wait 1 hour: waiting now, soonest to move on first"
    assert out.splitlines()[1].split() == ["moves", "on", "Mon", "2", "Mar", "12:20", "UTC", "c002", "Lucas", "Martin"]
    (tmp_path / "all").mkdir()
    db2 = _ran(tmp_path / "all", capsys)        # run to the end: who went "no" at the status check
    code, out, _ = run_cli(capsys, "contacts", "here", "Cart abandonment", "Opened within", "--went", "no",
                           "--db", db2)
    assert code == 0 and any(line.split()[-3:] == ["c009", "Arjun", "Patel"] for line in out.splitlines())


def test_here_says_what_is_wrong(tmp_path, capsys):
    db = _ran(tmp_path, capsys)
    code, _, err = run_cli(capsys, "contacts", "here", "Nope", "x", "--db", db)
    assert code == 2 and "no journey named 'Nope'" in err
    code, _, err = run_cli(capsys, "contacts", "here", "Cart abandonment", "zzz", "--db", db)
    assert code == 2 and "no step 'zzz'" in err and "Wait 1 hour" in err
    code, _, err = run_cli(capsys, "contacts", "here", "Cart abandonment", "Wait 1 hour", "--went", "yes", "--db", db)
    assert code == 2 and "has no outcomes" in err


def test_a_bad_limit_is_refused_before_anything_is_printed(tmp_path, capsys):
    db = _ran(tmp_path, capsys)
    for limit in ("0", "-3"):
        code, out, err = run_cli(capsys, "contacts", "show", "c009", "--db", db, "--limit", limit)
        assert code == 2 and out == "" and f"--limit {limit}: give 1 or more" in err


def test_went_takes_the_outcome_as_the_step_shows_it(tmp_path, capsys):
    """The window says Went “No”: --went No, --went no and --went NO all mean the "no" outcome."""
    db = _ran(tmp_path, capsys)
    code, out, _ = run_cli(capsys, "contacts", "here", "Cart abandonment", "Opened within", "--went", "no", "--db", db)
    assert code == 0
    for spelt in ("No", "NO", " no "):
        again = run_cli(capsys, "contacts", "here", "Cart abandonment", "Opened within", "--went", spelt, "--db", db)
        assert again[:2] == (0, out)
    code, _, err = run_cli(capsys, "contacts", "here", "Cart abandonment", "Opened within", "--went", "maybe",
                           "--db", db)
    assert code == 2 and "the outcomes yes, no" in err


def test_here_finds_a_step_deleted_from_the_draft_where_contacts_still_wait(tmp_path, capsys):
    """Contacts run the published version: a step removed from the draft since still holds them, and
    `contacts here` lists them (by its name or id) instead of saying there is no such step."""
    from app.store.db import open_database
    from app.store.journeys import JourneyStore

    db = _ran(tmp_path, capsys, "--until", "2026-03-02T11:40:00Z")
    store = JourneyStore(open_database(f"sqlite:///{db}"))
    row = store.find("Cart abandonment")
    draft = store.load_draft(row.id)
    wait = next(n for n in draft["nodes"] if n["kind"] == "wait")
    draft["nodes"] = [n for n in draft["nodes"] if n is not wait]
    draft["edges"] = [e for e in draft["edges"] if wait["id"] not in (e["source"], e["target"])]
    store.save_draft(row.id, draft)
    store.engine.dispose()
    for step in ("Wait 1 hour", wait["id"][:8]):
        code, out, err = run_cli(capsys, "contacts", "here", "Cart abandonment", step, "--db", db)
        assert (code, err) == (0, "")
        assert out.splitlines()[0] == ("Cart abandonment › Wait 1 hour (no longer in the draft): "
                                       "waiting now, soonest to move on first")
        assert out.splitlines()[1].split()[-3:] == ["c002", "Lucas", "Martin"]


def test_here_says_times_in_the_business_zone(tmp_path, capsys):
    db = _ran(tmp_path, capsys, "--until", "2026-03-02T11:40:00Z")
    assert run_cli(capsys, "settings", "timezone", "America/New_York", "--db", db)[0] == 0
    code, out, _ = run_cli(capsys, "contacts", "here", "Cart abandonment", "Wait 1 hour", "--db", db)
    assert code == 0
    assert out.splitlines()[1].split() == ["moves", "on", "Mon", "2", "Mar", "07:20", "America/New_York", "c002",
                                           "Lucas", "Martin"]


def test_show_says_when_the_contact_has_no_zone_of_its_own(tmp_path, capsys):
    """A contact without a time zone is shown in the business's: the heading says so rather than
    calling it the contact's local time."""
    from datetime import datetime, timezone

    from app.engine.importers import import_contacts, parse_contacts
    from app.store.db import open_database

    db = _ran(tmp_path, capsys)
    engine = open_database(f"sqlite:///{db}")
    rows, _ = parse_contacts("id,email,subscribed\nnz1,nz1@example.com,email\n")
    import_contacts(engine, rows, datetime(2026, 3, 2, tzinfo=timezone.utc), "nz.csv")
    engine.dispose()
    assert run_cli(capsys, "settings", "timezone", "Europe/Berlin", "--db", db)[0] == 0
    code, out, _ = run_cli(capsys, "contacts", "show", "nz1", "--db", db)
    assert code == 0
    assert "Timeline (newest first; local time Europe/Berlin (the contact has no time zone))" in out.splitlines()
    code, out, _ = run_cli(capsys, "contacts", "show", "c009", "--db", db)
    assert "Timeline (newest first; local time Asia/Kolkata, business time Europe/Berlin)" in out.splitlines()
