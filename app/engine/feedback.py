"""Delivery feedback (delivered, opened, clicked, replied, failed, unsubscribed) lands on the right message.

Which message an event is about:

- `properties.message_id` names it (the id is in the simulator's activity log,
  `message_id` on each `sent` line). It must be a message of the same contact;
  an id that is unknown, another contact's, or of another channel than the one
  the event names is ignored (counted as unmatched), never applied elsewhere.
- `properties.provider_id` names it by the provider's id for it (a Twilio SID, a Meta wamid, as in
  their status webhooks saved as events): the same rule, a message of the same contact only; when
  both are given they must name the same message.
- Without an id, the contact's latest message, sent at or before the event, on
  the channel the event names: `properties.channel` (`email`, `sms`,
  `whatsapp`); opens and clicks without one are email's (email is where opens
  and clicks are tracked), read receipts (`message_read`, an open) WhatsApp's.
  A reply, delivery or failure that names neither a message nor a channel
  cannot be matched safely and is ignored (unmatched).
  A message of another channel is never stamped.

Messages this batch has queued but not written yet are candidates too, under
the same rule.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from app.store.tables import messages

from .bulk import Many
from .consent import channel_name
from .context import CHANNELS, ContactView
from .counts import message_metric
from .runs import ACTIVE, Batch, RunState

FEEDBACK = {"message_delivered": "delivered", "message_opened": "opened", "message_clicked": "clicked",
            "message_replied": "replied", "message_failed": "failed",
            # A read receipt (WhatsApp's blue ticks; Twilio and Meta report the status "read") is an open.
            "message_read": "opened"}
# Feedback that only email tracks: without a channel, such an event is about an email.
EMAIL_ONLY = frozenset({"message_opened", "message_clicked"})
# The channel a feedback event without one is about: opens and clicks are tracked in email, read
# receipts come from WhatsApp. Others (deliveries, failures, replies) come from every channel: no default.
DEFAULT_CHANNEL = {**{kind: "email" for kind in EMAIL_ONLY}, "message_read": "whatsapp"}
# `unknown` (the dispatcher could not tell whether the provider took it) ranks as sent: a delivery report
# on it shows that it did leave.
_STATUS_RANK = {"queued": 0, "sending": 0, "sent": 1, "unknown": 1, "delivered": 2, "opened": 3, "clicked": 4,
                "replied": 5}
_NOT_RECEIVED = ("cancelled", "failed")     # never reached the contact: no feedback can be about them

log = logging.getLogger(__name__)

_STAMPED = ("delivered", "opened", "clicked", "replied", "failed", "unsubscribed")
_FEEDBACK_COLUMNS = (messages.c.id, messages.c.run_id, messages.c.journey_id, messages.c.node_id, messages.c.status,
                     messages.c.channel, messages.c.created_at, *(messages.c[f"{s}_at"] for s in _STAMPED))
_MESSAGE_BY_ID = select(*_FEEDBACK_COLUMNS, messages.c.provider_id).where(
    messages.c.id == bindparam("mid"), messages.c.contact_id == bindparam("cid"))
_MESSAGE_BY_PROVIDER_ID = select(*_FEEDBACK_COLUMNS, messages.c.provider_id).where(
    messages.c.provider_id == bindparam("pid"), messages.c.contact_id == bindparam("cid")).order_by(
    messages.c.id.desc()).limit(1)
_PROVIDER_ID_LENGTH = 200     # messages.provider_id
_LATEST_ON_CHANNEL = (
    select(*_FEEDBACK_COLUMNS)
    .where(messages.c.contact_id == bindparam("cid"), messages.c.channel == bindparam("channel"),
           messages.c.created_at <= bindparam("at"),
           # Two comparisons rather than NOT IN: an expanding IN is re-rendered on every execution.
           messages.c.status != "cancelled", messages.c.status != "failed")
    .order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(1))
# A failure report is about the latest message even when that one is known to have failed already (the
# dispatcher failed it, and a bounce for it comes too): it must not land on an older message instead.
_LATEST_FAILURE_CANDIDATE = (
    select(*_FEEDBACK_COLUMNS)
    .where(messages.c.contact_id == bindparam("cid"), messages.c.channel == bindparam("channel"),
           messages.c.created_at <= bindparam("at"), messages.c.status != "cancelled")
    .order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(1))


def _stamp(status: str) -> Many:
    """Sets `{status}_at` (and the status) where it is still empty: the first report of it counts."""
    return Many(lambda _: messages.update().where(messages.c.id == bindparam("mid"),
                                                  messages.c[f"{status}_at"].is_(None))
                .values({f"{status}_at": bindparam("at"), "status": bindparam("new_status")}))


_STAMP = {status: _stamp(status) for status in _STAMPED}


@dataclass
class Feedback:
    """What became of one feedback event: the run to wake (at a branch on the message), if any,
    and whether it matched a message at all."""
    woken: RunState | None
    matched: bool


_NO_CHANNEL = ""      # the event names a channel the engine does not know: no message can be about it


def given_channel(props: dict[str, Any]) -> str | None:
    """The channel an event's `channel` property names, read as people write it ("SMS", " email "):
    None when it names none (absent, null, blank), `_NO_CHANNEL` when it names one that is not
    email, sms or whatsapp (never taken for another channel)."""
    name = channel_name(props.get("channel"))      # one reading of channel names: "E-mail", " SMS ", "text"
    if name is None:
        return None
    return name if name in CHANNELS else _NO_CHANNEL


def named_channel(kind: str, props: dict[str, Any]) -> str | None:
    """The channel a feedback event is about: its `channel` property, else email for opens and clicks
    and WhatsApp for read receipts (`DEFAULT_CHANNEL`); None when it cannot be told (an unknown channel
    is never read as email)."""
    channel = given_channel(props)
    if channel is None:
        return DEFAULT_CHANNEL.get(kind)
    return channel or None


def _new_status(current: str, status: str) -> str:
    if status == "failed":
        return "failed"
    # A queued (or claimed) row keeps its status, so the dispatcher still sends it and records the result.
    if current not in ("queued", "sending") and _STATUS_RANK.get(status, -1) > _STATUS_RANK.get(current, 99):
        return status
    return current


_LARGEST_ID = 2**63 - 1      # a BIGINT: a larger number names no message (and must not reach SQL)


def _message_number(value: Any) -> int | None:
    """The message id a `message_id` property names: a whole number (1, "1", " 007 ", 1.0), else None
    (negative, fractional, not a number, larger than any id; `true`), so it matches no message."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if value.is_integer() else None
    if isinstance(value, int):
        return value if 0 < value <= _LARGEST_ID else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() refuses or reads otherwise.
    if not (text.isascii() and text.isdigit()):
        return None
    return _message_number(int(text))


