"""Test run: one contact through a draft journey on a virtual clock, in a throwaway database.

The real engine (the simulator's loop) runs the draft as if published; nothing is sent (the recording
channel), nothing is written to the live store. The result is the contact's story: every step reached,
when (UTC, the contact's local time and the business's), why a send was deferred or skipped, which
outcome a branch took and why, the messages as rendered, and how the run ended.

CONTRACT (issue 11): the types below are fixed; `run_test`, `parse_then` and `story_text` are filled in
by the test-run work. The UI (app/ui/test_run_*.py, the canvas lighting) reads only these types.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.engine import Engine

from app.journey.model import Journey


@dataclass(frozen=True)
class TestContact:
    """Who the test is for: described here, or copied from the live store by `id` (see TestScript)."""
    __test__ = False     # not a pytest test class

    id: str = "test-contact"
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None                 # IANA name; None: the business's zone applies
    consent: dict[str, str] = field(default_factory=dict)     # channel → subscribed | unsubscribed | unknown
    attributes: dict[str, Any] = field(default_factory=dict)  # custom attributes (currency, city…)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Then:
    """What the contact does after the trigger.

    `action`: opened | clicked | replied | delivered (a message sent on `channel`, email when None) |
    ordered (an order_placed event for `amount`) | unsubscribed (from `channel`, every channel when None) |
    nothing | any other event type. `after` counts from when the message was sent for opened, clicked,
    replied and delivered ("opens the email 2 hours later"): each answers the first message on its
    channel that no earlier action of the same kind answered (two opens: the first email, then the
    second; an open and a click: the same email). For the rest it counts from the trigger event
    ("orders 3 days later")."""

    action: str
    after: timedelta = timedelta(0)
    amount: Decimal | None = None
    channel: str | None = None


@dataclass(frozen=True)
class TestScript:
    __test__ = False     # not a pytest test class
    contact: TestContact
    event_type: str                             # the trigger's event type (cart_abandoned…)
    at: datetime                                # aware; when the trigger event happens
    properties: dict[str, Any] = field(default_factory=dict)  # the event's properties ({} → a sample)
    then: tuple[Then, ...] = ()
    live_contact_id: str | None = None          # copy this contact (fields, consent, tags) from the live store


@dataclass(frozen=True)
class TestMessage:
    """A message the journey would have sent, as rendered for the test contact."""
    __test__ = False     # not a pytest test class

    node_id: str
    channel: str
    recipient: str
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    whatsapp_template: dict[str, Any] | None = None   # {"name", "language", "variables": [text, …]}


@dataclass(frozen=True)
class StoryEntry:
    """One line of the contact's story, in time order."""

    at: datetime                                # UTC
    node_id: str | None                         # None: something the contact did, not a step
    action: str                                 # the run log's action (entered, waited, deferred, sent, skipped,
                                                # branched, tagged, exited, completed, converted, failed) or
                                                # "contact" for a scripted contact action
    words: str                                  # the line as people say it: "Deferred: quiet hours until 08:00 Tue"
    outcome: str | None = None                  # a branch's outcome (yes/no)
    reason: str | None = None                   # the run log's reason key (quiet_hours, unsubscribed, goal…)
    until: datetime | None = None               # for waited / deferred: when the contact moves on (UTC)
    local: str = ""                             # `at` in the contact's zone: "Tue 1 Dec 08:00"
    business: str = ""                          # `at` in the business's zone
    message: TestMessage | None = None          # for `sent`


@dataclass
class TestRun:
    __test__ = False     # not a pytest test class
    journey_id: str
    entries: list[StoryEntry]
    reached: list[str]                          # node ids, in the order first reached
    taken: list[str]                            # edge ids the contact followed
    end: str                                    # how it ended, in words: "completed", "exited: goal reached",
                                                # "still waiting at “Wait 1 day” after 365 days"
    contact_zone: str                           # IANA name used for the contact's local time
    business_zone: str
    elapsed: float = 0.0                        # wall seconds the run took
    titles: dict[str, str] = field(default_factory=dict)   # node id → the step's title (for the text story)


class TestRunError(ValueError):
    """A test that cannot run: the draft has errors, a bad script line, no such contact. The text says
    what and what to do."""
    __test__ = False


# -- the script ----------------------------------------------------------------------------------

# Actions that answer a message: `after` counts from when that message was sent.
MESSAGE_ACTIONS = {"opened": "message_opened", "clicked": "message_clicked", "replied": "message_replied",
                   "delivered": "message_delivered"}
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_THEN = re.compile(r"^\s*(?P<action>[a-z][a-z0-9_]*)\s*(?:@\s*\+?\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>min|m|h|d|w)"
                   r"\s*)?(?::\s*(?P<value>[^\s]+)\s*)?$")
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
THEN_FORMS = ('"opened@+2h", "clicked@+30m", "replied@+1d", "delivered@+1m" (after the message was sent; '
              'add ":sms" or ":whatsapp" for another channel than email), "ordered@+3d:40.00", '
              '"unsubscribed@+1d" (every channel) or "unsubscribed@+1d:sms", "EVENT_TYPE@+2d", "nothing"')


