"""A small world for engine scenarios: a SQLite file under tmp_path, a virtual clock, the recording channel."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.importers import import_contacts, parse_contacts
from app.engine.ingest import EventIn, Ingested
from app.engine.outbox import RecordingChannel
from app.engine.simulator import install_journey
from app.journey.model import Journey
from app.journey.schema import parse_datetime
from app.store.tables import messages, run_log, runs

START = "2026-03-02T09:00:00Z"


def t(text: str) -> datetime:
    return parse_datetime(text)


@dataclass
class World:
    db: Engine
    clock: VirtualClock
    channel: RecordingChannel
    engine: JourneyEngine

    def install(self, journey: Journey) -> str:
        return install_journey(self.db, journey, self.clock.now())

    def contacts(self, csv_text: str) -> None:
        rows, problems = parse_contacts(csv_text)
        assert not problems, problems
        import_contacts(self.db, rows, self.clock.now())

    def advance_to(self, when: str | datetime) -> None:
        """Runs everything due up to `when` (each at its own time), then the scan and the outbox."""
        target = t(when) if isinstance(when, str) else when
        self.clock.set(target)
        self.engine.tick(target)
        self.engine.scan()
        self.engine.tick(target)
        self.engine.hand_off()

    def event(self, contact: str, kind: str, at: str, event_id: str | None = None, **properties: Any) -> Ingested:
        """Delivers one event at its time (after everything due before it); returns what ingesting it did."""
        when = t(at)
        self.advance_to(when - timedelta(microseconds=1))
        self.clock.set(when)
        done = self.engine.ingest([EventIn(contact, kind, when, properties, event_id)])
        self.engine.hand_off()
        return done

    def log(self, contact: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
        query = select(run_log).order_by(run_log.c.at, run_log.c.id)
        if contact:
            query = query.where(run_log.c.contact_id == contact)
        if action:
            query = query.where(run_log.c.action == action)
        with self.db.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def messages(self, contact: str | None = None) -> list[dict[str, Any]]:
        query = select(messages).order_by(messages.c.created_at, messages.c.id)
        if contact:
            query = query.where(messages.c.contact_id == contact)
        with self.db.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def sent(self, contact: str | None = None) -> list[dict[str, Any]]:
        """Messages that went out (whatever feedback came back since)."""
        return [m for m in self.messages(contact) if m["sent_at"] is not None]

    def runs(self, contact: str | None = None) -> list[dict[str, Any]]:
        query = select(runs).order_by(runs.c.id)
        if contact:
            query = query.where(runs.c.contact_id == contact)
        with self.db.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def send_node(journey: Journey, channel: str = "email", subject: str = "Hello {{ contact.first_name }}",
              **config: Any):
    base: dict[str, Any] = {"channel": channel, "sender": "Shop <shop@example.com>"}
    if channel == "email":
        base.update(subject=subject, text="Hi {{ contact.first_name }}", html="")
    else:
        base.update(message=subject)
    if channel == "whatsapp":     # an approved template, as WhatsApp needs outside the 24-hour window
        base.update(wa_template="cart_reminder", wa_variables=[{"value": subject}])
    base.update(config)
    return journey.add_node("send_template", base)


def chain(journey: Journey, *nodes) -> None:
    for a, b in zip(nodes, nodes[1:]):
        journey.connect(a.id, b.id)


def simple_journey(name: str = "Test journey", event: str = "cart_abandoned", **settings: Any) -> Journey:
    """A journey with quiet hours off (tests opt in) and the given settings merged over the defaults."""
    journey = Journey(name=name)
    journey.settings["quiet_hours"]["enabled"] = False
    for key, value in settings.items():
        if isinstance(value, dict) and isinstance(journey.settings.get(key), dict):
            journey.settings[key].update(value)
        else:
            journey.settings[key] = value
    journey.add_node("trigger", {"mode": "event", "event": event})
    return journey


# Everyone agreed to texts (SMS and WhatsApp need recorded consent); bob opted out of email.
CONTACTS = """id,email,phone,first_name,last_name,timezone,tags,unsubscribed,subscribed,city
ann,ann@example.com,+15550001,Ann,Lee,Europe/London,newsletter,,sms;whatsapp,London
bob,bob@example.com,+15550002,Bob,Ray,America/New_York,,email,sms;whatsapp,Boston
cho,cho@example.com,+15550003,Cho,Kim,Asia/Tokyo,vip,,sms;whatsapp,Tokyo
"""


def run_cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """`journeys ARGS…` in this process: (exit code, stdout, stderr)."""
    from app.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err
