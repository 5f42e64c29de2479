"""A send step's message as one contact would get it: the preview of the desktop app (no Qt here).

Three parts, so the app can load once and render on every keystroke:

- `trigger_event_type`, `contact_events`: which trigger event a preview renders with — the contact's own
  events of the trigger's type (newest first), else a plausible sample one (app/engine/samples.py). A
  spend trigger's messages read the order that crossed the threshold (the contact's latest order, or a
  sample one); a journey started by time (no order for N days, anniversary, manual) renders with no
  event, as the engine does.
- `load_subject(db, …)`: reads the contact, the event, the contact's time zone and the unsubscribe-link
  settings from the store (a few short reads) into a `PreviewSubject`.
- `render_preview(step, subject)`: renders through the engine's own renderer
  (app/engine/message_render.py), with no database, into a `Preview`: the fields, the From, the
  recipient, each missing value with what the step's policy does about it, a template error with its
  field, and for SMS the segment count (app/journey/sms.py). A fresh template cache each time (the draft
  changes between renders; compiling a normal email takes a few milliseconds).

What a preview shows equals what the engine queues for the same contact and event (tests compare it
with the outbox row); the engine alone adds open tracking to the HTML when a public URL is set, and its
unsubscribe link is signed with the run's message key instead of the preview's.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.delivery.settings import load_settings
from app.delivery.unsubscribe import links_for
from app.journey.event_properties import trigger_event_type as event_type_of
from app.journey.model import Journey
from app.journey.node_kinds import EVENT_LABELS, TERM_LABELS, WA_TEXT
from app.journey.settings import allows_unknown, journey_timezone
from app.journey.sms import SmsCount, count_sms
from app.store.app_settings import business_timezone
from app.store.tables import events

from .consent import SUBSCRIBED, UNSUBSCRIBED, allowed, channel_name
from .context import ContactView, load_contacts
from .message_render import WHATSAPP_VARIABLE, message_context, render_message
from .samples import SAMPLE_CONTACT, SAMPLE_ID, sample_event
from .templating import TemplateCache
from .timeutil import contact_zone

MARK_START, MARK_END = "\ue000", "\ue001"     # private-use characters around each missing value's fallback
_MARKED = re.compile(f"{MARK_START}(.*?){MARK_END}", re.S)
SAMPLE_EVENT_ID = -1        # the `event_id` that asks for the sample event even when the contact has its own


class PreviewRefused(ValueError):
    """No preview: the contact or the event asked for is not in the store. The text says which."""


@dataclass(frozen=True)
class PreviewEvent:
    """The trigger event a preview renders with: its properties, words for people ("their cart abandoned
    event of 2026-03-01 10:00 GMT", "a sample cart", "no event"), and its stored id (None: a sample or none)."""

    properties: dict[str, Any]
    words: str
    event_id: int | None = None
    occurred_at: datetime | None = None

    @property
    def sample(self) -> bool:
        return self.event_id is None and bool(self.properties)


@dataclass(frozen=True)
class StepSnapshot:
    """What a render needs of the journey and its send step, copied off the live model (the app renders on
    a worker thread while the user edits): ids, names, the step's config, and the journey's own zone."""

    journey_id: str
    journey_name: str
    journey_description: str
    journey_zone: str          # the journey's time zone ("" = the business's)
    step_id: str
    step_title: str
    config: dict[str, Any]
    allow_unknown: bool = True  # the journey sends on this step's channel to contacts never asked for consent

    @classmethod
    def of(cls, journey: Journey, step_id: str) -> "StepSnapshot":
        """Raises KeyError when `step_id` is no send step of `journey`."""
        step = journey.nodes[step_id]
        if step.kind != "send_template":
            raise KeyError(step_id)
        zone = journey_timezone(journey.settings, ((n.kind, n.config) for n in journey.nodes.values()))
        return cls(journey.id, journey.name, journey.description, zone, step.id, step.title,
                   copy.deepcopy(step.config), allows_unknown(journey.settings, str(step.config.get("channel"))))


@dataclass(frozen=True)
class PreviewSubject:
    """Whom and with what a message is previewed: the contact (`SAMPLE_CONTACT` when none is chosen),
    words for them, the event, the contact's zone and the message's unsubscribe link."""

    contact: ContactView
    contact_words: str
    event: PreviewEvent
    zone: ZoneInfo
    unsubscribe_url: str
    default_sender: str = ""       # the email channel's From for a step that names none ("" when unset)

    @property
    def sample(self) -> bool:
        return self.contact.id == SAMPLE_ID


@dataclass(frozen=True)
class MissingValue:
    """A value the contact or event lacks (`contact.first_name`, `event.coupon`, `WhatsApp variable 2`)
    and what the step does about it, in words."""

    name: str
    outcome: str


SENT, SKIPPED, FAILED = "sent", "skipped", "failed"


@dataclass(frozen=True)
class Preview:
    """One send step's message for one contact: `fields` exactly as the engine renders them (subject, html,
    text for email; message for SMS and WhatsApp text; the variables of an approved WhatsApp template),
    `marked` the same with each missing value's printed fallback between MARK_START and MARK_END (for
    highlighting), the step's From (`sender`; None: the channel's `default_sender` goes), the contact's
    address (`recipient`, None when they have none), what was missing, what the step does (`outcome`: sent, skipped or failed, with `outcome_words`), the first
    template error as (field, text), `sms` for an SMS, `whatsapp_template` ({"name", "language",
    "variables"}) for an approved template, and `notes` (opt-out, no address) about this contact."""

    channel: str
    step_title: str
    sender: str | None
    recipient: str | None
    fields: dict[str, str]
    marked: dict[str, str]
    missing: tuple[MissingValue, ...]
    policy: str
    outcome: str
    outcome_words: str
    contact_words: str
    event_words: str
    error: tuple[str, str] | None = None
    sms: SmsCount | None = None
    whatsapp_template: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    default_sender: str | None = None     # an email step without a From goes from this (Settings → Channels)

    @property
    def subject(self) -> str | None:
        return self.fields.get("subject")

    @property
    def html(self) -> str | None:
        return self.fields.get("html")

    @property
    def text(self) -> str | None:
        return self.fields.get("text") if self.channel == "email" else self.fields.get("message")


# --- choosing the event ---------------------------------------------------------------------------

def trigger_event_type(journey: Journey) -> str | None:
    """The type of the event `journey`'s messages read as `event`: its trigger's event, "order_placed" for
    a spend trigger (the engine enters with the order that crossed the threshold); None for a journey
    started by time or by hand (no event). The one rule of app/journey/event_properties.py."""
    trigger = journey.trigger()
    return event_type_of(trigger.config if trigger is not None else None)


def no_event() -> PreviewEvent:
    return PreviewEvent({}, "no event (this journey starts by time or by hand, not with an event)")


def event_words(event_type: str, occurred_at: datetime, zone: ZoneInfo | None = None) -> str:
    """"their cart abandoned event of 2026-03-02 10:00 GMT": the event in words (its label, not its key),
    at its time in `zone` (the contact's; UTC when not given) with the zone's abbreviation."""
    label = EVENT_LABELS.get(event_type, event_type.replace("_", " ")).lower()
    local = occurred_at.astimezone(zone or timezone.utc)
    return f"their {label} event of {local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def contact_events(db: Engine, contact_id: str | None, event_type: str | None, limit: int = 20,
                   zone: ZoneInfo | None = None) -> list[PreviewEvent]:
    """The events a preview may render with, the default first: the contact's own events of `event_type`
    (newest first, at most `limit`; their times in `zone`), then the sample one. With no `event_type` (a
    journey started by time), only "no event"."""
    if event_type is None:
        return [no_event()]
    found: list[PreviewEvent] = []
    if contact_id and contact_id != SAMPLE_ID:
        with db.connect() as conn:
            rows = conn.execute(select(events.c.id, events.c.properties, events.c.occurred_at).where(
                events.c.contact_id == contact_id, events.c.type == event_type)
                .order_by(events.c.occurred_at.desc(), events.c.id.desc()).limit(limit)).all()
        found = [PreviewEvent(dict(r.properties or {}), event_words(event_type, r.occurred_at, zone), r.id,
                              r.occurred_at) for r in rows]
    properties, words = sample_event(event_type)
    return [*found, PreviewEvent(properties, words)]


