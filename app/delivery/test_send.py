"""A test send: one step's message, rendered for a chosen contact (or a sample one), sent at once to an
address the user types, through the real channel.

It is no journey message: no outbox row, nothing counted in the statistics, no quiet hours, no
frequency cap, no consent check (it goes to the user's own address, not the contact's). The subject
(email) or the text (SMS, WhatsApp) starts with "[TEST] " and `Outgoing.test` is set.

`prepare_test(db, journey, step, to, contact_id)` renders and checks (raises SendTestRefused with a
sentence); `send_prepared(settings, prepared)` sends (raises the channel's DeliveryFailure). Rendering
uses the engine's own (app/engine/message_render.py), so the test shows what the journey sends.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from app.engine.context import ContactView, load_contacts
from app.engine.message_render import RenderedMessage, message_context, render_message
from app.engine.preview import PreviewEvent, choose_event, trigger_event_type
from app.engine.samples import SAMPLE_CONTACT, SAMPLE_ID, sample_event
from app.engine.templating import TemplateCache
from app.engine.timeutil import contact_zone
from app.journey.model import Journey, Node
from app.journey.settings import journey_timezone
from app.store.app_settings import business_timezone, get_setting, set_setting

from .addresses import email_address, phone_number
from .base import Channel, Outgoing, Sent
from .settings import DeliverySettings
from .unsubscribe import links_for

TEST_MARK = "[TEST]"


class SendTestRefused(ValueError):
    """A test that cannot be sent: a bad address, no such step or contact, a template error, or missing
    values the step's policy would not send with. The text says what and what to do."""


@dataclass(frozen=True)
class PreparedTest:
    """A rendered test message ready to go: `outgoing` as the channel gets it, for whom it was rendered
    (`contact`: "contact c001" or "the sample contact"), from which event (`event`), and what was missing."""

    outgoing: Outgoing
    step_title: str
    contact: str
    event: str
    missing: tuple[str, ...]


def send_steps(journey: Journey) -> list[Node]:
    return [n for n in journey.nodes.values() if n.kind == "send_template"]


def find_step(journey: Journey, ref: str) -> Node:
    """The send step `ref` names: its id, or its title (any case). Raises SendTestRefused listing the
    journey's send steps."""
    steps = send_steps(journey)
    found = journey.nodes.get(ref) or next((n for n in steps if n.title.strip().lower() == ref.strip().lower()), None)
    if found is not None and found.kind == "send_template":
        return found
    listed = "; ".join(f"{n.id} ({n.title})" for n in steps) or "it has none"
    what = f"{found.title!r} is not a send step" if found is not None else f"no step {ref!r} in {journey.name!r}"
    raise SendTestRefused(f"{what}; its send steps: {listed}")


def check_recipient(channel: str, to: str) -> str:
    """The test's address for `channel`: an email address for email, an E.164 phone number for SMS and
    WhatsApp. Raises SendTestRefused saying what to type."""
    try:
        return email_address(to) if channel == "email" else phone_number(to)
    except ValueError as exc:
        kind = "an email address" if channel == "email" else "a phone number in international form"
        raise SendTestRefused(f"--to: this {channel_word(channel)} step needs {kind}: {exc}") from None


def channel_word(channel: str) -> str:
    return {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}.get(channel, channel)


def _contact(db: Engine, contact_id: str | None) -> ContactView:
    if not contact_id:
        return SAMPLE_CONTACT
    with db.connect() as conn:
        found = load_contacts(conn, [contact_id]).get(contact_id)
    if found is None:
        raise SendTestRefused(f"no contact with id {contact_id!r}; leave it out to use the sample contact")
    return found


def _event(db: Engine, journey: Journey, contact: ContactView) -> tuple[dict[str, Any], str]:
    """The contact's latest event of the journey's trigger type, else a sample one (the preview's rule)."""
    event_type = trigger_event_type(journey)
    chosen = choose_event(db, contact.id, event_type) if event_type else PreviewEvent(*sample_event(None))
    return chosen.properties, chosen.words


def render_for(db: Engine, journey: Journey, step: Node, contact: ContactView,
               event: dict[str, Any], key: str = "test:preview") -> RenderedMessage:
    """`step`'s message for `contact` and `event` as the engine renders it (no run): in the contact's
    zone (else the journey's, else the business's), with a fresh template cache (a draft's templates
    change between tests). `key` is the message's idempotency key: `{{ unsubscribe_url }}` is signed with it."""
    templates = TemplateCache()
    context = message_context(templates, contact.template_data(), event, _zone(db, journey, contact), journey.name,
                              journey.description, unsubscribe_url=links_for(db).url(key))
    return render_message(templates, step.config, context, (journey.id, 0, step.id))


