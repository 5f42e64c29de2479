"""The test run itself: the simulator's loop for one contact, the script's actions injected in time.

Actions that count from the trigger (an order 3 days later, an opt-out) are events known from the
start. Actions that answer a message ("opens the email 2 hours later") need to know when that
message went: the loop runs one event at a time and stops after any round in which a message the
script answers was sent; the action is then put among the events at its time, naming that message.
Each such action answers the first message on its channel that no earlier action of the same kind
answered: "opened@+1h" twice opens the first email and then the second; "opened@+2h" then
"clicked@+3h" opens and clicks the same email.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.journey.model import Journey
from app.store.app_settings import set_business_timezone
from app.store.errors import StoreError
from app.store.sql import write_transaction
from app.store.tables import messages

from .clock import VirtualClock
from .context import ContactView
from .engine import JourneyEngine
from .entry import enter
from .gate import JourneyNotReady
from .ingest import EventIn
from .outbox import RecordingChannel
from .runs import Batch, active_runs_of
from .samples import sample_event
from .simulator import VirtualLoop, install_journey
from .story import event_words, money
from .templating import TemplateCache
from .timeutil import valid_zone
from .test_run import MESSAGE_ACTIONS, MAX_SPAN, TestContact, TestRun, TestRunError, TestScript, Then
from .test_run_setup import (latest_event_properties, live_business_zone, live_contact, store_contact,
                             throwaway_database)
from .test_run_story import ContactAction, build_story

class _SourceKeyedTemplates(TemplateCache):
    """Compiled templates shared by every test run, keyed by field and source text: each test run's
    journey is version 1 in its own database, so (journey, version, step) would not tell an edited
    template from the one before. Compiling is the costly part of rendering; re-running after
    editing the script compiles nothing again."""

    MAX = 512

    def get(self, key: tuple[str, int, str, str], source: str) -> Any:
        shared = (source, 0, "", key[3])     # the field stays last: it picks HTML escaping and names errors
        if len(self._compiled) > self.MAX:
            self._compiled.clear()
            self._runaway.clear()
        return super().get(shared, source)


_TEMPLATES = _SourceKeyedTemplates()
_CHANNEL_WORDS = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}
# What the contact does to a message, as said before "the email": a delivery is the contact receiving it.
_VERBS = {"opened": "opened", "clicked": "clicked", "replied": "replied to", "delivered": "received"}


class DraftNotReady(TestRunError):
    """The draft has errors the engine's gate refuses (`problems`, as `journeys validate --active` lists them)."""

    def __init__(self, text: str, journey: Journey | None, problems: list[Any]) -> None:
        super().__init__(text)
        self.journey, self.problems = journey, problems


@dataclass
class _Pending:
    index: int
    then: Then
    channel: str


def run_script(journey: Journey, script: TestScript, live_db: Engine | None) -> TestRun:
    """`run_test` without the clock around it. Raises TestRunError (DraftNotReady for a draft with errors)."""
    contact = _contact(script, live_db)
    trigger = journey.trigger()
    if trigger is None:     # an error of the draft, listed as the gate lists the others
        from app.journey.validate import ERROR, validate

        errors = [p for p in validate(journey, now=script.at, active=True) if p.severity == ERROR]
        raise DraftNotReady(f"“{journey.name}” has no trigger: add one to say when contacts start it", journey,
                            errors)
    event_mode = trigger.config.get("mode") == "event"
    if event_mode and trigger.config.get("event") != script.event_type:
        wanted = trigger.config.get("event")
        raise TestRunError(f"“{journey.name}” starts on {event_words(wanted)} ({wanted}), not on "
                           f"{event_words(script.event_type)} ({script.event_type}): test it with {wanted}")
    properties = dict(script.properties) or latest_event_properties(
        live_db, contact.id, script.event_type) or sample_event(script.event_type)[0]
    business = live_business_zone(live_db)
    try:
        with throwaway_database() as db:
            if business:
                set_business_timezone(db, business)
            return _run(db, journey, script, contact, properties, event_mode, business)
    except JourneyNotReady as exc:
        problems = "; ".join(p.message for p in exc.problems[:5])
        more = f" (and {len(exc.problems) - 5} more)" if len(exc.problems) > 5 else ""
        raise DraftNotReady(f"“{journey.name}” cannot run yet: {problems}{more}. Fix "
                            f"{'it' if len(exc.problems) == 1 else 'them'} (see the Problems list) and "
                            "run the test again", exc.journey, list(exc.problems)) from None
    except StoreError as exc:
        raise TestRunError(f"the test run's temporary database failed: {exc}") from None


