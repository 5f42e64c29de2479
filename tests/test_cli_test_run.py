"""`journeys test-run`, run as a user would: a real process, real files, the store only read."""
from __future__ import annotations

import json
from pathlib import Path

from app.journey.fileformat import save
from app.paths import EXAMPLES

from .journey.helpers import email, linear
from .test_cli import journeys

CART = str(EXAMPLES / "cart_abandonment.json")
EVENT = "cart_abandoned@2026-03-02T10:00:00Z"


def _emma(tmp_path: Path) -> str:
    path = tmp_path / "emma.json"
    path.write_text(json.dumps({"id": "t1", "first_name": "Emma", "email": "emma@example.com", "phone": "+447700900123",
                                "timezone": "Europe/London", "consent": {"email": "subscribed", "sms": "subscribed"}}))
    return str(path)


def test_the_story_of_a_contact_who_opens_the_email(tmp_path):
    result = journeys("test-run", CART, "--contact", _emma(tmp_path), "--event", EVENT, "--then", "opened@+2h",
                      db=tmp_path / "live.sqlite3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Cart reminder email: Sent the email “Emma, your cart misses you” to emma@example.com" in out
    assert "Opened within 24 h?: Yes: opened within 24 hours" in out
    assert "contact: Opened the email" in out and out.rstrip().endswith("End: completed")
    assert "Discount SMS" not in out


def test_the_story_of_a_contact_who_orders_on_day_2(tmp_path):
    result = journeys("test-run", CART, "--contact", _emma(tmp_path), "--event", EVENT, "--then", "ordered@+1d:40",
                      db=tmp_path / "live.sqlite3")
    assert result.returncode == 0, result.stderr
    assert "Tue 3 Mar 10:00" in result.stdout
    assert result.stdout.rstrip().endswith("End: exited: exit condition met (order placed)")


def test_a_csv_contact_and_an_evening_trigger_show_quiet_hours(tmp_path):
    contact = tmp_path / "mia.csv"
    contact.write_text("id,email,first_name,timezone,subscribed\nm1,mia@example.com,Mia,Europe/Berlin,email\n")
    result = journeys("test-run", CART, "--contact", str(contact), "--event", "cart_abandoned@2026-12-01T19:30:00Z",
                      db=tmp_path / "live.sqlite3")
    assert result.returncode == 0, result.stderr
    assert "Deferred: quiet hours until 08:00 Wed" in result.stdout


def test_a_contact_in_the_store_and_the_store_is_never_written(tmp_path):
    db = tmp_path / "live.sqlite3"
    contacts = tmp_path / "c.csv"
    contacts.write_text("id,email,first_name,timezone\nc1,lucas@example.com,Lucas,Europe/Paris\n")
    assert journeys("contacts", "import", str(contacts), db=db).returncode == 0
    before = db.read_bytes()
    result = journeys("test-run", CART, "--contact", "c1", "--event", EVENT, "--then", "opened@+1h", db=db)
    assert result.returncode == 0, result.stderr
    assert "to lucas@example.com" in result.stdout and "Yes: opened" in result.stdout
    assert db.read_bytes() == before
    unknown = journeys("test-run", CART, "--contact", "nobody", "--event", EVENT, db=db)
    assert unknown.returncode == 2 and "no contact with id 'nobody'" in unknown.stderr
    assert db.read_bytes() == before


def test_bad_then_and_event_say_what_in_one_line_exit_2(tmp_path):
    contact = _emma(tmp_path)
    for args, says in (
            (["--event", EVENT, "--then", "opened@soon"], "--then 'opened@soon' is not a contact action"),
            (["--event", EVENT, "--then", "ordered@+1d:lots"], "is not an amount"),
            (["--event", "cart_abandoned"], "write it as TYPE@TIME"),
            (["--event", "cart_abandoned@tomorrow"], "'tomorrow' is not an ISO-8601 time"),
            (["--event", "order_placed@2026-03-02T10:00:00Z"], "starts on cart abandoned"),
    ):
        result = journeys("test-run", CART, "--contact", contact, *args, db=tmp_path / "live.sqlite3")
        assert result.returncode == 2, (args, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_bad_contact_files_exit_2(tmp_path):
    many = tmp_path / "many.csv"
    many.write_text("id,email\na,a@example.com\nb,b@example.com\n")
    not_json = tmp_path / "x.json"
    not_json.write_text("{nope")
    for path, says in ((many, "holds 2 contacts"), (not_json, "not JSON"), (tmp_path / "gone.json", "no such file")):
        result = journeys("test-run", CART, "--contact", str(path), "--event", EVENT, db=tmp_path / "live.sqlite3")
        assert result.returncode == 2 and says in result.stderr, result.stderr


def test_a_journey_with_errors_lists_them_and_exits_1(tmp_path):
    path = tmp_path / "broken.json"
    save(linear(email(subject="")), path)
    result = journeys("test-run", str(path), "--contact", _emma(tmp_path), "--event", EVENT,
                      db=tmp_path / "live.sqlite3")
    assert result.returncode == 1
    assert "Subject is empty" in result.stdout and "not tested" in result.stderr


def test_a_store_that_does_not_exist_is_not_created(tmp_path):
    gone = tmp_path / "nowhere" / "live.sqlite3"
    by_file = journeys("test-run", CART, "--contact", _emma(tmp_path), "--event", EVENT, db=gone)
    assert by_file.returncode == 0, by_file.stderr
    by_id = journeys("test-run", CART, "--contact", "c1", "--event", EVENT, db=gone)
    assert by_id.returncode == 2 and "no store at" in by_id.stderr
    assert not gone.exists() and not gone.parent.exists()


def test_an_older_store_is_not_upgraded(tmp_path):
    import sqlite3

    db = tmp_path / "old.sqlite3"
    assert journeys("list", db=db).returncode == 0
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    conn.close()        # the last connection to close folds the write-ahead log into the file
    before = db.read_bytes()
    result = journeys("test-run", CART, "--contact", "c1", "--event", EVENT, db=db)
    assert result.returncode == 2 and "never changes it" in result.stderr
    assert db.read_bytes() == before


def test_a_trigger_time_at_the_calendars_end_exits_2_in_words(tmp_path):
    for event in ("cart_abandoned@9999-12-31T00:00:00Z", "cart_abandoned@0001-01-01T00:00:00Z"):
        result = journeys("test-run", CART, "--contact", _emma(tmp_path), "--event", event,
                          db=tmp_path / "live.sqlite3")
        assert result.returncode == 2, result.stderr
        assert "between the years" in result.stderr and "Traceback" not in result.stderr
        assert "internal error" not in result.stderr


def test_an_opt_out_in_a_contact_file_is_never_loosened(tmp_path):
    """`"unsubscribed": "all"` (as the contact import reads it), an opt-out beside an opt-in, a channel
    spelled as people write it: the email is skipped, never sent."""
    for i, described in enumerate(({"unsubscribed": "all"}, {"unsubscribed": ["Email"]},
                                   {"consent": {"email": "subscribed"}, "unsubscribed": "email"},
                                   {"consent": {"E-Mail": "Unsubscribed"}}, {"unsubscribed": "sms;email"})):
        path = tmp_path / f"c{i}.json"
        path.write_text(json.dumps({"id": "c", "email": "c@example.com", **described}))
        result = journeys("test-run", CART, "--contact", str(path), "--event", EVENT, db=tmp_path / "live.sqlite3")
        assert result.returncode == 0, result.stderr
        assert "Skipped: opted out of email" in result.stdout, (described, result.stdout)
        assert "Sent the email" not in result.stdout


def test_a_contact_file_with_a_channel_that_is_not_one_exits_2(tmp_path):
    for i, described in enumerate(({"consent": {"fax": "subscribed"}}, {"consent": {"email": "yes"}},
                                   {"email": "not-an-email"})):
        path = tmp_path / f"c{i}.json"
        path.write_text(json.dumps({"id": "c", **described}))
        result = journeys("test-run", CART, "--contact", str(path), "--event", EVENT, db=tmp_path / "live.sqlite3")
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "{" not in result.stderr and ("not a channel" in result.stderr or "not a state" in result.stderr
                                             or "not an email address" in result.stderr), result.stderr


def test_a_huge_then_delay_exits_2_in_words(tmp_path):
    result = journeys("test-run", CART, "--contact", _emma(tmp_path), "--event", EVENT,
                      "--then", "opened@+9999999999999w", db=tmp_path / "live.sqlite3")
    assert result.returncode == 2 and "too far ahead" in result.stderr and "internal error" not in result.stderr


def test_a_journey_without_a_trigger_lists_the_problem_and_exits_1(tmp_path):
    journey = linear(email())
    journey.remove_node(journey.trigger().id)
    path = tmp_path / "no-trigger.json"
    save(journey, path)
    result = journeys("test-run", str(path), "--contact", _emma(tmp_path), "--event", EVENT,
                      db=tmp_path / "live.sqlite3")
    assert result.returncode == 1, result.stderr
    assert "no trigger" in result.stdout + result.stderr and "not tested" in result.stderr


def test_a_named_store_that_is_not_there_is_said_not_silently_replaced_by_utc(tmp_path):
    for missing in (tmp_path / "typo.sqlite3", tmp_path):
        result = journeys("test-run", CART, "--contact", _emma(tmp_path), "--event", EVENT, db=missing)
        assert result.returncode == 0, result.stderr
        assert "no store at" in result.stderr and "UTC" in result.stderr
        assert not (tmp_path / "typo.sqlite3").exists()
