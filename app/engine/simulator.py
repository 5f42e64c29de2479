"""The dry-run simulator: the real engine on a virtual clock, the recording channel, no network.

Time jumps straight to whatever happens next: the next event, the next due
run, or the next time-based trigger. Events are ingested in large chunks (ingest
first advances each contact's own runs that fell due before the event); then
every run due before the next event is advanced in batches, each at its own
due time. Runs of different contacts never interact, so this keeps each
contact's sequence exact while the database sees a few large transactions.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.journey.fileformat import to_document
from app.journey.model import Journey
from app.store.app_settings import business_timezone, set_business_timezone
from app.store.db import open_database
from app.store.journeys import JourneyStore
from app.store.tables import messages, run_log

from .clock import VirtualClock
from .engine import JourneyEngine
from .importers import ContactImport, ContactRow, import_contacts_report
from .ingest import EventIn, Ingested
from .outbox import RecordingChannel
from .scan import next_scan_due
from .stats import JourneyStats, journey_stats
from .timeutil import iso

MAX_SPAN = timedelta(days=365)
_TICK = timedelta(microseconds=1)
EVENT_CHUNK = 20_000
# The simulator owns its database and hands messages to the in-memory recording channel, so nothing
# waits on its transactions: it takes bigger batches than the live engine (whose hand-off holds the
# write lock while a real channel sends). Fewer, larger transactions: fewer WAL checkpoints.
SIM_BATCH = 20_000
SIM_HAND_OFF_BATCH = 20_000


@dataclass
class Simulation:
    journey_id: str
    started: datetime
    ended: datetime
    stats: JourneyStats
    activity: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    business_timezone: str = ""      # the zone of contacts without one ("" = not set: UTC)
    # What the run added to its database: re-running on the same database (--db) adds nothing twice.
    contacts: ContactImport = field(default_factory=lambda: ContactImport(0))
    events: Ingested = field(default_factory=Ingested)
    version: int = 0                 # the journey's version the contacts entered
    published: bool = False          # whether this run published it (False: the stored one was the same)
    dead: list[tuple[Any, str]] = field(default_factory=list)   # events that could not be applied, and why


def install_journey(db: Engine, journey: Journey, now: datetime) -> str:
    """Stores the journey (replacing a draft with the same id or name), publishes and activates it
    through the engine's gate, judged at `now`: raises JourneyNotReady (the draft stays stored, as
    a draft) when it has errors. A journey stored exactly so is not written again, and publishes
    no new version."""
    store = JourneyStore(db, now=lambda: now)
    document = to_document(journey)
    existing = store.get(journey.id) or store.find(journey.name)
    if existing:
        document["id"] = existing.id
        name = document.get("name")
        stored_form = {**document, "name": name.strip() if isinstance(name, str) else name}   # as save_draft keeps it
        if store.load_draft(existing.id) != stored_form:
            store.save_draft(existing.id, document)
    else:
        existing = store.create(document)
    JourneyEngine(db, VirtualClock(now)).activate(existing.id)
    return existing.id


def simulate(journey: Journey, contact_rows: list[ContactRow], events: list[EventIn], *, db_url: str | None = None,
             start: datetime | None = None, until: datetime | None = None, keep_log: bool = True,
             timezone_name: str | None = None, contacts_source: str = "contacts file") -> Simulation:
    """Runs `journey` on a virtual clock. The business's time zone is the database's own (a temporary
    database has none: UTC), or `timezone_name` when given (stored in that database first; raises
    StoreError when it is not an IANA zone); `contacts_source` names the contacts file in consent history."""
    events = sorted(events, key=lambda e: e.at)
    begin = start or (events[0].at if events else datetime.now(timezone.utc).replace(microsecond=0))
    end = until or begin + MAX_SPAN
    events = [e for e in events if begin <= e.at <= end]
    with tempfile.TemporaryDirectory(prefix="journeys-sim-") as folder:
        db = open_database(db_url or str(Path(folder) / "simulation.sqlite3"))
        try:
            if timezone_name:
                set_business_timezone(db, timezone_name)
            result = _run(db, journey, contact_rows, events, begin, end, keep_log, contacts_source)
            result.business_timezone = business_timezone(db) or ""
            return result
        finally:
            db.dispose()


def _run(db: Engine, journey: Journey, contact_rows: list[ContactRow], events: list[EventIn],
         begin: datetime, end: datetime, keep_log: bool, contacts_source: str = "contacts file") -> Simulation:
    clock = VirtualClock(begin)
    channel = RecordingChannel()
    engine = JourneyEngine(db, clock, channel, batch_size=SIM_BATCH)
    contacts_done = import_contacts_report(db, contact_rows, begin, contacts_source)
    store = JourneyStore(db)
    before = store.get(journey.id) or store.find(journey.name)
    journey_id = install_journey(db, journey, begin)
    installed = store.get(journey_id)
    version = installed.published_version or 0 if installed is not None else 0
    loop = VirtualLoop(engine, clock, events)
    loop.run(end)
    events_done, dead = loop.ingested, loop.dead
    with db.connect() as conn:     # the time of the last thing that happened, not the horizon
        ended = conn.execute(select(func.max(run_log.c.at))).scalar() or begin
    result = Simulation(journey_id, begin, ended, journey_stats(db, journey_id), steps=engine.steps,
                        sent=channel.sent, contacts=contacts_done, events=events_done, version=version, dead=dead,
                        published=before is None or before.published_version != version)
    if keep_log:
        result.activity = activity_log(db, journey, journey_id)
    return result


class VirtualLoop:
    """The simulator's loop: time jumps to whatever happens next (the next event, the next due run,
    the next time-based scan) and the engine does it at its own virtual time.

    `run(end, stop=...)` may stop early (after any round, when `stop()` says so) and be called again,
    after `add` puts more events ahead (the test run injects a contact's scripted actions once it
    knows when the message they answer was sent). `chunk` events are ingested at a time (the test run
    takes one, so nothing runs ahead of an action not known yet); `scans=False` leaves the time-based
    triggers out (the test run enters its one contact itself)."""

    def __init__(self, engine: JourneyEngine, clock: VirtualClock, events: list[EventIn], *,
                 chunk: int = EVENT_CHUNK, scans: bool = True, hand_off_batch: int = SIM_HAND_OFF_BATCH) -> None:
        self.engine, self.clock, self.chunk, self.scans = engine, clock, chunk, scans
        self.events = sorted(events, key=lambda e: e.at)
        self.i = 0
        self.hand_off_batch = hand_off_batch
        self.ingested = Ingested()
        self.dead: list[tuple[Any, str]] = []

    def add(self, events: list[EventIn]) -> None:
        """Puts events among those still to come, in time order (after equal times already there)."""
        self.events[self.i:] = sorted(self.events[self.i:] + events, key=lambda e: e.at)

    def run(self, end: datetime, stop: Callable[[], bool] | None = None) -> bool:
        """Runs until nothing is left to do by `end`; returns False when `stop()` ended it early."""
        engine, clock, events = self.engine, self.clock, self.events
        while True:
            n = len(events)
            next_event = events[self.i].at if self.i < n else None
            next_run = engine.stepper.next_due()
            next_scan = _next_scan(engine, clock.now()) if self.scans else None
            upcoming = [t for t in (next_event, next_run, next_scan) if t is not None]
            if not upcoming or min(upcoming) > end:
                return True
            t = max(min(upcoming), clock.now())
            if next_event is not None and next_event <= t:          # events first at equal times
                # A big chunk of events at once: ingest advances each contact's own due runs first.
                i = self.i
                j = i + 1
                while j < n and j - i < self.chunk and (next_scan is None or events[j].at < next_scan):
                    j += 1
                clock.set(events[j - 1].at)
                done = engine.ingest(events[i:j], chunk=EVENT_CHUNK)
                self.dead += done.dead
                self.ingested.stored += done.stored
                self.ingested.duplicates += done.duplicates
                self.ingested.repeated += done.repeated
                self.i = j
            elif next_scan is not None and next_scan <= t:
                clock.set(t)
                engine.scan()
            else:
                # Everything due before the next event or scan can run now, each at its own time.
                horizon = min(x - _TICK for x in (next_event, next_scan, end + _TICK) if x is not None)
                clock.set(horizon)
                engine.tick(horizon)
            engine.hand_off(self.hand_off_batch)
            if stop is not None and stop():
                return False


def _next_scan(engine: JourneyEngine, now: datetime) -> datetime | None:
    with engine.db.connect() as conn:
        found = [t for t in (next_scan_due(conn, j, now) for j in engine.journeys.active(conn)) if t is not None]
    return min(found) if found else None


def activity_log(db: Engine, journey: Journey, journey_id: str) -> list[dict[str, Any]]:
    """The run log as the simulator's JSON lines, ordered by time; a `sent` line carries the message's
    `message_id`, `channel`, `subject` and `text`, and a WhatsApp template message its `template`
    ({"name", "language", "variables"}, rendered)."""
    lines = []
    with db.connect() as conn:
        sent = {(m.run_id, m.node_id): m for m in conn.execute(
            select(messages.c.run_id, messages.c.node_id, messages.c.id, messages.c.channel, messages.c.subject,
                   messages.c.body_text, messages.c.whatsapp_template)
            .where(messages.c.journey_id == journey_id))}
        query = select(run_log).where(run_log.c.journey_id == journey_id).order_by(run_log.c.at, run_log.c.id)
        for row in conn.execute(query):
            m = row._mapping
            node = journey.nodes.get(m["node_id"]) if m["node_id"] else None
            line: dict[str, Any] = {"at": iso(m["at"]), "contact": m["contact_id"], "journey": journey.name,
                                    "node": m["node_id"], "kind": node.kind if node else None,
                                    "action": m["action"]}
            detail = m["detail"] or {}
            if m["action"] == "sent":
                message = sent.get((m["run_id"], m["node_id"]))
                # The id feedback events name the message by (`properties.message_id`).
                line.update(message_id=message.id if message else None,
                            channel=message.channel if message else None,
                            subject=message.subject if message else None,
                            text=message.body_text if message else None)
                if message is not None and message.whatsapp_template:
                    line["template"] = message.whatsapp_template
            if m["outcome"]:
                line["outcome"] = m["outcome"]
            if m["reason"] or m["action"] in ("skipped", "deferred", "exited"):
                line["reason"] = m["reason"]
            if m["action"] in ("deferred", "waited") and "until" in detail:
                line["until"] = detail["until"]
            if m["revenue"] is not None and m["action"] == "converted":
                line["revenue"] = float(m["revenue"])
            lines.append(line)
    return lines
