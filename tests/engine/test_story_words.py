"""Run-log rows in words (app/engine/story.py): what the test run, the CLI and the live timeline say."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app.engine.stats import REASON_WORDS
from app.engine.story import step_words, until_words, when
from app.journey.model import Journey

AT = datetime(2026, 12, 1, 20, 30, tzinfo=timezone.utc)      # a Tuesday


def _node(kind: str, config: dict):
    return Journey(name="x").add_node(kind, config)


def test_quiet_hours_until_in_the_contacts_zone():
    detail = {"until": "2026-12-02T07:00:00Z", "zone": "Europe/Berlin"}
    assert step_words("deferred", reason="quiet_hours", detail=detail, at=AT) == "Deferred: quiet hours until 08:00 Wed"
    # The zone logged with the row wins over the one given; without either, UTC.
    assert step_words("deferred", reason="quiet_hours", detail={"until": "2026-12-02T07:00:00Z"}, zone="Asia/Tokyo",
                      at=AT) == "Deferred: quiet hours until 16:00 Wed"
    assert step_words("deferred", reason="quiet_hours", detail={"until": "2026-12-02T07:00:00Z"}, at=AT).endswith(
        "07:00 Wed")


def test_a_far_until_carries_its_date():
    assert until_words(datetime(2026, 12, 20, 9, 0, tzinfo=timezone.utc), "UTC", AT) == "09:00 Sun 20 Dec"
    assert when(AT, "America/New_York") == "Tue 1 Dec 15:30"


def test_frequency_cap_and_scheduled_deferrals():
    detail = {"until": "2026-12-02T07:00:00Z", "zone": "UTC", "messages": 2, "hours": 24}
    assert step_words("deferred", reason="frequency_cap", detail=detail, at=AT) == \
        "Deferred: frequency cap (2 per 24 h) until 07:00 Wed"
    assert step_words("deferred", reason="scheduled", detail=detail, at=AT) == "Deferred: scheduled until 07:00 Wed"


@pytest.mark.parametrize("reason, detail, words", [
    ("unsubscribed", {"channel": "sms"}, "Skipped: opted out of SMS"),
    ("no_consent", {"channel": "whatsapp"}, "Skipped: no consent given for WhatsApp"),
    ("no_address", {"channel": "email"}, "Skipped: no email address"),
    ("no_address", {"channel": "sms"}, "Skipped: no phone number"),
    ("missing_variable", {"channel": "email", "missing": ["contact.first_name"]},
     "Skipped: a value was missing (contact.first_name)"),
    ("not_matching", {}, "Skipped: not among the recipients"),
    ("outside_whatsapp_window", {"channel": "whatsapp"}, "Skipped: outside the 24-hour WhatsApp window"),
])
def test_skips_say_why_and_on_which_channel(reason, detail, words):
    assert step_words("skipped", reason=reason, detail=detail) == words


def test_skip_of_an_old_row_without_detail_reads_the_channel_from_the_step():
    node = _node("send_template", {"channel": "sms"})
    assert step_words("skipped", reason="unsubscribed", node=node) == "Skipped: opted out of SMS"


def test_branches_say_which_outcome_and_why():
    node = _node("message_status", {"status": "opened", "window": {"amount": 24, "unit": "hours"}})
    assert step_words("branched", outcome="no", node=node) == "No: not opened within 24 hours"
    assert step_words("branched", outcome="no", reason="no_message", node=node) == "No: no message sent"
    yes = step_words("branched", outcome="yes", node=node, detail={"seen": "2026-12-01T21:00:00Z", "zone": "UTC"})
    assert yes == "Yes: opened within 24 hours (opened Tue 1 Dec 21:00)"
    clicked = {"status": "clicked", "window": {"amount": 1, "unit": "days"}}
    assert step_words("branched", outcome="no", detail=clicked) == "No: not clicked within 1 day"


@pytest.mark.parametrize("reason, detail, words", [
    ("exit_condition", {"event": "order_placed"}, "Exited: exit condition met (order placed)"),
    ("goal", {"event": "order_placed"}, "Exited: goal reached (order placed)"),
    ("unsubscribed", {"event": "unsubscribed"}, "Exited: opted out of every channel"),
    ("re_triggered", {"event": "cart_abandoned"}, "Exited: re-triggered (a new cart abandoned started it again)"),
    ("journey_stopped", None, "Exited: journey stopped"),
    ("error", None, "Exited: an error"),
])
def test_exits_say_their_reason(reason, detail, words):
    assert step_words("exited", reason=reason, detail=detail) == words


def test_waits_and_other_steps():
    wait = _node("wait", {"mode": "duration", "delay": {"amount": 1, "unit": "hours"}})
    assert step_words("waited", node=wait, detail={"until": "2026-12-01T21:30:00Z", "zone": "UTC"}, at=AT) == \
        "Waiting 1 hour, until 21:30 Tue"
    assert step_words("tagged", detail={"add": ["vip"], "remove": ["new"]}) == "Tagged: +vip, −new"
    assert step_words("sent", node=_node("send_template", {"channel": "whatsapp"})) == "Sent the WhatsApp"
    assert step_words("converted", revenue=40) == "Converted: 40.00 credited to this step"
    assert step_words("failed", reason="template_error", detail={"field": "subject", "error": "unexpected '}'"}) == \
        "Failed: template error in subject: unexpected '}'"
    assert step_words("completed") == "Completed the journey"
    assert step_words("something_new", reason="odd_reason") == "Something new: odd reason"


def test_every_reason_the_engine_logs_has_words_in_the_story():
    source = "\n".join(p.read_text(encoding="utf-8") for p in Path("app/engine").glob("*.py"))
    reasons = set(re.findall(r'_skip\(step, "([a-z_]+)"', source))
    reasons |= set(re.findall(r'_defer\(step, \w+, "([a-z_]+)"', source))
    reasons |= set(re.findall(r'finish\(\w+, "\w+", \w+, "([a-z_]+)"', source))
    reasons |= set(re.findall(r'reason="([a-z_]+)"', source))
    assert {"quiet_hours", "frequency_cap", "scheduled", "no_address", "exit_condition"} <= reasons
    for reason in sorted(reasons):
        for action in ("skipped", "deferred", "exited", "failed", "branched"):
            words = step_words(action, reason=reason, outcome="no")
            assert "_" not in words, (action, reason, words)
        assert reason in REASON_WORDS, reason


def test_the_engine_logs_why_for_live_runs_too(tmp_path):
    """The reasons the story tells come from the run log every run writes (the simulator: the real engine)."""
    from sqlalchemy import select

    from app.engine.importers import parse_contacts
    from app.engine.ingest import EventIn
    from app.engine.simulator import simulate
    from app.examples import load_example
    from app.store.db import open_database
    from app.store.tables import run_log

    rows, _ = parse_contacts("id,email,phone,timezone,subscribed,unsubscribed\n"
                             "c1,a@example.com,+15550000001,Europe/Berlin,email,sms\n")
    evening = datetime(2026, 12, 1, 19, 30, tzinfo=timezone.utc)
    url = str(tmp_path / "sim.sqlite3")
    simulate(load_example("cart_abandonment"), rows, [EventIn("c1", "cart_abandoned", evening, {"cart_url": "u"})],
             db_url=url)
    db = open_database(url)
    with db.connect() as conn:
        logged = {r.action: r for r in conn.execute(select(run_log))}
    db.dispose()
    deferred, branched, skipped = logged["deferred"], logged["branched"], logged["skipped"]
    assert deferred.detail["zone"] == "Europe/Berlin" and deferred.reason == "quiet_hours"
    assert step_words("deferred", reason=deferred.reason, detail=deferred.detail, at=deferred.at) == \
        "Deferred: quiet hours until 08:00 Wed"
    assert branched.outcome == "no" and branched.detail["status"] == "opened"
    assert branched.detail["window"] == {"amount": 24, "unit": "hours"} and "until" in branched.detail
    assert step_words("branched", outcome="no", detail=branched.detail) == "No: not opened within 24 hours"
    assert step_words("skipped", reason=skipped.reason, detail=skipped.detail) == "Skipped: opted out of SMS"


def test_a_row_as_read_is_said_the_same():
    from app.engine.story import row_words

    row = {"action": "deferred", "outcome": None, "reason": "quiet_hours", "at": AT, "revenue": None,
           "detail": {"until": "2026-12-02T07:00:00Z", "zone": "Europe/Berlin"}}
    assert row_words(row) == "Deferred: quiet hours until 08:00 Wed"
