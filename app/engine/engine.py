"""The engine facade: the same object runs under the app, the CLI, the simulator and the tests."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Engine as SAEngine

from app.store.journeys import JourneyStore
from app.store.sql import write_transaction
from app.store.tables import runs

from .clock import Clock, SystemClock
from .context import EventCache, JourneyCache
from .ingest import EventIn, Ingested, ingest_batch
from .outbox import Channel, RecordingChannel, hand_off
from .runs import ACTIVE, RUN_COLUMNS, Batch, RunState
from .scan import next_scan_due, scan_journey
from .stepper import BATCH_SIZE, Stepper
from .templating import TemplateCache


class JourneyEngine:
    """Ingest events, advance due runs, scan time-based triggers, hand the outbox to a channel.

    Every method is one or more short transactions on the database, which holds
    all runtime state; an engine object holds only caches (parsed journey
    versions, compiled templates, stored events' properties — all immutable once written), so any
    number can be created and dropped.
    """

    def __init__(self, db: SAEngine, clock: Clock | None = None, channel: Channel | None = None,
                 batch_size: int = BATCH_SIZE) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.channel: Channel = channel or RecordingChannel()
        self.journeys = JourneyCache()
        self.templates = TemplateCache()
        self.events = EventCache()
        self.stepper = Stepper(db, self.clock, self.journeys, self.templates, batch_size, self.events)
        self.batch_size = batch_size
        self.ingest_steps = 0          # node steps taken outside the stepper (ingest, scans)

    def _batch(self, conn) -> Batch:
        return Batch(conn, self.journeys, self.templates, self.events)

    # -- journeys --------------------------------------------------------------

    def activate(self, journey_id: str) -> int:
        """Starts (or resumes) the journey at its current draft, published as a new version when it
        changed since the last one; returns the version new contacts enter. Contacts already inside
        stay on the version they entered with."""
        store = JourneyStore(self.db, now=self.clock.now)
        row = store.get(journey_id)
        version = row.published_version if row else None
        if version is None or store.load_draft(journey_id) != store.load_version(journey_id, version):
            version = store.publish(journey_id)
        store.set_status(journey_id, "active")
        return version

    def pause(self, journey_id: str) -> None:
        """Holds the journey: nobody new enters and nobody inside moves on (exit conditions still
        apply) until it is activated again, when whatever fell due meanwhile goes at once."""
        JourneyStore(self.db, now=self.clock.now).set_status(journey_id, "paused")

    def stop(self, journey_id: str) -> int:
        """Stops the journey and exits every active run (reason journey_stopped); returns how many."""
        JourneyStore(self.db, now=self.clock.now).set_status(journey_id, "stopped")
        now = self.clock.now()
        with write_transaction(self.db) as conn:
            batch = self._batch(conn)
            found = [RunState.from_row(r) for r in conn.execute(select(*RUN_COLUMNS).where(
                runs.c.journey_id == journey_id, runs.c.status == ACTIVE))]
            for run in found:
                batch.finish(run, "exited", now, "journey_stopped")
            batch.flush(now)
        return len(found)

    # -- the three jobs ----------------------------------------------------------

    def ingest(self, items: Iterable[EventIn], chunk: int = 500) -> Ingested:
        """Stores and applies events in transactions of `chunk`; returns how many were stored, how many
        were repeats of stored events (skipped, changing nothing) and how many feedback events matched no
        message. Each transaction commits on its own: after a crash, ingesting the same events again
        skips the committed ones and applies the rest, so every event counts exactly once."""
        pending = list(items)
        total = Ingested()
        for start in range(0, len(pending), chunk):
            with write_transaction(self.db) as conn:
                batch = self._batch(conn)
                done = ingest_batch(batch, pending[start:start + chunk], self.clock.now(), self.clock.virtual)
            self.ingest_steps += done.steps
            total.steps += done.steps
            total.stored += done.stored
            total.duplicates += done.duplicates
            total.unmatched += done.unmatched
        return total

    def tick(self, horizon: datetime | None = None) -> int:
        return self.stepper.tick(horizon)

    def scan(self) -> int:
        now = self.clock.now()
        with write_transaction(self.db) as conn:
            batch = self._batch(conn)
            entered = sum(scan_journey(batch, j, now) for j in self.journeys.active(conn))
            batch.flush(now)
            self.ingest_steps += batch.steps
        return entered

    def hand_off(self, batch_size: int | None = None) -> int:
        if batch_size is None:
            return hand_off(self.db, self.channel, self.clock)
        return hand_off(self.db, self.channel, self.clock, batch_size)

    def run_due(self) -> None:
        """One round of everything, as the scheduler's jobs would do it."""
        self.scan()
        self.tick()
        self.hand_off()

    # -- for the virtual clock -----------------------------------------------------

    def next_wake(self) -> datetime | None:
        """The earliest time at which a run is due or a time-based trigger could fire."""
        times = [self.stepper.next_due()]
        now = self.clock.now()
        with self.db.connect() as conn:
            times += [next_scan_due(conn, j, now) for j in self.journeys.active(conn)]
        found = [t for t in times if t is not None]
        return min(found) if found else None

    @property
    def steps(self) -> int:
        return self.stepper.steps + self.ingest_steps