def choose_event(db: Engine, contact_id: str | None, event_type: str | None,
                 event_id: int | None = None, zone: ZoneInfo | None = None) -> PreviewEvent:
    """The event to render with: the stored event `event_id` (it must be the contact's, of the type),
    SAMPLE_EVENT_ID for the sample, else the default (the contact's latest, else the sample).
    Raises PreviewRefused for an event id that is not one of the contact's."""
    if event_type is None:
        return no_event()
    if event_id == SAMPLE_EVENT_ID:
        properties, words = sample_event(event_type)
        return PreviewEvent(properties, words)
    if event_id is None:
        return contact_events(db, contact_id, event_type, limit=1, zone=zone)[0]
    with db.connect() as conn:
        row = conn.execute(select(events.c.properties, events.c.occurred_at).where(
            events.c.id == event_id, events.c.contact_id == contact_id, events.c.type == event_type)).first()
    if row is None:
        raise PreviewRefused(f"event {event_id} is no {event_type} event of contact {contact_id}")
    return PreviewEvent(dict(row.properties or {}), event_words(event_type, row.occurred_at, zone), event_id,
                        row.occurred_at)


def load_subject(db: Engine, step: StepSnapshot, event_type: str | None, contact_id: str | None = None,
                 event_id: int | None = None) -> PreviewSubject:
    """Reads what a preview of `step` for `contact_id` (None or "sample": the sample contact) needs from the
    store: the contact, the event (see `choose_event`), the zone (the contact's, else the journey's, else
    the business's: the engine's rule) and the unsubscribe link. Raises PreviewRefused for an unknown contact."""
    if not contact_id or contact_id == SAMPLE_ID:
        contact, words = SAMPLE_CONTACT, "the sample contact"
    else:
        with db.connect() as conn:
            found = load_contacts(conn, [contact_id]).get(contact_id)
        if found is None:
            raise PreviewRefused(f"no contact with id {contact_id!r}")
        contact = found
        name = " ".join(p for p in (found.fields.get("first_name"), found.fields.get("last_name")) if p)
        words = f"{name} ({found.id})" if name else f"contact {found.id}"
    with db.connect() as conn:
        business = business_timezone(conn)
    zone = contact_zone(contact.timezone, step.journey_zone, business)
    event = choose_event(db, contact.id, event_type, event_id, zone)
    unsubscribe = links_for(db).url(f"preview:{step.step_id}")
    return PreviewSubject(contact, words, event, zone, unsubscribe, load_settings(db).email.sender.strip())


