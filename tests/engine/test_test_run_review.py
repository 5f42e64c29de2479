"""Review of the test run (issue 11, section 2): faults found by trying to break it, each with its class."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.engine.story import until_words, when
from app.engine.test_run import TestContact, TestRunError, TestScript, parse_then, run_test
from app.examples import load_example

CART = load_example("cart_abandonment")
WELCOME = load_example("welcome_series")
MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def _run(journey, event, *then, contact, at=MORNING):
    return run_test(journey, TestScript(contact, event, at, then=tuple(parse_then(t) for t in then)))


def _sent(result) -> list[str]:
    return [e.words for e in result.entries if e.action == "sent"]


# -- consent: an opt-out from "all" (or spelled as people write it) is never loosened --------------------

@pytest.mark.parametrize("consent", [{"all": "unsubscribed"}, {"ALL": "unsubscribed"},
                                     {"E-Mail": "unsubscribed"}, {" Email ": "Unsubscribed"}])
def test_an_opt_out_however_written_stops_every_email(consent):
    contact = TestContact(id="x", email="x@example.com", phone="+447700900123", consent=consent)
    result = _run(CART, "cart_abandoned", contact=contact)
    assert not any("email" in w for w in _sent(result))
    assert "Skipped: opted out of email" in [e.words for e in result.entries]


def test_an_opt_out_from_all_also_stops_sms():
    contact = TestContact(id="x", email="x@example.com", phone="+447700900123",
                          consent={"all": "unsubscribed", "sms": "subscribed"})
    result = _run(CART, "cart_abandoned", contact=contact)
    assert _sent(result) == []
    assert "Skipped: opted out of SMS" in [e.words for e in result.entries]


def test_a_consent_for_no_known_channel_is_refused_in_words():
    with pytest.raises(TestRunError) as caught:
        _run(CART, "cart_abandoned", contact=TestContact(id="x", email="x@example.com",
                                                          consent={"fax": "subscribed"}))
    assert "'fax' is not a channel" in str(caught.value) and "{" not in str(caught.value)
    with pytest.raises(TestRunError) as caught:
        _run(CART, "cart_abandoned", contact=TestContact(id="x", consent={"email": "yes"}))
    assert "email" in str(caught.value) and "{" not in str(caught.value)


def test_a_described_email_that_is_not_an_address_is_refused():
    with pytest.raises(TestRunError, match="'not-an-email' is not an email address"):
        _run(CART, "cart_abandoned", contact=TestContact(id="x", email="not-an-email"))


# -- bad input: a time out of range is an error in words, not an overflow ------------------------------

@pytest.mark.parametrize("at", [datetime(9999, 12, 31, tzinfo=timezone.utc), datetime(1, 1, 1, tzinfo=timezone.utc),
                                datetime(9999, 1, 1, tzinfo=timezone.utc)])
def test_a_trigger_time_out_of_range_is_refused_in_words(at):
    with pytest.raises(TestRunError, match="between the years"):
        _run(CART, "cart_abandoned", contact=TestContact(id="x", email="x@example.com"), at=at)


# -- the story's words ---------------------------------------------------------------------------------

EMMA = TestContact(id="t1", first_name="Emma", email="emma@example.com", phone="+447700900123",
                   timezone="Europe/London", consent={"email": "subscribed", "sms": "subscribed",
                                                      "whatsapp": "subscribed"})


def test_a_second_open_of_a_single_email_says_no_other_email_was_sent():
    result = _run(CART, "cart_abandoned", "opened@+2h", "opened@+3h", contact=EMMA)
    said = [e.words for e in result.entries if e.action == "contact"]
    assert any("but no other email was sent" in w for w in said), said
    assert not any("but no email was sent" in w for w in said)


def test_replies_and_deliveries_are_said_in_good_english():
    result = _run(CART, "cart_abandoned", "replied@+1h:whatsapp", "replied@+1h:sms", "delivered@+1m",
                  contact=EMMA)
    said = [e.words for e in result.entries if e.action == "contact"]
    assert any(w.startswith("Would have replied to the WhatsApp") for w in said), said
    assert any(w.startswith("Replied to the SMS") for w in said), said
    assert any(w.startswith("Received the email") for w in said), said
    assert not any("replied the" in w.lower() or "delivered the" in w.lower() for w in said)


# -- times across a DST change: an hour said twice names its zone -------------------------------------

def test_the_repeated_hour_at_the_end_of_summer_time_names_its_zone():
    first = datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)     # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc)    # 01:30 EST, an hour later
    assert when(first, "America/New_York") == "Sun 1 Nov 01:30 EDT"
    assert when(second, "America/New_York") == "Sun 1 Nov 01:30 EST"
    assert until_words(second, "America/New_York", first) == "01:30 EST Sun"
    assert when(datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc), "Europe/London") == "Sun 25 Oct 01:30 BST"
    assert when(datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc), "America/New_York") == "Sun 1 Nov 03:00"


def test_a_one_hour_wait_in_the_repeated_hour_does_not_read_as_no_wait():
    ny = TestContact(id="ny", email="ny@example.com", timezone="America/New_York", consent={"email": "subscribed"})
    result = _run(CART, "cart_abandoned", contact=ny, at=datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc))
    waited = next(e for e in result.entries if e.action == "waited")
    assert waited.words == "Waiting 1 hour, until 01:30 EST Sun"
    assert waited.local == "Sun 1 Nov 01:30 EDT"


@pytest.mark.parametrize("text", ["opened@+9999999999999w", "ordered@+99999999999999999999999d:40",
                                  "clicked@+" + "9" * 400 + "m", "unsubscribed@+9999999999999999h"])
def test_a_huge_delay_is_refused_in_words_not_an_overflow(text):
    with pytest.raises(TestRunError, match="too far ahead"):
        parse_then(text)
