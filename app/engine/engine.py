"""The engine facade: the same object runs under the app, the CLI, the simulator and the tests."""
from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.engine import Engine as SAEngine

from app.journey.model import Journey
from app.journey.validate import Problem
from app.store.errors import NotFoundError
from app.store.journeys import JourneyStore
from app.store.sql import write_transaction
from app.store.tables import runs

from .clock import Clock, SystemClock
from .context import EventCache, JourneyCache
from .gate import check_document, require_runnable, variable_catalog
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

    def check(self, journey_id: str) -> tuple[Journey | None, list[Problem]]:
        """The journey's draft and every problem it has judged as about to run (errors first): what
        `activate` and `publish` refuse, for the app and the CLI to show. The journey is None when
        the stored draft cannot be read at all (then the one problem says why)."""
        draft = JourneyStore(self.db, now=self.clock.now).load_draft(journey_id)
        return check_document(draft, catalog=variable_catalog(self.db), now=self.clock.now())

    def publish(self, journey_id: str) -> int:
        """Freezes the draft as a new version that new contacts enter from now on (the status is
        unchanged) and returns its number; a draft equal to the last version publishes nothing and
        returns that version. Raises JourneyNotReady, publishing nothing, when the draft has errors."""
        return self._publish(JourneyStore(self.db, now=self.clock.now), journey_id, self._gate())

    def activate(self, journey_id: str) -> int:
        """Starts (or resumes) the journey at its current draft, published as a new version when it
        changed since the last one; returns the version new contacts enter. Contacts already inside
        stay on the version they entered with.

        Raises JourneyNotReady when the draft has errors (no trigger, an email without a sender, a
        date already past…): then nothing is published and the status does not change."""
        store = JourneyStore(self.db, now=self.clock.now)
        version = self._publish(store, journey_id, self._gate())
        store.set_status(journey_id, "active")
        return version

    @staticmethod
    def _publish(store: JourneyStore, journey_id: str, gate: Callable[[dict[str, Any]], Journey]) -> int:
        row = store.get(journey_id)
        if row is None:
            raise NotFoundError(f"No journey with id {journey_id!r}.")
        version = row.published_version
        if version is not None:
            current = store.load_version(journey_id, version)
            if store.load_draft(journey_id) == current:
                gate(current)           # unchanged, yet judged again: a date may have passed since
                return version
        return store.publish(journey_id, check=gate)

    def _gate(self) -> Callable[[dict[str, Any]], Journey]:
        catalog, now = variable_catalog(self.db), self.clock.now()
        return lambda document: require_runnable(document, catalog=catalog, now=now)

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

    def ingest(self, items: Iterable[EventIn], chunk: int = 500,
               progress: Callable[[int], None] | None = None) -> Ingested:
        """Stores and applies events in transactions of `chunk`; returns how many were stored, how many
        were repeats of stored events (skipped, changing nothing) and how many feedback events matched no
        message. Each transaction commits on its own: after a crash, ingesting the same events again
        skips the committed ones and applies the rest, so every event counts exactly once.

        `items` may be a stream (`importers.event_records`): one chunk is held at a time, and of the
        events before it only a 64-bit hash of each key (to count repeats within the stream; two keys
        sharing one is a 1-in-10^7 chance for a million events, and only that count would be off by
        one). After each chunk commits, `progress(events taken so far)` is called."""
        total = Ingested()
        seen: set[int] = set()
        taken = 0
        stream = iter(items)
        while pending := list(islice(stream, chunk)):
            for event in pending:
                key = hash(event.key())
                total.repeated += key in seen
                seen.add(key)
            with write_transaction(self.db) as conn:
                batch = self._batch(conn)
                done = ingest_batch(batch, pending, self.clock.now(), self.clock.virtual)
            self.ingest_steps += done.steps
            total.steps += done.steps
            total.stored += done.stored
            total.duplicates += done.duplicates
            total.unmatched += done.unmatched
            taken += len(pending)
            if progress is not None:
                progress(taken)
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
