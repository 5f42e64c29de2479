"""Made-up test runs of the cart-abandonment example (real TestRun values, as run_test returns them), for
the test-run UI's tests and screenshots while the engine side is built in parallel."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.engine.test_run import StoryEntry, TestMessage, TestRun

TRIGGER, WAIT, EMAIL = "a995b8e8-2dc6-5090-8b7b-f52e1f00c02f", "893c5ca7-61c9-52c9-8559-38e860409e92", \
    "e0572049-b837-5d8c-9795-f88ac65305ec"
STATUS, TAG, SMS = "b952b56d-8e62-5e00-8431-057997566473", "f696f051-fa6c-5a61-9927-7fe7c31dafe4", \
    "2d9d2be2-c8e1-5287-9dfc-1db88ecc90ac"
E_TRIGGER_WAIT, E_WAIT_EMAIL = "dc892bc8-ef65-577a-9097-8bd6c943ad21", "06f8a0d8-3601-5bf9-8564-886c50a4b783"
E_EMAIL_STATUS, E_YES, E_NO = "1b3301b1-646a-54c4-b751-c94bd7b80e28", "de0202cc-9485-5d6c-8c4a-3f9f8500c095", \
    "dcafb9b0-7696-5787-a3c2-4ce5f8a7fb62"
CONTACT_ZONE, BUSINESS_ZONE = "Europe/London", "Europe/Berlin"

MESSAGE = TestMessage(
    EMAIL, "email", "emma@example.com", subject="Emma, your cart misses you",
    text="Hi Emma,\n\nYou left these in your cart:\n- Linen shirt × 1  $49.00\n",
    html="<p>Hi Emma,</p><p>You left these in your cart:</p><ul><li>Linen shirt × 1 — $49.00</li></ul>"
         "<p><a href='https://shop.example/cart/1'>Return to your cart</a></p>")


def _entry(at: datetime, node: str | None, action: str, words: str, **kw: object) -> StoryEntry:
    local, business = at.astimezone(ZoneInfo(CONTACT_ZONE)), at.astimezone(ZoneInfo(BUSINESS_ZONE))
    return StoryEntry(at, node, action, words, local=f"{local:%a} {local.day} {local:%b %H:%M}",
                      business=f"{business:%a} {business.day} {business:%b %H:%M}", **kw)  # type: ignore[arg-type]


def opened_run(start: datetime = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)) -> TestRun:
    """The contact opens the email 2 hours after it was sent: the yes branch, tagged, completed."""
    sent, opened = start + timedelta(hours=1), start + timedelta(hours=3)
    entries = [
        _entry(start, TRIGGER, "entered", "Entered: cart abandoned"),
        _entry(start, WAIT, "waited", "Waits 1 hour", until=sent),
        _entry(sent, EMAIL, "sent", "Sent email “Emma, your cart misses you” to emma@example.com", message=MESSAGE),
        _entry(sent, STATUS, "waited", "Waits up to 24 h for the email to be opened", until=sent + timedelta(hours=24)),
        _entry(opened, None, "contact", "Opens the email"),
        _entry(opened, STATUS, "branched", "Yes: opened 2 h after it was sent", outcome="yes"),
        _entry(opened, TAG, "tagged", "Tagged cart-engaged"),
        _entry(opened, TAG, "completed", "Completed the journey"),
    ]
    return TestRun("cart", entries, [TRIGGER, WAIT, EMAIL, STATUS, TAG],
                   [E_TRIGGER_WAIT, E_WAIT_EMAIL, E_EMAIL_STATUS, E_YES], "completed",
                   CONTACT_ZONE, BUSINESS_ZONE, elapsed=0.084)


def ordered_run(start: datetime = datetime(2026, 12, 1, 20, 30, tzinfo=timezone.utc)) -> TestRun:
    """Evening cart: the email waits for quiet hours to end; the contact orders on day 2 and exits."""
    due, sent = start + timedelta(hours=1), datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)
    ordered = start + timedelta(days=1)
    entries = [
        _entry(start, TRIGGER, "entered", "Entered: cart abandoned"),
        _entry(start, WAIT, "waited", "Waits 1 hour", until=due),
        _entry(due, EMAIL, "deferred", "Deferred: quiet hours until 08:00 Wed", reason="quiet_hours", until=sent),
        _entry(sent, EMAIL, "sent", "Sent email “Emma, your cart misses you” to emma@example.com", message=MESSAGE),
        _entry(sent, STATUS, "waited", "Waits up to 24 h for the email to be opened", until=sent + timedelta(hours=24)),
        _entry(ordered, None, "contact", "Places an order for 40.00"),
        _entry(ordered, STATUS, "exited", "Exited: placed an order (exit condition)", reason="exit_condition"),
    ]
    return TestRun("cart", entries, [TRIGGER, WAIT, EMAIL, STATUS], [E_TRIGGER_WAIT, E_WAIT_EMAIL, E_EMAIL_STATUS],
                   "exited: placed an order (exit condition)", CONTACT_ZONE, BUSINESS_ZONE, elapsed=0.091)


def skipped_run(start: datetime = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)) -> TestRun:
    """The contact opted out of email: the send is skipped, the branch goes no, the SMS goes out."""
    sent = start + timedelta(hours=1)
    sms = TestMessage(SMS, "sms", "+15551234567", text="Emma, your cart at Corner Shop is still waiting. Use code "
                                                       "CART10 for 10% off, valid 48 hours: https://shop.example/cart/1")
    entries = [
        _entry(start, TRIGGER, "entered", "Entered: cart abandoned"),
        _entry(start, WAIT, "waited", "Waits 1 hour", until=sent),
        _entry(sent, EMAIL, "skipped", "Skipped: opted out of email", reason="unsubscribed"),
        _entry(sent, STATUS, "branched", "No: no email was sent", outcome="no", reason="no_message"),
        _entry(sent, SMS, "sent", "Sent SMS to +15551234567", message=sms),
        _entry(sent, SMS, "completed", "Completed the journey"),
    ]
    return TestRun("cart", entries, [TRIGGER, WAIT, EMAIL, STATUS, SMS],
                   [E_TRIGGER_WAIT, E_WAIT_EMAIL, E_EMAIL_STATUS, E_NO], "completed", CONTACT_ZONE, BUSINESS_ZONE,
                   elapsed=0.07)
