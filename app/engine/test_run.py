"""Test run: one contact through a draft journey on a virtual clock, in a throwaway database.

The real engine (the simulator's loop) runs the draft as if published; nothing is sent (the recording
channel), nothing is written to the live store. The result is the contact's story: every step reached,
when (UTC, the contact's local time and the business's), why a send was deferred or skipped, which
outcome a branch took and why, the messages as rendered, and how the run ended.

CONTRACT (issue 11): the types below are fixed; `run_test`, `parse_then` and `story_text` are filled in
by the test-run work. The UI (app/ui/test_run_*.py, the canvas lighting) reads only these types.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
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

    `action`: opened | clicked | replied (the latest message sent on `channel`, email when None) |
    ordered (an order_placed event for `amount`) | unsubscribed (from `channel`, every channel when None) |
    nothing | any other event type. `after` counts from the latest message sent before it for opened,
    clicked and replied ("opens the email 2 hours later"), from the trigger event for the rest
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


class TestRunError(ValueError):
    """A test that cannot run: the draft has errors, a bad script line, no such contact. The text says
    what and what to do."""
    __test__ = False


def run_test(journey: Journey, script: TestScript, *, live_db: Engine | None = None) -> TestRun:
    """Runs `journey` (a draft: published in the throwaway database only) for the script's contact.
    `live_db` (never written) gives the business's time zone and the contact when
    `script.live_contact_id` is set. Raises TestRunError."""
    raise NotImplementedError


def parse_then(text: str) -> Then:
    """"opened@+2h", "clicked@+30m", "ordered@+3d:40.00", "unsubscribed@+1d", "nothing" → Then.
    Raises TestRunError naming the text and the accepted forms."""
    raise NotImplementedError


def story_text(run: TestRun) -> str:
    """The story as text, one line per entry (time local and business, step, words) and the end."""
    raise NotImplementedError
