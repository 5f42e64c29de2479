"""A contact's timeline in the live data (issue 11, section 3), after the engine ran the sample data."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from app.engine.importers import parse_contacts, parse_events, read_text
from app.engine.ingest import EventIn
from app.engine.simulator import simulate
from app.engine.timeline import CONSENT, EVENT, STEP, contact_timeline
from app.journey.fileformat import load
from app.paths import RESOURCES
from app.store.app_settings import set_business_timezone
from app.store.db import open_database
from app.store.tables import messages

from .helpers import t

CART = RESOURCES / "examples" / "cart_abandonment.json"


def _sample(url: str, until: str | None = None, zone: str | None = None) -> str:
    contacts, _ = parse_contacts(read_text(RESOURCES / "sample_contacts.csv"))
    events, _ = parse_events(read_text(RESOURCES / "sample_events.jsonl"))
    return simulate(load(CART), contacts, events, db_url=url, keep_log=False, timezone_name=zone,
                    until=t(until) if until else None).journey_id


@pytest.fixture
def sample_db(any_url):
    _sample(any_url)
    db = open_database(any_url)
    yield db
    db.dispose()


def _all(db, contact_id, limit=1000, oldest_first=True):
    page = contact_timeline(db, contact_id, limit=limit, oldest_first=oldest_first)
    assert page is not None and page.next is None
    return page


def test_timeline_after_the_sample_data_tells_the_contacts_story(sample_db):
    """c009 (Asia/Kolkata) abandons a cart twice: the first run is re-triggered, the email goes
    unopened, the branch says why it went "no", the SMS goes out, the journey completes."""
    page = _all(sample_db, "c009")
    assert (page.contact_zone, page.business_zone) == ("Asia/Kolkata", "UTC")
    words = [e.words for e in page.entries]
    assert words[0].startswith("Consent, SMS: never asked → subscribed (Import of")
    assert "Event: cart abandoned (total 24.00 USD, 1 item)" in words
    assert any(w.startswith("Exited: re-triggered") for w in words)
    assert "No: not opened within 24 hours" in words
    assert words[-1] == "Completed the journey"
    email = next(e for e in page.entries if e.action == "sent" and e.message and e.message.channel == "email")
    assert email.journey == "Cart abandonment" and email.step == "Cart reminder email"
    assert email.message.subject == "Arjun, your cart misses you"
    assert [h.status for h in email.message.history] == ["queued", "sent"]
    # Times in the contact's zone (UTC+5:30) and the business's (UTC).
    assert (email.local, email.business) == ("Tue 3 Mar 13:00", "Tue 3 Mar 07:30")
    waiting = next(e for e in page.entries if e.action == "waited" and e.step == "Opened within 24 h?")
    assert waiting.until == t("2026-03-04T07:30:00Z")
    assert waiting.words == "Waiting to see whether the message is opened within 24 hours, until 13:00 Wed"


def test_time_order_with_the_event_before_what_it_caused(sample_db):
    page = _all(sample_db, "c009")
    ats = [e.at for e in page.entries]
    assert ats == sorted(ats)
    first_cart = next(i for i, e in enumerate(page.entries) if e.source == EVENT)
    assert page.entries[first_cart + 1].action == "entered"
    assert page.entries[first_cart + 1].at == page.entries[first_cart].at


def test_skips_deferrals_conversions_and_exits_with_their_reasons(sample_db):
    assert "Skipped: opted out of email" in [e.words for e in _all(sample_db, "c003").entries]
    deferred = next(e for e in _all(sample_db, "c007").entries if e.action == "deferred")
    assert deferred.reason == "quiet_hours"
    # Quiet hours end at 08:00 in the contact's own zone (Asia/Tokyo), said in that zone.
    assert deferred.until is not None and deferred.until.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M") == "08:00"
    assert deferred.words == f"Deferred: quiet hours until 08:00 {deferred.until.astimezone(ZoneInfo('Asia/Tokyo')):%a}"
    c002 = _all(sample_db, "c002").entries
    converted = next(e for e in c002 if e.action == "converted")
    assert converted.revenue == pytest.approx(38.9) and converted.step == "Cart reminder email"
    assert converted.words == "Converted: 38.90 credited to this step"
    c004 = [e.words for e in _all(sample_db, "c004").entries]
    assert "Exited: exit condition met (order placed)" in c004
    assert any(w.startswith("Event: order placed") for w in c004)


def test_a_failed_message_shows_the_providers_reason_and_code(sample_db):
    page = _all(sample_db, "c009")
    sms = next(e for e in page.entries if e.message and e.message.channel == "sms")
    failed_at = sms.at + timedelta(minutes=3)
    with sample_db.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == sms.message.id).values(
            status="failed", failed_at=failed_at, error="Attempt to send to unsubscribed recipient",
            error_code="21610"))
    again = next(e for e in _all(sample_db, "c009").entries if e.message and e.message.channel == "sms").message
    assert again.status == "failed" and again.error_code == "21610"
    assert again.error == "Attempt to send to unsubscribed recipient"
    assert [h.status for h in again.history] == ["queued", "sent", "failed"]
    assert again.history[-1].at == failed_at


def test_pages_join_up_without_gaps_or_repeats_in_both_directions(sample_db):
    full = _all(sample_db, "c009", oldest_first=False).entries
    assert len(full) > 10
    for size in (1, 3, 4, 7):
        for oldest in (False, True):
            seen, after = [], None
            while True:
                page = contact_timeline(sample_db, "c009", limit=size, after=after, oldest_first=oldest)
                assert len(page.entries) <= size
                seen += page.entries
                if page.next is None:
                    break
                after = page.next
            assert [e.cursor for e in seen] == [e.cursor for e in (full[::-1] if oldest else full)]
    # Rows at one instant from every source are still ordered: event, consent, steps.
    assert {e.source for e in full} == {EVENT, CONSENT, STEP}


def test_times_in_the_business_zone_for_a_contact_without_one(any_url):
    db = open_database(any_url)
    try:
        set_business_timezone(db, "America/New_York")
        contacts, _ = parse_contacts("id,email,subscribed\nz1,z1@example.com,email\n")
        simulate(load(CART), contacts, [EventIn("z1", "cart_abandoned", t("2026-03-02T15:00:00Z"),
                                                {"total": 10, "items": []})], db_url=any_url, keep_log=False)
        page = _all(db, "z1")
        assert (page.contact_zone, page.business_zone) == ("America/New_York", "America/New_York")
        assert page.own_zone is False                  # said as the business's, not as the contact's own
        assert _all(db, "z1").own_zone is False and contact_timeline(db, "z1").own_zone is False
        event = next(e for e in page.entries if e.source == EVENT)
        assert event.local == event.business == "Mon 2 Mar 10:00"
    finally:
        db.dispose()


def test_unknown_contact_and_bad_page_size(sample_db):
    assert contact_timeline(sample_db, "nobody") is None
    with pytest.raises(ValueError, match="at least one"):
        contact_timeline(sample_db, "c009", limit=0)
    assert _all(sample_db, "c033").entries is not None      # a contact with only its import


@pytest.mark.parametrize("action, outcome, reason, detail, expected", [
    ("deferred", None, "quiet_hours", {"until": "2026-03-03T07:00:00Z"}, "Deferred: quiet hours until 08:00 Tue 3 Mar"),
    ("deferred", None, "frequency_cap", {"until": "2026-03-03T07:00:00Z"}, "Deferred: frequency cap until 08:00 Tue 3 Mar"),
    ("skipped", None, "no_consent", None, "Skipped: no consent given"),
    ("skipped", None, "outside_whatsapp_window", None, "Skipped: outside the 24-hour WhatsApp window"),
    ("branched", "no", "no_message", None, "No: no message sent"),
    ("tagged", None, None, {"add": ["vip"], "remove": ["lead"]}, "Tagged: +vip, −lead"),
    ("exited", None, "exit_condition", None, "Exited: exit condition met"),
    ("exited", None, "journey_stopped", None, "Exited: journey stopped"),
    ("failed", None, "error", {"error": "division by zero"}, "Failed: an error: division by zero"),
    ("goal", None, None, None, "Goal reached"),
    ("completed", None, None, None, "Completed the journey"),
])
def test_each_log_row_in_words(action, outcome, reason, detail, expected):
    """Times in the contact's zone (Europe/Berlin here: UTC+1 in March); reasons through REASON_WORDS."""
    from app.engine.timeline_words import log_words

    assert log_words(action, outcome, reason, detail, None, ZoneInfo("Europe/Berlin")) == expected