def parse_then(text: str) -> Then:
    """"opened@+2h", "clicked@+30m", "ordered@+3d:40.00", "unsubscribed@+1d", "nothing" → Then.

    Units: m (minutes), h (hours), d (days), w (weeks); the `+` is optional. After `:` comes the
    order's amount for `ordered`, the channel for the others (email, sms, whatsapp). Any other lower-case
    event type is sent as that event ("subscribed@+1h"). Raises TestRunError naming the text and the
    accepted forms."""
    from .consent import channel_name
    from .context import CHANNELS

    found = _THEN.match(text.strip().lower()) if isinstance(text, str) else None
    if found is None:
        raise TestRunError(f"{text!r} is not a contact action; write one of {THEN_FORMS}")
    action, value = found["action"], found["value"]
    if action == "nothing":
        if found["amount"] or value:
            raise TestRunError(f"{text!r}: \"nothing\" takes no time or value; write just \"nothing\"")
        return Then("nothing")
    if not found["amount"]:
        raise TestRunError(f"{text!r} says what but not when: add the time after it, e.g. \"{action}@+2h\" "
                           f"(accepted: {THEN_FORMS})")
    amount = float(found["amount"])
    try:
        after = timedelta(**{_UNITS[found["unit"]]: amount})
    except (OverflowError, ValueError):         # more days than a timedelta holds: far past the 5 years
        after = timedelta.max
    if after > timedelta(days=366 * 5):
        raise TestRunError(f"{text!r}: {found['amount']}{found['unit']} is too far ahead; a test run covers "
                           "at most 5 years")
    if action in ("ordered", "order_placed"):
        if value is None:
            return Then("ordered", after)
        if re.fullmatch(r"\d+,\d{1,2}", value):             # a decimal comma: 40,00
            value = value.replace(",", ".")
        elif re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", value):  # thousands: 1,250.00
            value = value.replace(",", "")
        try:
            amount_value = Decimal(value)
        except InvalidOperation:
            raise TestRunError(f"{text!r}: {value!r} is not an amount; write it like \"ordered@+3d:40.00\"") from None
        if not amount_value.is_finite() or amount_value < 0 or amount_value > Decimal("999999999999"):
            raise TestRunError(f"{text!r}: {value!r} is not an order amount (0 to 999,999,999,999)")
        return Then("ordered", after, amount=amount_value)
    channel = None
    if value is not None:
        channel = channel_name(value)
        if channel not in CHANNELS:
            raise TestRunError(f"{text!r}: {value!r} is not a channel; write email, sms or whatsapp")
    if action in MESSAGE_ACTIONS:
        if action in ("opened", "clicked") and channel == "sms":
            raise TestRunError(f"{text!r}: SMS reports neither opens nor clicks; use \"delivered\" or \"replied\"")
        return Then(action, after, channel=channel)
    if action == "unsubscribed":
        return Then(action, after, channel=channel)
    if not _EVENT_NAME.match(action) or value is not None and action != "unsubscribed":
        raise TestRunError(f"{text!r} is not a contact action; write one of {THEN_FORMS}")
    return Then(action, after)


# -- the run ---------------------------------------------------------------------------------------

MAX_SPAN = timedelta(days=365)       # how long after the trigger (or the last scripted action) a test looks
FIRST_YEAR, LAST_YEAR = 1900, 9000   # the trigger's time: far enough from year 1 and 9999 for every step ahead


def run_test(journey: Journey, script: TestScript, *, live_db: Engine | None = None) -> TestRun:
    """Runs `journey` (a draft: published in the throwaway database only) for the script's contact.
    `live_db` (never written) gives the business's time zone and the contact when
    `script.live_contact_id` is set (its latest event of the trigger's type gives the properties when
    the script gives none; else a sample cart). Raises TestRunError: the draft has errors (each named),
    no such contact, a trigger event the journey does not start on, a naive time."""
    from .test_run_engine import run_script

    started = time.perf_counter()
    if script.at.tzinfo is None:
        raise TestRunError("the trigger's time needs a time zone (e.g. 2026-03-02T10:00:00Z)")
    if not FIRST_YEAR <= script.at.astimezone(timezone.utc).year <= LAST_YEAR:
        # The run looks a year (and the script up to 5 years) ahead: near the calendar's ends that overflows.
        raise TestRunError(f"the trigger's time {script.at.isoformat()} is not between the years {FIRST_YEAR} and "
                           f"{LAST_YEAR}; give a time such as 2026-03-02T10:00:00Z")
    run = run_script(journey, script, live_db)
    run.elapsed = time.perf_counter() - started
    return run


def story_text(run: TestRun) -> str:
    """The story as text, one line per entry (time local and business, step, words) and the end:

        Tue 1 Dec 10:00  (Tue 1 Dec 11:00)  Cart reminder email: Sent the email “Your cart” to …
    """
    same_zone = run.contact_zone == run.business_zone
    lines = [f"Times: the contact's ({run.contact_zone})"
             + ("" if same_zone else f", then the business's ({run.business_zone})")]
    width = max((len(e.local) for e in run.entries), default=0)
    for e in run.entries:
        when = e.local.ljust(width) + ("" if same_zone else f"  ({e.business})")
        step = run.titles.get(e.node_id, "") if e.node_id else ("contact" if e.action == "contact" else "journey")
        lines.append(f"{when}  {step + ': ' if step else ''}{e.words}")
    lines.append(f"End: {run.end}")
    return "\n".join(lines)