def _contact(script: TestScript, live_db: Engine | None) -> ContactView:
    if script.live_contact_id:
        try:
            return live_contact(live_db, script.live_contact_id)
        except LookupError as exc:
            raise TestRunError(f"{exc}; choose a contact from the store or describe one") from None
    return described(script.contact)


def described(c: TestContact) -> ContactView:
    """A described test contact as the engine sees contacts."""
    if not c.id.strip():
        raise TestRunError("the test contact needs an id")
    fields = {"id": c.id, "email": c.email or None, "phone": c.phone or None, "first_name": c.first_name or None,
              "last_name": c.last_name or None, "timezone": c.timezone or None, "lifetime_spend": 0.0,
              "order_count": 0, "last_order_at": None}
    if c.timezone and not valid_zone(c.timezone):
        raise TestRunError(f"time zone {c.timezone!r} is not an IANA time zone name such as Europe/Berlin; "
                           "leave it empty for the business's")
    if c.email and ("@" not in c.email or " " in c.email.strip()):
        raise TestRunError(f"email {c.email!r} is not an email address; give one such as emma@example.com, "
                           "or leave it empty")
    return ContactView(c.id, fields, dict(c.attributes), set(c.tags), consent_states(c.consent))


_STRENGTH = {"unknown": 0, "subscribed": 1, "unsubscribed": 2}