def test_contact_search_takes_underscores_and_percents_as_typed(any_url):
    """The Contacts search (and opening a timeline by id) finds "cus_42" and "jo_ann@…" as typed, the
    exact id first, on SQLite and PostgreSQL."""
    from datetime import datetime, timezone

    from app.engine.importers import import_contacts
    from app.store.contacts import find_contacts

    db = open_database(any_url)
    try:
        lines = ["id,email"] + [f"acus_42{i},x{i}@example.com" for i in range(5)]
        lines += ["cus_42,jo_ann@example.com", "cus42,joann@example.com", "p100%,pct@example.com", "back\\slash,b@e.com"]
        rows, _ = parse_contacts("\n".join(lines) + "\n")
        import_contacts(db, rows, datetime(2026, 3, 2, tzinfo=timezone.utc), "many.csv")
        assert [c.id for c in find_contacts(db, "jo_ann")] == ["cus_42"]
        assert [c.id for c in find_contacts(db, "100%")] == ["p100%"]
        assert [c.id for c in find_contacts(db, "k\\s")] == ["back\\slash"]
        assert [c.id for c in find_contacts(db, "cus_42", limit=1)] == ["cus_42"]
        assert len(find_contacts(db, "")) == 9
    finally:
        db.dispose()


@pytest.mark.parametrize("kind, props, expected", [
    ("order_placed", {"order_id": "A1", "total": 1500, "currency": "JPY"}, "Event: order placed (order A1, total 1,500 JPY)"),
    ("order_placed", {"total": 12.5, "currency": "KWD"}, "Event: order placed (total 12.500 KWD)"),
    ("order_placed", {"total": "12,50", "currency": "EUR"}, "Event: order placed (total 12,50 EUR)"),
    ("subscribed", {"channel": "email", "source": "footer form"}, "Event: subscribed (email, from footer form)"),
    ("unsubscribed", {"channel": "sms"}, "Event: unsubscribed (SMS)"),
    ("product_viewed", {"product": "Teapot 🫖", "price": 39.0}, "Event: product viewed (Teapot 🫖)"),
    ("cart_abandoned", {"total": 24.0, "currency": "USD", "items": [{}]}, "Event: cart abandoned (total 24.00 USD, 1 item)"),
    ("product_viewed", {"product": {"name": "Teapot", "sku": "T1"}}, "Event: product viewed (Teapot)"),
    ("order_placed", {"order_id": {"n": 1}, "total": {"amount": 5}, "currency": ["EUR"]}, "Event: order placed"),
    ("subscribed", {"channel": ["email", "sms"], "source": None}, "Event: subscribed"),
])
def test_an_event_says_what_it_carried(kind, props, expected):
    """What a contact subscribed to, which product they viewed, a total in its currency's decimals."""
    from app.engine.timeline import _event_words

    assert _event_words(kind, props) == expected


def test_the_sample_subscription_says_to_what_and_from_where(sample_db):
    assert "Event: subscribed (email, from footer form)" in [e.words for e in _all(sample_db, "c001").entries]