def _zone(db: Engine, journey: Journey, contact: ContactView) -> ZoneInfo:
    nodes = ((n.kind, n.config) for n in journey.nodes.values())
    return contact_zone(contact.timezone, journey_timezone(journey.settings, nodes), business_timezone(db))


def _marked(text: str | None) -> str:
    text = text or ""
    return text if text.startswith(TEST_MARK) else f"{TEST_MARK} {text}".rstrip()


def prepare_test(db: Engine, journey: Journey, step_ref: str, to: str, contact_id: str | None = None) -> PreparedTest:
    """Renders `step_ref`'s message of `journey` (a draft is fine) for contact `contact_id` (None: the
    sample contact) and addresses it to `to`. Raises SendTestRefused for a bad address, an unknown step or
    contact, a template error, or missing values when the step's policy is to skip or fail."""
    step = find_step(journey, step_ref)
    channel = step.config["channel"]
    recipient = check_recipient(channel, to)
    contact = _contact(db, contact_id)
    event, event_words = _event(db, journey, contact)
    key = f"test:{uuid.uuid4()}"
    message = render_for(db, journey, step, contact, event, key)
    who = "the sample contact" if contact.id == SAMPLE_ID else f"contact {contact.id}"
    if message.error:
        field, error = message.error
        raise SendTestRefused(f"{step.title}: the {field} cannot be rendered for {who}: {error}")
    if message.refused:
        action = "skips the message" if message.policy == "skip" else "stops the contact's run"
        raise SendTestRefused(f"{step.title}: for {who}, {', '.join(message.missing)} "
                              f"{'is' if len(message.missing) == 1 else 'are'} missing, and the step {action} "
                              "then (If a variable is missing); nothing was sent. Choose another contact or "
                              "give the step a fallback text.")
    template = message.whatsapp_template     # an approved WhatsApp template, its variables rendered
    if template is not None and any(not v.strip() for v in template["variables"]):
        raise SendTestRefused(f"{step.title}: for {who}, a WhatsApp template variable prints nothing and the "
                              "fallback text is empty; nothing was sent. Choose another contact or give the "
                              "step a fallback text.")
    outgoing = Outgoing(
        message_id=0, idempotency_key=key, channel=channel, recipient=recipient,
        sender=(step.config.get("sender") or None) if channel == "email" else None,   # a text goes from the number
        subject=_marked(message.subject) if channel == "email" else None,
        body_text=(message.text if channel == "email" or template is not None else _marked(message.text)) or None,
        body_html=message.html or None,
        whatsapp_template=template,
        test=True)
    return PreparedTest(outgoing, step.title, who, event_words, message.missing)


TEMPLATE_NOTE = ("An approved WhatsApp template goes out exactly as WhatsApp approved it, so it cannot carry "
                 f"{TEST_MARK}.")


def summary(outgoing: Outgoing, width: int = 70) -> str:
    """What a test sends, in one line: “the subject”, “the text” (clipped to `width`), or "the WhatsApp
    template order_update (en_US) with {{1}} = Alex, {{2}} = your cart"."""
    template = outgoing.whatsapp_template
    if template:
        values = ", ".join(f"{{{{{i}}}}} = {_clip(str(v), 30)}" for i, v in enumerate(template.get("variables") or [], 1))
        return (f"the WhatsApp template {template.get('name')} ({template.get('language')})"
                + (f" with {values}" if values else ""))
    return f"“{_clip(outgoing.subject if outgoing.channel == 'email' else outgoing.body_text or '', width)}”"


def _clip(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def send_prepared(settings: DeliverySettings, prepared: PreparedTest,
                  opener: Callable[[DeliverySettings, str], Channel] | None = None) -> Sent:
    """Sends the prepared test now through the real channel (`opener`: app.delivery.channels.open_channel)
    and closes it. Raises the channel's DeliveryFailure (NotConfigured, Transient, Permanent, Uncertain)."""
    if opener is None:
        from .channels import open_channel

        opener = open_channel
    channel = opener(settings, prepared.outgoing.channel)
    try:
        return channel.send(prepared.outgoing)
    finally:
        channel.close()


# --- the address the user tests with, remembered per kind of address ---------------------------------

def _memory_key(channel: str) -> str:
    return "test_send.email" if channel == "email" else "test_send.phone"


def remembered_recipient(db: Engine, channel: str) -> str:
    """The address last used for a test on `channel` ("" when none): email, or the phone for SMS and WhatsApp."""
    with db.connect() as conn:
        return get_setting(conn, _memory_key(channel)) or ""


def remember_recipient(db: Engine, channel: str, to: str) -> None:
    set_setting(db, _memory_key(channel), to)
