"""Statuses back from Twilio by polling, for a desktop without a public URL for status callbacks.

Every so often (the live engine's job calls `poll_twilio_statuses`), the messages Twilio took in the
last 72 hours whose fate is not known yet are looked up — `GET …/Accounts/{AccountSid}/Messages/{Sid}.json`
(https://www.twilio.com/docs/messaging/api/message-resource#fetch-a-message-resource) — a batch at a
time, each message at most once per `every` (spaced by `messages.status_checked_at`). What Twilio says
becomes the engine's feedback events (https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks
lists the statuses):

- `delivered` → `message_delivered`;
- `read` (WhatsApp's blue ticks) → `message_delivered` (if not seen yet) and `message_read`;
- `undelivered`, `failed` → `message_failed` with Twilio's `error_code` and `error_message`; a 21610
  ("the recipient replied STOP") also withdraws the contact's SMS consent (source "carrier STOP (Twilio 21610)").

Each event carries the idempotency key `twilio:<SID>:<status>` and `properties.message_id` (the outbox
row), `channel`, `code`, `provider_id`, so polling the same status twice changes nothing, and the event
lands on that message of that contact only (app/engine/feedback.py). "Final" means: an SMS delivered or
failed; a WhatsApp message read or failed (a delivered one may still be read).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Engine

from app.engine.clock import Clock
from app.engine.engine import JourneyEngine
from app.engine.ingest import EventIn
from app.store.sql import write_transaction
from app.store.tables import messages

from .base import DeliveryFailure
from .httpapi import new_client
from .settings import DeliverySettings, TwilioSettings
from .twilio import message_resource

log = logging.getLogger(__name__)

POLL_WINDOW = timedelta(hours=72)      # Twilio's statuses settle within hours; older ones are left alone
RECHECK_EVERY = timedelta(minutes=5)   # one message is asked about at most this often
BATCH = 100                            # messages looked up per call (Twilio allows ~100 requests/s per account)
STOP_CODE = 21610
_SID_PREFIXES = ("SM", "MM")           # Twilio message SIDs; a Meta wamid or an SMTP Message-ID is not polled here


@dataclass(frozen=True)
class _Pending:
    id: int
    contact_id: str
    channel: str
    provider_id: str
    sent_at: datetime | None
    delivered: bool


def _accounts(settings: DeliverySettings) -> dict[str, TwilioSettings]:
    """The Twilio settings each channel's messages are polled with: SMS always goes through Twilio,
    WhatsApp when Twilio is its provider."""
    found: dict[str, TwilioSettings] = {}
    if settings.sms.twilio.account_sid:
        found["sms"] = settings.sms.twilio
    if settings.whatsapp.provider == "twilio" and settings.whatsapp.twilio.account_sid:
        found["whatsapp"] = settings.whatsapp.twilio
    return found


def _due(db: Engine, channels: list[str], now: datetime, every: timedelta, batch: int) -> list[_Pending]:
    """Claims (stamps `status_checked_at` = now) up to `batch` messages whose status is due for a look."""
    m = messages.c
    unsettled = or_(and_(m.channel == "sms", m.delivered_at.is_(None)),
                    and_(m.channel == "whatsapp", m.opened_at.is_(None)))
    query = (select(m.id, m.contact_id, m.channel, m.provider_id, m.sent_at, m.delivered_at)
             .where(m.status.in_(("sent", "delivered")), m.channel.in_(channels), m.provider_id.is_not(None),
                    or_(*(m.provider_id.startswith(p) for p in _SID_PREFIXES)), m.contact_id.is_not(None),
                    m.sent_at >= now - POLL_WINDOW, m.failed_at.is_(None), unsettled,
                    or_(m.status_checked_at.is_(None), m.status_checked_at <= now - every))
             # never asked first, then the longest unasked: every message gets its turn
             .order_by(func.coalesce(m.status_checked_at, m.sent_at), m.id).limit(batch))
    with write_transaction(db) as conn:
        rows = conn.execute(query).all()
        if rows:
            conn.execute(update(messages).where(m.id.in_([r.id for r in rows])).values(status_checked_at=now))
    return [_Pending(r.id, r.contact_id, r.channel, r.provider_id, r.sent_at, r.delivered_at is not None)
            for r in rows]


def _when(resource: dict[str, Any], pending: _Pending, now: datetime) -> datetime:
    """When Twilio last changed the message (`date_updated`, RFC 2822), within [sent, now]."""
    try:
        at = parsedate_to_datetime(str(resource.get("date_updated")))
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        at = now
    low = pending.sent_at if pending.sent_at is not None and pending.sent_at.tzinfo else None
    return min(max(at, low) if low else at, now)


def feedback_events(resource: dict[str, Any], pending: _Pending, now: datetime) -> list[EventIn]:
    """The engine events one Message resource's status means (see the module's docstring)."""
    status = str(resource.get("status") or "")
    sid = pending.provider_id
    at = _when(resource, pending, now)
    props: dict[str, Any] = {"message_id": pending.id, "channel": pending.channel, "provider_id": sid,
                             "provider": "twilio"}

    def event(kind: str, said: str, **more: Any) -> EventIn:
        return EventIn(pending.contact_id, kind, at, {**props, "status": said, **more}, f"twilio:{sid}:{said}")

    if status == "delivered":
        return [event("message_delivered", "delivered")]
    if status == "read":
        found = [] if pending.delivered else [event("message_delivered", "delivered")]
        return found + [event("message_read", "read")]
    if status in ("undelivered", "failed"):
        code = resource.get("error_code")
        text = str(resource.get("error_message") or f"Twilio reported the message {status}")
        found = [event("message_failed", status, code=str(code) if code is not None else None, error=text)]
        if code is not None and str(code) == str(STOP_CODE) and pending.channel == "sms":
            found.append(EventIn(pending.contact_id, "unsubscribed", at, {
                "channel": "sms", "source": f"carrier STOP (Twilio {STOP_CODE})", "provider_id": sid},
                f"twilio:{sid}:unsubscribed"))
        return found
    return []          # queued, sending, sent, accepted, scheduled…: not settled yet


def poll_twilio_statuses(db: Engine, engine: JourneyEngine, settings: DeliverySettings, auth_token: str | None,
                         clock: Clock, *, batch: int = BATCH, every: timedelta = RECHECK_EVERY) -> int:
    """Looks up up to `batch` unsettled Twilio messages and feeds what became of them to `engine`;
    returns how many new feedback events were stored (repeats of known statuses count 0).

    Sends nothing and holds no transaction while asking Twilio. When Twilio cannot be reached or refuses
    the token, the poll stops for this round (logged) and the messages are asked about again after `every`."""
    accounts = _accounts(settings)
    auth_token = (auth_token or "").strip()          # as the channel takes it: a pasted line break is no part
    if not accounts or not auth_token:
        return 0
    now = clock.now()
    pending = _due(db, sorted(accounts), now, every, batch)
    if not pending:
        return 0
    found: list[EventIn] = []
    clients: dict[tuple[str, str], httpx.Client] = {}
    try:
        for item in pending:
            account = accounts[item.channel]
            key = (account.api_base, account.account_sid)
            if key not in clients:
                clients[key] = new_client(account.api_base, auth=(account.account_sid, auth_token))
            try:
                resource = message_resource(clients[key], account.account_sid, item.provider_id)
            except (httpx.HTTPError, DeliveryFailure) as exc:
                log.warning("Twilio status poll stopped after %d of %d messages: %s", pending.index(item),
                            len(pending), exc)
                break
            if resource is not None:
                found.extend(feedback_events(resource, item, now))
    finally:
        for client in clients.values():
            client.close()
    if not found:
        return 0
    return engine.ingest(found).stored