# --- rendering -------------------------------------------------------------------------------------

def _outcome_of_missing(policy: str, fallback: str, channel: str) -> str:
    if policy == "skip":
        return "the step skips this contact's message: nothing is sent"
    if policy == "fail":
        return "the contact's run stops as failed: nothing is sent"
    if not fallback.strip():
        return "printed as nothing (the fallback text is empty)" + (
            "; an empty WhatsApp variable skips the message" if channel == "whatsapp" else "")
    return f"printed as the fallback text “{fallback}”"


_CHANNEL_WORDS = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}


def _notes(channel: str, contact: ContactView, allow_unknown: bool) -> tuple[str, ...]:
    """Why the engine would send this contact nothing from the step, in its order (app/engine/sending.py):
    an opt-out, no address, no recorded consent where the journey needs it."""
    notes = []
    words = _CHANNEL_WORDS.get(channel, channel)
    refused = allowed(contact.consent_state(channel), allow_unknown)
    if refused == "unsubscribed":
        notes.append(f"This contact opted out of {words}: the journey never sends them this message.")
    if not contact.address(channel):
        notes.append(f"This contact has no {'email address' if channel == 'email' else 'phone number'}: "
                     "the journey skips this message for them.")
    elif refused == "no_consent":
        notes.append(f"This contact never agreed to {words} messages and this journey sends only to those who "
                     f"did (its consent settings): the journey skips this message for them.")
    return tuple(notes)


def _unmatched(config: dict[str, Any], contact: ContactView) -> str | None:
    """A note when the step sends only to contacts who match terms and this contact fails one of those
    that depend on the contact alone (tags, consent), as app/engine/sending.py judges them; the terms
    about the previous message (opened, clicked) depend on the run and are not judged here."""
    if config.get("recipients") != "matching":
        return None
    for term in config.get("terms") or []:
        kind, value = term.get("term"), str(term.get("value") or "")
        label = TERM_LABELS.get(str(kind), str(kind)).lower()
        if kind == "has_tag":
            holds = value in contact.tags
        elif kind == "lacks_tag":
            holds = value not in contact.tags
        elif kind in ("subscribed_to", "unsubscribed_from"):
            state = contact.consent_state(str(channel_name(value)))
            holds = state == (SUBSCRIBED if kind == "subscribed_to" else UNSUBSCRIBED)
        else:
            continue
        if not holds:
            return (f"This step sends only to contacts who match its terms, and this contact does not "
                    f"({label}: {value}): the step skips them.")
    return None


