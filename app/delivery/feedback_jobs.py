"""The periodic jobs that bring delivery statuses back to the engine while it runs live.

- `statuses`: Twilio's Message resource polled for texts and WhatsApp messages sent in the last 72
  hours (a desktop usually has no public URL for status callbacks): app/delivery/status_poll.py.
- `mailbox`: the sender's mailbox over IMAP — bounces (RFC 3464), replies and unsubscribe mails:
  app/delivery/imap_poll.py.

Each job reads the settings and secrets afresh at every run, so what is set up in Settings →
Channels counts from the next run; a job whose channel is not set up does nothing.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from sqlalchemy.engine import Engine

from .secrets import TWILIO_AUTH_TOKEN, get_secret
from .settings import load_settings

if TYPE_CHECKING:
    from app.engine.clock import Clock
    from app.engine.engine import JourneyEngine

log = logging.getLogger(__name__)

STATUS_POLL_SECONDS = 60.0
MAILBOX_POLL_SECONDS = 300.0     # bounces and replies take minutes to come back anyway


def poll_statuses(db: Engine, engine: "JourneyEngine", clock: "Clock") -> int:
    """One Twilio status poll on the stored settings; returns how many feedback events were stored."""
    from .status_poll import poll_twilio_statuses

    settings = load_settings(db)
    return poll_twilio_statuses(db, engine, settings, get_secret(TWILIO_AUTH_TOKEN), clock)


def poll_mailbox_once(db: Engine, engine: "JourneyEngine") -> int:
    """One pass over the sender's mailbox on the stored settings; returns how many mails were read
    (0 when no mailbox is set up). Raises MailboxError when it is set up but cannot be read."""
    from .imap_poll import poll_configured

    report = poll_configured(db, engine)
    if report is None:
        return 0
    if report.mails:
        log.info("mailbox: %s", report.summary())
    return int(report.mails)


def feedback_jobs(db: Engine, engine: "JourneyEngine",
                  clock: "Clock") -> list[tuple[str, Callable[[], object], float]]:
    """The live engine's feedback jobs as (name, function, seconds between runs)."""
    return [("statuses", lambda: poll_statuses(db, engine, clock), STATUS_POLL_SECONDS),
            ("mailbox", lambda: poll_mailbox_once(db, engine), MAILBOX_POLL_SECONDS)]