def consent_states(consent: dict[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A described contact's consent, channel → subscribed | unsubscribed | unknown, channels named as
    people write them ("E-Mail", "SMS"; "all" is every channel, as `journeys contacts import` reads it).
    When two entries speak of one channel the opt-out wins: a test never loosens an opt-out. Raises
    TestRunError naming a channel or a state that is not one."""
    from .consent import channel_name
    from .context import CHANNELS

    states: dict[str, str] = {}
    for name, state in (consent.items() if isinstance(consent, dict) else consent):
        channel = channel_name(name)
        if channel != "all" and channel not in CHANNELS:
            raise TestRunError(f"consent: {str(name).strip()!r} is not a channel; use email, sms, whatsapp or all")
        said = str(state).strip().lower() if isinstance(state, str) else state
        if said not in _STRENGTH:
            raise TestRunError(f"consent for {channel}: {state!r} is not a state; write subscribed, unsubscribed "
                               "or unknown")
        for one in (CHANNELS if channel == "all" else (channel,)):
            if _STRENGTH[said] >= _STRENGTH[states.get(one, "unknown")]:
                states[one] = said
    return states


def _run(db: Engine, journey: Journey, script: TestScript, contact: ContactView, properties: dict[str, Any],
         event_mode: bool, business: str) -> TestRun:
    at = script.at
    store_contact(db, contact, at)
    journey_id = install_journey(db, journey, at)
    clock = VirtualClock(at)
    engine = JourneyEngine(db, clock, RecordingChannel(), batch_size=100)
    engine.templates = engine.stepper.templates = _TEMPLATES
    actions: list[ContactAction] = []
    fixed: list[EventIn] = []
    if event_mode:
        fixed.append(EventIn(contact.id, script.event_type, at, properties, id="test-run:trigger"))
    trigger = journey.trigger()
    started_by = event_words(script.event_type) if event_mode or trigger is None else trigger.title
    actions.append(ContactAction(at, f"{started_by[:1].upper()}{started_by[1:]} (the trigger)", script.event_type))
    pending: list[_Pending] = []
    end = at + MAX_SPAN
    for index, then in enumerate(script.then):
        if then.action == "nothing":
            continue
        if then.action in MESSAGE_ACTIONS:
            pending.append(_Pending(index, then, then.channel or "email"))
            continue
        when = at + then.after
        end = max(end, when + timedelta(days=1))
        fixed.append(_event(contact.id, then, when, index))
        actions.append(ContactAction(when, _then_words(then), _event_type(then)))
    loop = VirtualLoop(engine, clock, fixed, chunk=1, scans=False, hand_off_batch=100)
    if not event_mode:
        _enter(engine, journey_id, contact.id, at, properties)
    used: dict[str, set[int]] = {}
    answered: list[tuple[_Pending, dict[str, Any]]] = []

    def resolve() -> bool:
        """Puts every pending action whose message has now been sent among the events."""
        if not pending:
            return False
        with db.connect() as conn:
            sent = list(conn.execute(select(messages.c.id, messages.c.channel, messages.c.sent_at, messages.c.subject)
                                     .where(messages.c.contact_id == contact.id, messages.c.sent_at.is_not(None))
                                     .order_by(messages.c.sent_at, messages.c.id)))
        new: list[EventIn] = []
        for p in list(pending):
            taken = used.setdefault(p.then.action, set())
            message = next((m for m in sent if m.channel == p.channel and m.id not in taken), None)
            if message is None:
                continue
            taken.add(message.id)
            pending.remove(p)
            when = message.sent_at + p.then.after
            new.append(EventIn(contact.id, MESSAGE_ACTIONS[p.then.action], when,
                               {"channel": p.channel, "message_id": message.id}, id=f"test-run:{p.index}"))
            answered.append((p, {"at": when, "sent": message.sent_at, "subject": message.subject}))
        if new:
            nonlocal end
            end = max([end] + [e.at + timedelta(days=1) for e in new])
            loop.add(new)
        return bool(new)

    resolve()
    while not loop.run(end, stop=resolve if pending else None):
        pass
    for p, seen in answered:
        actions.append(ContactAction(seen["at"], _answer_words(p, seen), MESSAGE_ACTIONS[p.then.action]))
    for p in pending:       # no (further) message on that channel went: said, not silently dropped
        other = " other" if any(q.channel == p.channel and q.then.action == p.then.action for q, _ in answered) else ""
        actions.append(ContactAction(None, f"Would have {_VERBS[p.then.action]} the {_CHANNEL_WORDS[p.channel]} "
                                     f"{_after_words(p.then.after)} after it was sent, but no{other} "
                                     f"{_CHANNEL_WORDS[p.channel]} was sent", MESSAGE_ACTIONS[p.then.action]))
    return build_story(db, journey, journey_id, contact, actions, business, at, end)


def _enter(engine: JourneyEngine, journey_id: str, contact_id: str, at: datetime, properties: dict[str, Any]) -> None:
    """A journey started by time (no order for N days, a date, a manual send) or by spend: the contact
    enters at the trigger's time, its audience and entry rules judged as the engine judges them."""
    with write_transaction(engine.db) as conn:
        batch = Batch(conn, engine.journeys, engine.templates, engine.events)
        live = next(j for j in engine.journeys.active(conn) if j.id == journey_id)
        mine = active_runs_of(conn, [contact_id]).setdefault(contact_id, [])
        enter(batch, live, batch.contact(contact_id), at, mine, event=properties)
        batch.flush(at)
    engine.hand_off(100)


def _event_type(then: Then) -> str:
    return "order_placed" if then.action == "ordered" else then.action


def _event(contact_id: str, then: Then, when: datetime, index: int) -> EventIn:
    props: dict[str, Any] = {}
    if then.action == "ordered":
        props = {"total": float(then.amount or 0), "order_id": f"TEST-ORDER-{index + 1}"}
    elif then.action == "unsubscribed" and then.channel:
        props = {"channel": then.channel}
    return EventIn(contact_id, _event_type(then), when, props, id=f"test-run:{index}")


def _after_words(after: timedelta) -> str:
    seconds = int(after.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds // 60} minutes" if seconds >= 60 else "at once"


def _then_words(then: Then) -> str:
    later = f", {_after_words(then.after)} after the trigger" if then.after else ", at the trigger"
    if then.action == "ordered":
        return f"Placed an order{' for ' + money(then.amount) if then.amount is not None else ''}{later}"
    if then.action == "unsubscribed":
        where = f"from {_CHANNEL_WORDS.get(then.channel or '', then.channel)}" if then.channel else "from every channel"
        return f"Unsubscribed {where}{later}"
    return f"{event_words(then.action).capitalize()}{later}"


def _answer_words(p: _Pending, seen: dict[str, Any]) -> str:
    what = _CHANNEL_WORDS[p.channel]
    subject = f" “{seen['subject']}”" if seen.get("subject") else ""
    return f"{_VERBS[p.then.action].capitalize()} the {what}{subject}, {_after_words(p.then.after)} after it was sent"