def provider_id_of(props: dict[str, Any]) -> str | None:
    """The provider's message id an event names (`provider_id`: a Twilio SID, a Meta wamid), or None."""
    value = props.get("provider_id")
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > _PROVIDER_ID_LENGTH:
        return None
    return value.strip()


def names_message(props: dict[str, Any]) -> bool:
    """Whether an event names its message (by `message_id` or `provider_id`) rather than leaving it to be found."""
    return props.get("message_id") is not None or props.get("provider_id") is not None


def _named(batch: Batch, contact: ContactView, kind: str, props: dict[str, Any]) -> dict[str, Any] | None:
    """The message `message_id` (or `provider_id`) names, if it is this contact's and on the channel the
    event names."""
    provider_id = provider_id_of(props)
    if props.get("message_id") is not None:
        number = _message_number(props.get("message_id"))
        if number is None:
            return None
        batch.write_pending(contact.id)        # ids are given when rows are written
        row = batch.conn.execute(_MESSAGE_BY_ID, {"mid": number, "cid": contact.id}).first()
        if row is not None and provider_id is not None and row.provider_id != provider_id:
            return None                         # the two ids name different messages: neither is trusted
    elif provider_id is not None:
        # Provider ids are given when a message is sent, so every such row is written already.
        row = batch.conn.execute(_MESSAGE_BY_PROVIDER_ID, {"pid": provider_id, "cid": contact.id}).first()
    else:
        return None
    if row is None or row.status == "cancelled":
        return None
    explicit = given_channel(props)
    # An unsubscribe's channel says what the contact left, not which message carried the link.
    if kind != "unsubscribed" and explicit is not None and explicit != row.channel:
        return None
    return dict(row._mapping)


def _latest_on_channel(batch: Batch, contact: ContactView, channel: str, at: datetime,
                       failure: bool = False) -> dict[str, Any] | None:
    """The contact's latest message on `channel` created at or before `at`, written or still buffered
    (for a failure report, `failure`, one that failed already counts too)."""
    pending = batch.latest_pending_message(contact.id, channel=channel, at=at)
    skipped = ("cancelled",) if failure else _NOT_RECEIVED
    pending = pending if pending is not None and pending["status"] not in skipped else None
    query = _LATEST_FAILURE_CANDIDATE if failure else _LATEST_ON_CHANNEL
    row = batch.conn.execute(query, {"cid": contact.id, "channel": channel, "at": at}).first()
    if row is not None and (pending is None or row.created_at > pending["created_at"]):
        return dict(row._mapping)
    return pending      # buffered rows were queued after the written ones: at equal times they are newer


def record_feedback(batch: Batch, contact: ContactView, kind: str, props: dict[str, Any], at: datetime,
                    mine: list[RunState]) -> Feedback:
    """Stamps `{status}_at` on the message the event is about (see the module's docstring) the first
    time, counts it on the step that sent it, and returns the run waiting at a branch on it, if any."""
    status = FEEDBACK.get(kind, "unsubscribed")
    if names_message(props):
        row = _named(batch, contact, kind, props)
    else:
        channel = named_channel(kind, props)
        row = (_latest_on_channel(batch, contact, channel, at, failure=kind == "message_failed")
               if channel is not None else None)
    if row is None:
        log.info("%s for contact %s at %s matches no message: ignored", kind, contact.id, at.isoformat())
        return Feedback(None, False)
    first = row.get(f"{status}_at") is None
    if first:
        new_status = _new_status(row["status"], status)
        if row.get("id") is None:      # buffered, not in SQL yet: stamp the row that will be written
            row[f"{status}_at"], row["status"] = at, new_status
        else:
            _STAMP[status].run(batch.conn, [{"mid": row["id"], "at": at, "new_status": new_status}])
            batch.stamped(row["run_id"], row["node_id"], status, at, new_status)
    journey_id, node_id, run_id = row["journey_id"], row["node_id"], row["run_id"]
    if first and journey_id is not None:     # a repeated open is still one opened message
        batch.counts.add(journey_id, node_id, message_metric(status), at)
    for run in mine:
        if run.id == run_id and run.status == ACTIVE:
            node = batch.journey(run).node(run.node_id)
            if node is not None and node.kind == "message_status" and node.config["step"] == node_id:
                return Feedback(run, True)
    return Feedback(None, True)