def render_preview(step: StepSnapshot, subject: PreviewSubject) -> Preview:
    """`step`'s message for `subject`, as the engine renders it (see the module's docstring). Never
    raises: a template error comes back in `Preview.error`, and the outcome is then "failed"."""
    config = step.config
    channel = str(config.get("channel", "email"))
    policy = str(config.get("missing", "fallback"))
    fallback = str(config.get("fallback", "")) if policy == "fallback" else ""
    templates = TemplateCache()
    values = message_context(templates, subject.contact.template_data(), subject.event.properties, subject.zone,
                             step.journey_name, step.journey_description, unsubscribe_url=subject.unsubscribe_url)
    key = (step.journey_id, 0, step.step_id)
    message = render_message(templates, config, values, key)
    marked = dict(message.fields)
    if message.missing and not message.error:
        # The same render with the fallback between marks, so the app can highlight where each value was.
        shown = {**config, "missing": "fallback", "fallback": f"{MARK_START}{fallback}{MARK_END}"}
        shown_fields = render_message(TemplateCache(), shown, values, key).fields
        marked = {name: _align(text, shown_fields.get(name, "")) for name, text in message.fields.items()}
    missing = tuple(MissingValue(name, _outcome_of_missing(policy, fallback, channel)) for name in message.missing)
    template = message.whatsapp_template
    if message.error:
        outcome, words = FAILED, f"the {message.error[0]} cannot be rendered: the contact's run stops as failed"
    elif message.refused:
        outcome = SKIPPED if policy == "skip" else FAILED
        words = missing[0].outcome
    elif template is not None and any(not v.strip() for v in template["variables"]):
        outcome, words = SKIPPED, "a WhatsApp variable prints nothing: the step skips this contact's message"
    else:
        outcome, words = SENT, "the message goes out as shown"
    unmatched = _unmatched(config, subject.contact)      # judged first by the engine
    notes = ((unmatched,) if unmatched else ()) + _notes(channel, subject.contact, step.allow_unknown)
    if notes:       # the engine judges consent and the address before it renders: it skips, whatever the text
        outcome, words = SKIPPED, "the journey skips this message for this contact (see the note)"
    elif channel == "whatsapp" and config.get("wa_mode") == WA_TEXT:
        # Judged when the message would go (app/engine/sending.py), so said as a condition, not an outcome.
        notes = ("Free WhatsApp text goes out only if this contact wrote to you on WhatsApp in the 24 hours "
                 "before the step; otherwise the step skips them (an approved template reaches everyone).",)
    sms = count_sms(message.fields.get("message", "")) if channel == "sms" and not message.error else None
    return Preview(
        channel=channel, step_title=step.step_title,
        sender=(str(config.get("sender") or "") or None) if channel == "email" else None,
        recipient=subject.contact.address(channel), fields=dict(message.fields), marked=marked,
        missing=missing, policy=policy, outcome=outcome, outcome_words=words, contact_words=subject.contact_words,
        event_words=subject.event.words, error=message.error, sms=sms, whatsapp_template=template,
        notes=notes, default_sender=(subject.default_sender or None) if channel == "email" else None)


def _align(real: str, marked: str) -> str:
    """`marked` with its text taken from `real`: a filter that looks at word starts (`| title`,
    `| capitalize`) sees the marks as letters and changes case differently. When the two differ in more
    than case, the marks are dropped (`real` as it is)."""
    bare = marked.replace(MARK_START, "").replace(MARK_END, "")
    if len(bare) != len(real) or bare.lower() != real.lower():
        return real
    out, i = [], 0
    for char in marked:
        if char in (MARK_START, MARK_END):
            out.append(char)
        else:
            out.append(real[i])
            i += 1
    return "".join(out)


def preview_step(db: Engine, journey: Journey, step_id: str, contact_id: str | None = None,
                 event_id: int | None = None) -> Preview:
    """Loads and renders in one call (the CLI, the tests). Raises KeyError for a step that is no send step
    of `journey`, PreviewRefused for an unknown contact or event."""
    step = StepSnapshot.of(journey, step_id)
    return render_preview(step, load_subject(db, step, trigger_event_type(journey), contact_id, event_id))


def split_marked(text: str) -> list[tuple[str, bool]]:
    """`Preview.marked` text as (piece, missing?) pieces in order, the marks removed: "Hi ", ("friend",
    True), "!" — for highlighting plain text."""
    pieces: list[tuple[str, bool]] = []
    last = 0
    for found in _MARKED.finditer(text):
        if found.start() > last:
            pieces.append((text[last:found.start()], False))
        pieces.append((found.group(1), True))
        last = found.end()
    if last < len(text):
        pieces.append((text[last:], False))
    return [(p.replace(MARK_START, "").replace(MARK_END, ""), m) for p, m in pieces]


def whatsapp_variable_names(config: dict[str, Any]) -> list[str]:
    """"WhatsApp variable 1", … of an approved template's variables, in order (the names in `missing`)."""
    return [f"{WHATSAPP_VARIABLE}{i}" for i, _ in enumerate(config.get("wa_variables") or [], 1)]
