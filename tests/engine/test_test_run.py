"""The test run: one contact through a draft on a virtual clock, told as a story (issue 11, section 2)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from app.engine.importers import import_contacts, parse_contacts
from app.engine.test_run import (TestContact, TestRun, TestRunError, TestScript, Then, parse_then, run_test,
                                 story_text)
from app.engine.test_run_engine import DraftNotReady
from app.examples import load_example
from app.store.app_settings import set_business_timezone
from app.store.db import open_database

from ..journey.helpers import email, linear

CART = load_example("cart_abandonment")
EMAIL_STEP = "e0572049-b837-5d8c-9795-f88ac65305ec"
BRANCH = "b952b56d-8e62-5e00-8431-057997566473"
TAG_STEP = "f696f051-fa6c-5a61-9927-7fe7c31dafe4"
SMS_STEP = "2d9d2be2-c8e1-5287-9dfc-1db88ecc90ac"
YES_EDGE = "de0202cc-9485-5d6c-8c4a-3f9f8500c095"
NO_EDGE = "dcafb9b0-7696-5787-a3c2-4ce5f8a7fb62"
MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)      # a Monday, 10:00 in London


def emma(**changes) -> TestContact:
    fields = dict(id="t1", first_name="Emma", email="emma@example.com", phone="+447700900123",
                  timezone="Europe/London", consent={"email": "subscribed", "sms": "subscribed"})
    fields.update(changes)
    return TestContact(**fields)


def run(*then: str, contact: TestContact | None = None, at: datetime = MORNING, journey=CART, **kw) -> TestRun:
    script = TestScript(contact or emma(), "cart_abandoned", at, then=tuple(parse_then(t) for t in then), **kw)
    return run_test(journey, script)


def lines(result: TestRun, action: str) -> list[str]:
    return [e.words for e in result.entries if e.action == action]


def test_contact_opens_the_email_and_takes_the_yes_branch():
    result = run("opened@+2h")
    assert lines(result, "branched") == [
        "Yes: opened within 24 hours (opened Mon 2 Mar 13:00)"]
    assert TAG_STEP in result.reached and SMS_STEP not in result.reached
    assert YES_EDGE in result.taken and NO_EDGE not in result.taken
    assert result.reached[:3] == [n for n in CART.nodes][:3]
    assert result.end == "completed"
    sent = [e for e in result.entries if e.action == "sent"]
    assert len(sent) == 1 and sent[0].node_id == EMAIL_STEP
    message = sent[0].message
    assert message is not None and message.subject == "Emma, your cart misses you"
    assert "Linen shirt" in (message.html or "") and message.recipient == "emma@example.com"
    opened = next(e for e in result.entries if e.action == "contact" and "Opened" in e.words)
    assert opened.at == sent[0].at + timedelta(hours=2) and opened.node_id is None


def test_contact_who_orders_on_day_2_exits_with_the_reason():
    result = run("ordered@+1d:40.00")
    assert result.end == "exited: exit condition met (order placed)"
    exited = [e for e in result.entries if e.action == "exited"]
    assert len(exited) == 1 and exited[0].reason == "exit_condition"
    assert exited[0].words == "Exited: exit condition met (order placed)"
    assert exited[0].at == MORNING + timedelta(days=1) and exited[0].node_id == BRANCH
    assert [e.words for e in result.entries if e.action == "converted"] == ["Converted: 40.00 credited to this step"]
    assert SMS_STEP not in result.reached and NO_EDGE not in result.taken


def test_doing_nothing_goes_down_the_no_branch_and_says_why():
    result = run("nothing")
    assert lines(result, "branched") == ["No: not opened within 24 hours"]
    assert NO_EDGE in result.taken and SMS_STEP in result.reached
    assert [e.message.channel for e in result.entries if e.message] == ["email", "sms"]
    assert result.end == "completed"


def test_quiet_hours_deferral_says_until_when_in_the_contacts_time():
    evening = datetime(2026, 12, 1, 19, 30, tzinfo=timezone.utc)        # Tue 20:30 in Berlin
    result = run("opened@+2h", contact=emma(timezone="Europe/Berlin"), at=evening)
    deferred = [e for e in result.entries if e.action == "deferred"]
    assert [e.words for e in deferred] == ["Deferred: quiet hours until 08:00 Wed"]
    assert deferred[0].until == datetime(2026, 12, 2, 7, 0, tzinfo=timezone.utc)
    assert deferred[0].local == "Tue 1 Dec 21:30" and deferred[0].business == "Tue 1 Dec 20:30"
    sent = next(e for e in result.entries if e.action == "sent")
    assert sent.local == "Wed 2 Dec 08:00"


def test_quiet_hours_in_new_york_for_a_business_in_berlin(tmp_path):
    live = open_database(str(tmp_path / "live.sqlite3"))
    set_business_timezone(live, "Europe/Berlin")
    late = datetime(2026, 3, 3, 2, 0, tzinfo=timezone.utc)        # Mon 21:00 in New York, Tue 03:00 in Berlin
    script = TestScript(emma(timezone="America/New_York"), "cart_abandoned", late)
    result = run_test(CART, script, live_db=live)
    live.dispose()
    assert (result.contact_zone, result.business_zone) == ("America/New_York", "Europe/Berlin")
    deferred = next(e for e in result.entries if e.action == "deferred")
    assert deferred.words == "Deferred: quiet hours until 08:00 Tue"
    assert deferred.local == "Mon 2 Mar 22:00" and deferred.business == "Tue 3 Mar 04:00"


def test_sms_skips_say_the_channel_and_why():
    no_consent = run("nothing", contact=emma(consent={"email": "subscribed"}))
    assert "Skipped: no consent given for SMS" in lines(no_consent, "skipped")
    opted_out = run("nothing", contact=emma(consent={"email": "subscribed", "sms": "unsubscribed"}))
    assert "Skipped: opted out of SMS" in lines(opted_out, "skipped")
    no_phone = run("nothing", contact=emma(phone=None))
    assert "Skipped: no phone number" in lines(no_phone, "skipped")


def test_a_contact_without_first_name_gets_the_fallback_words():
    result = run("opened@+1h", contact=emma(first_name=""))
    message = next(e.message for e in result.entries if e.message)
    assert message.subject == "Hi, your cart misses you" and "Hi there" in (message.text or "")


def test_an_answer_to_a_message_never_sent_is_said_not_dropped():
    result = run("opened@+2h", contact=emma(email=None))
    assert "Skipped: no email address" in lines(result, "skipped")
    said = lines(result, "contact")
    assert any("Would have opened the email 2 hours after it was sent, but no email was sent" in w for w in said)
    assert NO_EDGE in result.taken and lines(result, "branched") == ["No: no message sent"]


def test_an_open_after_the_window_is_a_no():
    result = run("opened@+25h")
    assert lines(result, "branched") == ["No: not opened within 24 hours"]


def test_each_open_answers_the_next_email():
    welcome = load_example("welcome_series")
    contact = emma()
    result = run_test(welcome, TestScript(contact, "subscribed", MORNING, then=(
        parse_then("opened@+1h"), parse_then("opened@+1h"))))
    sent = [e for e in result.entries if e.action == "sent"]
    opens = [e for e in result.entries if e.action == "contact" and e.words.startswith("Opened")]
    assert len(sent) >= 2 and len(opens) == 2
    assert [o.at for o in opens] == [sent[0].at + timedelta(hours=1), sent[1].at + timedelta(hours=1)]


def test_open_then_click_answer_the_same_email():
    result = run("opened@+2h", "clicked@+3h")
    sent = next(e for e in result.entries if e.action == "sent")
    clicked = next(e for e in result.entries if e.words.startswith("Clicked"))
    assert clicked.at == sent.at + timedelta(hours=3)


def test_a_second_cart_restarts_the_journey_and_says_so():
    result = run("cart_abandoned@+30m")
    exited = next(e for e in result.entries if e.action == "exited")
    assert exited.words == "Exited: re-triggered (a new cart abandoned started it again)"
    assert result.end == "completed" and len(lines(result, "entered")) == 2


def test_unsubscribing_from_everything_exits():
    result = run("unsubscribed@+2h")
    assert result.end == "exited: opted out of every channel"
    assert "Unsubscribed from every channel, 2 hours after the trigger" in lines(result, "contact")


def test_a_wait_longer_than_the_test_horizon_is_still_waiting():
    journey = linear(("wait", {"mode": "duration", "delay": {"amount": 400, "unit": "days"}}), email())
    result = run_test(journey, TestScript(emma(), "cart_abandoned", MORNING))
    assert result.end.startswith("still waiting at “Wait") and result.end.endswith("after 365 days")


def test_the_draft_with_errors_is_refused_naming_them():
    journey = linear(email(subject=""))
    with pytest.raises(DraftNotReady) as caught:
        run_test(journey, TestScript(emma(), "cart_abandoned", MORNING))
    assert "Subject is empty" in str(caught.value) and caught.value.problems


def test_an_event_the_journey_does_not_start_on_is_refused():
    with pytest.raises(TestRunError, match="starts on cart abandoned .*test it with cart_abandoned"):
        run_test(CART, TestScript(emma(), "order_placed", MORNING))


def test_a_naive_time_is_refused():
    with pytest.raises(TestRunError, match="time zone"):
        run_test(CART, TestScript(emma(), "cart_abandoned", datetime(2026, 3, 2, 10, 0)))


def test_time_based_and_spend_triggers_enter_at_the_given_time():
    for stem in ("win_back", "vip_loyalty"):
        journey = load_example(stem)
        result = run_test(journey, TestScript(emma(), "trigger", MORNING))
        assert result.entries and lines(result, "entered"), stem
        assert result.reached[0] == journey.trigger().id
        assert result.entries[0].words == f"{journey.trigger().title} (the trigger)"


def test_every_example_runs(tmp_path):
    for stem, event in (("cart_abandonment", "cart_abandoned"), ("post_purchase", "order_placed"),
                        ("welcome_series", "subscribed"), ("win_back", "no_order"), ("vip_loyalty", "spend")):
        result = run_test(load_example(stem), TestScript(emma(), event, MORNING))
        assert result.end and not result.end.startswith("did not enter"), (stem, result.end)
        text = story_text(result)
        assert text.splitlines()[-1] == f"End: {result.end}"


LIVE_CSV = ("id,email,phone,first_name,timezone,subscribed\n"
            "c1,lucas@example.com,+33612345678,Lucas,Europe/Paris,email;sms\n")


def test_a_live_contact_is_copied_and_the_live_store_never_written(tmp_path):
    path = tmp_path / "live.sqlite3"
    live = open_database(str(path))
    rows, _ = parse_contacts(LIVE_CSV)
    import_contacts(live, rows, MORNING - timedelta(days=30))
    from app.engine.clock import VirtualClock
    from app.engine.engine import JourneyEngine
    from app.engine.ingest import EventIn

    JourneyEngine(live, VirtualClock(MORNING - timedelta(days=2))).ingest([EventIn(
        "c1", "cart_abandoned", MORNING - timedelta(days=2),
        {"items": [{"name": "Oolong tea", "quantity": 1, "price": 9.9}], "cart_url": "https://x.example/c"})])
    live.dispose()
    before = Path(path).read_bytes()
    live = open_database(str(path), write=False)
    result = run_test(CART, TestScript(TestContact(), "cart_abandoned", MORNING, then=(parse_then("opened@+1h"),),
                                       live_contact_id="c1"), live_db=live)
    live.dispose()
    assert Path(path).read_bytes() == before
    message = next(e.message for e in result.entries if e.message)
    assert message.recipient == "lucas@example.com" and message.subject == "Lucas, your cart misses you"
    assert "Oolong tea" in (message.text or "")        # the contact's latest cart, not the sample
    assert result.contact_zone == "Europe/Paris"
    with pytest.raises(TestRunError, match="no contact with id 'nobody'"):
        run_test(CART, TestScript(TestContact(), "cart_abandoned", MORNING, live_contact_id="nobody"),
                 live_db=open_database(str(path), write=False))


@pytest.mark.parametrize("text, expected", [
    ("opened@+2h", Then("opened", timedelta(hours=2))),
    ("clicked@+30m", Then("clicked", timedelta(minutes=30))),
    ("Opened @ +1d", Then("opened", timedelta(days=1))),
    ("replied@+2h:whatsapp", Then("replied", timedelta(hours=2), channel="whatsapp")),
    ("delivered@+1m:SMS", Then("delivered", timedelta(minutes=1), channel="sms")),
    ("ordered@+3d:40.00", Then("ordered", timedelta(days=3), amount=Decimal("40.00"))),
    ("ordered@3d", Then("ordered", timedelta(days=3))),
    ("ordered@+1d:40,50", Then("ordered", timedelta(days=1), amount=Decimal("40.50"))),
    ("ordered@+1d:1,250.00", Then("ordered", timedelta(days=1), amount=Decimal("1250.00"))),
    ("opened@+1.5h", Then("opened", timedelta(minutes=90))),
    ("unsubscribed@+1d", Then("unsubscribed", timedelta(days=1))),
    ("unsubscribed@+1d:sms", Then("unsubscribed", timedelta(days=1), channel="sms")),
    ("subscribed@+1w", Then("subscribed", timedelta(weeks=1))),
    ("nothing", Then("nothing")),
])
def test_then_forms(text, expected):
    assert parse_then(text) == expected


@pytest.mark.parametrize("text, says", [
    ("", "is not a contact action"), ("opened", "says what but not when"), ("opened@+2x", "is not a contact action"),
    ("opened@+2h:fax", "is not a channel"), ("opened@+1h:sms", "SMS reports neither opens nor clicks"),
    ("ordered@+1d:forty", "is not an amount"), ("ordered@+1d:4,0000", "is not an amount"), ("ordered@+1d:-5", "is not an order amount"),
    ("nothing@+1h", "takes no time"), ("opened@+9999d", "too far ahead"), ("Dance!@+1h", "is not a contact action"),
])
def test_bad_then_says_what_and_the_accepted_forms(text, says):
    with pytest.raises(TestRunError, match=says) as caught:
        parse_then(text)
    assert repr(text) in str(caught.value)


def test_a_live_store_on_any_database_is_only_read(any_url):
    from sqlalchemy import func, select

    from app.store.tables import contacts, events, messages, run_log, runs

    live = open_database(any_url)
    rows, _ = parse_contacts(LIVE_CSV)
    import_contacts(live, rows, MORNING - timedelta(days=30))
    set_business_timezone(live, "America/Chicago")

    def counts():
        with live.connect() as conn:
            return [conn.execute(select(func.count()).select_from(t)).scalar() for t in
                    (contacts, events, messages, run_log, runs)]

    before = counts()
    result = run_test(CART, TestScript(TestContact(), "cart_abandoned", MORNING, then=(parse_then("nothing"),),
                                       live_contact_id="c1"), live_db=live)
    assert counts() == before
    assert result.business_zone == "America/Chicago" and result.contact_zone == "Europe/Paris"
    assert [e.message.recipient for e in result.entries if e.message] == ["lucas@example.com", "+33612345678"]
    live.dispose()


def test_a_contact_the_trigger_leaves_out_did_not_enter():
    journey = load_example("cart_abandonment")
    journey.trigger().config["audience"]["exclude_tags"] = ["staff"]
    result = run_test(journey, TestScript(emma(tags=("staff",)), "cart_abandoned", MORNING))
    assert result.end.startswith("did not enter") and result.reached == [] and result.taken == []
    assert [e.action for e in result.entries] == ["contact"]
    assert story_text(result).splitlines()[-1].startswith("End: did not enter")


def test_a_described_contact_with_a_bad_zone_or_consent_is_refused():
    with pytest.raises(TestRunError, match="'Mars/Base' is not an IANA time zone"):
        run(contact=emma(timezone="Mars/Base"))
    with pytest.raises(TestRunError, match="subscribed, unsubscribed or unknown"):
        run(contact=emma(consent={"email": "yes"}))


def test_the_text_story_names_each_step_and_both_zones():
    text = story_text(run("opened@+2h", contact=emma(timezone="Asia/Tokyo")))
    assert text.splitlines()[0] == "Times: the contact's (Asia/Tokyo), then the business's (UTC)"
    assert "Mon 2 Mar 20:00  (Mon 2 Mar 11:00)  Cart reminder email: Sent the email" in text
    assert "contact: Opened the email" in text


def test_test_runs_on_several_threads_at_once_each_get_their_own_database():
    import threading

    ends: list[str] = []
    failures: list[BaseException] = []

    def one(then: str) -> None:
        try:
            ends.append(run(then).end)
        except BaseException as exc:      # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(t,)) for t in ("opened@+2h", "ordered@+1d:40", "nothing")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert sorted(ends) == ["completed", "completed", "exited: exit condition met (order placed)"]
