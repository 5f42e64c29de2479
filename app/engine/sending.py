"""The send_template step: who gets it, when it may go, what it says, and the outbox row."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select

from app.journey.schema import parse_datetime
from app.delivery.tracking import track_html
from app.journey.settings import allows_unknown, tracks_opens
from app.journey.node_kinds import WHATSAPP_WINDOW_HOURS, WA_TEXT
from app.store.tables import events, messages

from .consent import SUBSCRIBED, UNSUBSCRIBED, allowed, channel_name
from .message_render import message_context, render_message
from .runs import message_key
from .steps import Hold, Next, Result, Step, Stop
from .timeutil import iso, quiet_until

DEFAULT_WINDOW = ("21:00", "08:00")   # for timing "next allowed window" when quiet hours are off


def _previous(step: Step, column: str) -> bool:
    node_id = step.run.state.get("last_message")
    if not node_id:
        return False
    row = step.batch.message(message_key(step.run.id, node_id))
    return row is not None and row.get(column) is not None


def _term_holds(step: Step, term: dict[str, Any]) -> bool:
    kind, value, contact = term["term"], term.get("value", ""), step.contact
    if kind in ("opened_previous", "not_opened_previous"):
        seen = _previous(step, "opened_at") or _previous(step, "clicked_at")
        return seen if kind == "opened_previous" else not seen
    if kind in ("clicked_previous", "not_clicked_previous"):
        seen = _previous(step, "clicked_at")
        return seen if kind == "clicked_previous" else not seen
    if kind == "unsubscribed_from":
        return contact.consent_state(str(channel_name(value))) == UNSUBSCRIBED      # `SMS` reads as sms
    if kind == "subscribed_to":
        # consent recorded, not merely "never asked"
        return contact.consent_state(str(channel_name(value))) == SUBSCRIBED
    if kind == "has_tag":
        return value in contact.tags
    return value not in contact.tags     # lacks_tag


def _skip(step: Step, reason: str, **detail: Any) -> Result:
    # The channel (and what was missing) goes with the reason: "opted out of SMS", not just "opted out".
    step.batch.log(step.run, step.node.id, "skipped", step.at, reason=reason,
                   detail={"channel": step.node.config["channel"], **detail})
    return Next()


def _defer(step: Step, until: datetime, reason: str, **detail: Any) -> Result:
    # Counted once per run: a send deferred by quiet hours and then by the frequency cap is one deferred run.
    # The zone lets the story say the time as the contact lives it ("quiet hours until 08:00 Tue").
    step.batch.log(step.run, step.node.id, "deferred", step.at, reason=reason,
                   detail={"until": iso(until), "zone": step.zone.key, **detail}, counted=step.first_visit)
    return Hold(until)


def _cap_until(step: Step, channel: str) -> datetime | None:
    """When the frequency cap (counted across all journeys) next lets this channel through, or None if it does now."""
    cap = step.journey.settings["frequency_cap"]
    if not cap["enabled"]:
        return None
    since = step.at - timedelta(hours=int(cap["hours"]))
    step.batch.write_pending(step.contact.id)
    sent = [t for (t,) in step.batch.conn.execute(
        select(messages.c.created_at).where(
            messages.c.contact_id == step.contact.id, messages.c.channel == channel,
            messages.c.created_at > since, messages.c.created_at <= step.at,
            messages.c.status != "cancelled").order_by(messages.c.created_at))]
    limit = int(cap["messages"])
    if len(sent) < limit:
        return None
    # The earliest instant at which fewer than `limit` messages lie in the trailing window.
    return sent[len(sent) - limit] + timedelta(hours=int(cap["hours"]))


def _timing_hold(step: Step, channel: str) -> Result | None:
    config, settings = step.node.config, step.journey.settings
    if config["timing"] == "scheduled" and config.get("send_at"):
        send_at = parse_datetime(config["send_at"])
        if step.at < send_at:
            return _defer(step, send_at, "scheduled")
    quiet = settings["quiet_hours"]
    window = (quiet["start"], quiet["end"]) if quiet["enabled"] else (
        DEFAULT_WINDOW if config["timing"] == "next_window" else None)
    if window:
        until = quiet_until(step.at, step.zone, *window)
        if until is not None:
            return _defer(step, until, "quiet_hours", window=list(window))
    capped = _cap_until(step, channel)
    if capped is not None and capped > step.at:
        cap = step.journey.settings["frequency_cap"]
        return _defer(step, capped, "frequency_cap", messages=int(cap["messages"]), hours=int(cap["hours"]))
    return None


_WHATSAPP_WINDOW = timedelta(hours=WHATSAPP_WINDOW_HOURS)
_WROTE_RECENTLY = (select(events.c.properties)
                   .where(events.c.contact_id == bindparam("cid"), events.c.type == "message_received",
                          events.c.occurred_at > bindparam("since"), events.c.occurred_at <= bindparam("at"))
                   .order_by(events.c.occurred_at.desc()).limit(200))


def _on_whatsapp(properties: Any) -> bool:
    """Whether a `message_received` event is a WhatsApp message: it names no channel (the field is
    optional), or names WhatsApp. Only a message on WhatsApp opens WhatsApp's window: an SMS or email
    reply does not (Meta's customer-service window is per WhatsApp conversation)."""
    named = properties.get("channel") if isinstance(properties, dict) else None
    return named is None or channel_name(named) in (None, "whatsapp")


def _inside_whatsapp_window(step: Step) -> bool:
    """Whether the contact wrote to the business on WhatsApp (a `message_received` event, see
    `_on_whatsapp`) within the 24 hours before the step: only then may free WhatsApp text go out (Meta's
    customer-service window). One indexed look-up (events by contact and time); the events of this
    batch are stored before they are applied."""
    found = step.batch.conn.execute(_WROTE_RECENTLY, {
        "cid": step.contact.id, "since": step.at - _WHATSAPP_WINDOW, "at": step.at})
    return any(_on_whatsapp(properties) for (properties,) in found)


def send_template(step: Step) -> Result:
    config, contact, run = step.node.config, step.contact, step.run
    channel = config["channel"]
    if config["recipients"] == "matching" and not all(_term_holds(step, t) for t in config["terms"]):
        return _skip(step, "not_matching")
    # An opt-out comes first; "no consent" last, so it is only said of contacts who could be reached.
    refused = allowed(contact.consent_state(channel), allows_unknown(step.journey.settings, channel))
    if refused == "unsubscribed":
        return _skip(step, refused)
    address = contact.address(channel)
    if not address:
        return _skip(step, "no_address")
    if refused is not None:
        return _skip(step, refused)        # "no_consent": never asked, and the journey needs consent
    held = _timing_hold(step, channel)
    if held is not None:
        return held
    # Judged when the message would go (after quiet hours): WhatsApp refuses free text outside the window
    # (Meta 131047, Twilio 63016), so it is never queued to fail.
    if channel == "whatsapp" and config.get("wa_mode") == WA_TEXT and not _inside_whatsapp_window(step):
        return _skip(step, "outside_whatsapp_window")

    idempotency_key = message_key(run.id, step.node.id)
    # The link that unsubscribes the contact: signed with the message's idempotency key, so the
    # unsubscribe mail or click names this very message (app/delivery/unsubscribe.py).
    context = message_context(step.batch.templates, contact.template_data(), step.batch.event_props(run), step.zone,
                              step.journey.name, step.journey.model.description,
                              unsubscribe_url=step.batch.unsubscribe_links().url(idempotency_key))
    message = render_message(step.batch.templates, config, context, (run.journey_id, run.version, step.node.id))
    if message.error:
        # A real template error (not a missing value): the run stops, the batch goes on.
        name, error = message.error
        step.batch.log(run, step.node.id, "failed", step.at, reason="template_error",
                       detail={"step": step.node.title[:80], "field": name, "error": error[:300]})
        return Stop("error", failed=True)
    missing, rendered = message.missing, message.fields
    if missing and config["missing"] == "skip":
        return _skip(step, "missing_variable", missing=sorted(set(missing)))
    if missing and config["missing"] == "fail":
        step.batch.log(run, step.node.id, "failed", step.at, reason="missing_variable",
                       detail={"missing": sorted(set(missing))})
        return Stop("error", failed=True)

    whatsapp_template = message.whatsapp_template
    if whatsapp_template is not None and any(not v.strip() for v in whatsapp_template["variables"]):
        return _skip(step, "missing_variable", missing=sorted(set(missing)))      # the fallback text is empty too: nothing to fill in
    text = rendered.get("text") if channel == "email" else rendered.get("message")
    if channel == "email" and rendered.get("html") and tracks_opens(step.journey.settings) and step.batch.public_url:
        # At queue time, so the outbox row keeps the HTML as sent (links through the public URL, the pixel).
        rendered["html"] = track_html(rendered["html"], public_url=step.batch.public_url,
                                      key=message_key(run.id, step.node.id), secret=step.batch.tracking_secret())
    step.batch.queue_message(dict(
        idempotency_key=idempotency_key, run_id=run.id, journey_id=run.journey_id,
        node_id=step.node.id, contact_id=contact.id, channel=channel, recipient=address,
        sender=(config.get("sender") or None) if channel == "email" else None,   # a left-over From of an email
        subject=rendered.get("subject"), body_text=text,
        body_html=rendered.get("html"), status="queued", scheduled_at=step.at, created_at=step.at,
        sent_at=None, delivered_at=None, opened_at=None, clicked_at=None, replied_at=None, failed_at=None,
        unsubscribed_at=None, error=None, whatsapp_template=whatsapp_template))
    step.batch.log(run, step.node.id, "sent", step.at)   # channel, subject and text are in the outbox row
    run.state["last_message"] = step.node.id
    return Next()
