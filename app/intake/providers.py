"""Provider callbacks: Twilio status callbacks, Meta WhatsApp status webhooks, and the links in
emails (one-click unsubscribe, click, open), as the engine's feedback events.

They land where polling and the mailbox put theirs (app/delivery/status_poll.py, imap_poll.py):
the same event types, on the message the callback names (by the provider's id, or the signed
token's idempotency key), keyed so that a status seen both by polling and by a callback counts once
(`twilio:<SID>:<status>`).

- Twilio (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status): a form with
  `MessageSid`, `MessageStatus`, and for failures `ErrorCode`.
- Meta (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples):
  `entry[].changes[].value.statuses[]` with `id` (the wamid), `status` (sent, delivered, read,
  failed), `timestamp` (Unix seconds) and `errors[]` (`code`, `title`); and the contact's replies,
  `value.messages[]` with `from` (their number, digits), `id`, `timestamp` and the `text.body` or
  quick-reply `button.text`: a reply that is an opt-out word opts the number out of WhatsApp.
- Links: the token names the message by its idempotency key (app/delivery/unsubscribe.py,
  tracking.py); an unsubscribe opts the contact out of email, a click is `message_clicked` with
  its `url`, an open `message_opened`.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.delivery.status_poll import _Pending, feedback_events
from app.engine.ingest import EventIn
from app.store.tables import contacts, messages

from .people import Unusable, text

_COLUMNS = (messages.c.id, messages.c.contact_id, messages.c.channel, messages.c.provider_id, messages.c.sent_at,
            messages.c.delivered_at)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _by_provider_id(conn: Connection, provider_id: str, who: str) -> _Pending:
    row = conn.execute(select(*_COLUMNS).where(messages.c.provider_id == provider_id)).first()
    if row is None or row.contact_id is None:
        raise Unusable(f"{who} is about message {provider_id!r}, which this database did not send")
    return _Pending(row.id, row.contact_id, row.channel, provider_id, row.sent_at, row.delivered_at is not None)


def twilio_events(conn: Connection, form: dict[str, Any], now: datetime) -> list[EventIn]:
    """A Twilio status callback's events (delivered, read, undelivered, failed; others: none)."""
    sid = text(form.get("MessageSid")) or text(form.get("SmsSid")) or ""
    pending = _by_provider_id(conn, sid, "a Twilio status callback")
    resource = {"status": text(form.get("MessageStatus")) or text(form.get("SmsStatus")),
                "error_code": text(form.get("ErrorCode")), "error_message": text(form.get("ErrorMessage"))}
    return feedback_events(resource, pending, now)


def meta_events(conn: Connection, status: dict[str, Any], now: datetime) -> list[EventIn]:
    """One Meta status object's events."""
    wamid = text(status.get("id")) or ""
    pending = _by_provider_id(conn, wamid, "a WhatsApp status webhook")
    said = text(status.get("status")) or ""
    try:
        at = min(datetime.fromtimestamp(int(str(status.get("timestamp"))), timezone.utc), now)
    except (TypeError, ValueError, OverflowError, OSError):
        at = now
    props: dict[str, Any] = {"message_id": pending.id, "channel": pending.channel, "provider_id": wamid,
                             "provider": "meta"}

    def event(kind: str, state: str, **more: Any) -> EventIn:
        return EventIn(pending.contact_id, kind, at, {**props, "status": state, **more}, f"meta:{wamid}:{state}")

    if said == "delivered":
        return [event("message_delivered", "delivered")]
    if said == "read":
        return ([] if pending.delivered else [event("message_delivered", "delivered")]) + [event("message_read", "read")]
    if said == "failed":
        errors = status.get("errors") if isinstance(status.get("errors"), list) else []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        code = text(first.get("code"))
        error = text(first.get("title")) or text(first.get("message")) or "Meta reported the message failed"
        return [event("message_failed", "failed", code=code, error=error)]
    return []


# The opt-out keywords carriers honour for texts (CTIA; Twilio's STOP handling) and that WhatsApp Business
# Solution Providers honour for WhatsApp: a reply that is one of them, alone, opts out.
STOP_WORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT OUT",
                        "OPT-OUT", "REVOKE"})


def meta_reply_events(conn: Connection, reply: dict[str, Any], now: datetime) -> list[EventIn]:
    """A WhatsApp reply's events: `unsubscribed` from WhatsApp for each contact with the sender's number
    when the reply is an opt-out word (`STOP`, `Unsubscribe`, …: STOP_WORDS, any case, trailing `.`/`!`
    ignored); else none (the reply itself is not kept). Raises Unusable for an opt-out from a number
    no contact has (a dead letter with its reason: nothing is sent to an unknown number anyway)."""
    said = reply.get("text", {}).get("body") if isinstance(reply.get("text"), dict) else None
    if said is None and isinstance(reply.get("button"), dict):
        said = reply["button"].get("text")
    if not isinstance(said, str) or " ".join(said.split()).strip(".!").upper() not in STOP_WORDS:
        return []
    digits = "".join(c for c in str(reply.get("from")) if c.isdigit())
    phone = f"+{digits}"
    found = list(conn.execute(select(contacts.c.id).where(contacts.c.phone == phone)).scalars())
    if not found:
        raise Unusable(f"a WhatsApp opt-out ({said.strip()!r}) came from {phone}, which no contact has")
    try:
        at = min(datetime.fromtimestamp(int(str(reply.get("timestamp"))), timezone.utc), now)
    except (TypeError, ValueError, OverflowError, OSError):
        at = now
    wamid = text(reply.get("id")) or _digest(f"{phone}{at.isoformat()}")
    return [EventIn(cid, "unsubscribed", at, {"channel": "whatsapp", "provider": "meta", "provider_id": wamid,
                                              "source": f"WhatsApp reply {said.strip()!r}"}, f"meta:{wamid}:stop:{cid}")
            for cid in found]


def link_events(conn: Connection, link: dict[str, Any], now: datetime) -> list[EventIn]:
    """The event an unsubscribe, click or open (`link["kind"]`) of the message keyed `link["key"]` means."""
    key, kind = str(link.get("key")), link.get("kind")
    row = conn.execute(select(messages.c.id, messages.c.contact_id).where(
        messages.c.idempotency_key == key, messages.c.channel == "email")).first()
    if row is None or row.contact_id is None:
        raise Unusable(f"the {kind} link names message {key!r}, which is not in this database")
    at = now
    try:
        at = min(datetime.fromisoformat(str(link.get("at"))), now)
    except ValueError:
        pass
    base = {"message_id": row.id, "channel": "email"}
    if kind == "unsubscribe":
        return [EventIn(row.contact_id, "unsubscribed", at, {**base, "source": "one-click unsubscribe (RFC 8058)"},
                        f"link:unsubscribe:{key}:{at.isoformat()}")]      # each use counts (app/intake/callbacks.py)
    if kind == "click":
        url = str(link.get("url"))
        return [EventIn(row.contact_id, "message_clicked", at, {**base, "url": url}, f"link:click:{key}:{_digest(url)}")]
    return [EventIn(row.contact_id, "message_opened", at, base, f"link:open:{key}")]
