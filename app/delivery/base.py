"""What every channel takes and returns, and the failure classes the dispatcher acts on.

A channel sends one `Outgoing` message and returns `Sent` (with the provider's id for it), or raises
one `DeliveryFailure`:

- `Transient` — worth trying again later (connection refused, timeouts, SMTP 4xx such as 421/450/451,
  HTTP 429 and 5xx); `retry_after` carries the provider's `Retry-After` in seconds when it gave one.
- `Permanent` — will never succeed (SMTP 5xx such as 550/552/554; Twilio 21211, 21610, 21614,
  63016; Meta 131026, 131047; a bad address): the message fails at once with the provider's code.
- `Uncertain` — the message may or may not have left (the connection dropped after the data was
  handed over and before the provider answered): the message becomes `unknown`, never resent
  automatically.
- `NotConfigured` — the channel has no settings or secret yet: the message waits, it does not fail.

A channel object is used by one thread at a time (the dispatcher gives each worker its own), may
keep a connection open between messages, and is closed with `close()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Outgoing:
    """One message as the channel sends it (a row of the outbox, rendered already)."""

    message_id: int                   # the outbox row's id
    idempotency_key: str              # stable per (run, step): the email's Message-ID derives from it
    channel: str                      # email | sms | whatsapp
    recipient: str                    # an email address, or an E.164 phone number (+4915123456789)
    sender: str | None = None         # the step's From ("Corner Shop <hello@shop.example>"); None: default
    subject: str | None = None
    body_text: str | None = None
    body_html: str | None = None
    reply_to: str | None = None
    whatsapp_template: dict[str, Any] | None = None    # {"name", "language", "variables": [str, …]}
    headers: dict[str, str] = field(default_factory=dict)   # extra headers (List-Unsubscribe, …)
    test: bool = False                # a test send: "[TEST]" in front, never counted


@dataclass(frozen=True)
class Sent:
    """The provider took the message: its id for it (Message-ID, Twilio SID, Meta wamid) and the status
    it reported at once (Twilio: "queued"/"accepted"; SMTP: "sent")."""

    provider_id: str | None
    status: str = "sent"


class DeliveryFailure(Exception):
    """A message that did not (surely) go out: `code` is the provider's ("550", "21610", "131026",
    "timeout"…), `text` its words, both shown to the user as given."""

    def __init__(self, text: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(text)
        self.text, self.code, self.retry_after = text, code, retry_after

    def __str__(self) -> str:
        return f"{self.code}: {self.text}" if self.code else self.text


class Transient(DeliveryFailure):
    """Try again later (after `retry_after` seconds when the provider said so)."""


class Permanent(DeliveryFailure):
    """Never going to work for this message: fail it now."""


class Uncertain(DeliveryFailure):
    """Handed over, but whether the provider took it is not known: mark `unknown`, never resend by itself."""


class NotConfigured(DeliveryFailure):
    """The channel is not set up (no settings or no secret): the message waits in the outbox."""


class Channel(Protocol):
    """A way out for one channel (see the module's docstring)."""

    def send(self, message: Outgoing) -> Sent:
        """Sends `message`; raises a DeliveryFailure subclass when it did not surely go out."""
        ...

    def close(self) -> None:
        """Closes any open connection; the channel may be used again afterwards."""
        ...


@dataclass(frozen=True)
class CheckResult:
    """What "Test connection" found: `ok`, else the `stage` that failed (dns, connect, tls, auth,
    sender, settings) and a sentence saying what failed and what to do."""

    ok: bool
    stage: str
    detail: str
