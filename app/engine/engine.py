"""The engine facade: the same object runs under the app, the CLI, the simulator and the tests."""
from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from itertools import islice
from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.engine import Engine as SAEngine

from app.journey.model import Journey
from app.journey.validate import Problem
from app.store.errors import NotFoundError
from app.store.journeys import JourneyStore
from app.store.sql import write_transaction
from app.store.tables import messages, runs

from .clock import Clock, default_clock
from .context import EventCache, JourneyCache, LiveJourney
from . import dead_letters
from .isolation import isolatable, journey_failed, one_line, unit
from .gate import check_document, public_url, require_runnable, variable_catalog
from .ingest import EventIn, Ingested, ingest_batch
from .outbox import Channel, RecordingChannel, hand_off
from .runs import ACTIVE, RUN_COLUMNS, Batch, RunState
from .segment import IDENTIFY
from .scan import next_scan_due, scan_journey
from .stepper import BATCH_SIZE, Stepper
from .templating import TemplateCache

log = logging.getLogger(__name__)


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
        self.clock: Clock = clock or default_clock()
        self.channel: Channel = channel or RecordingChannel()
        self._recording_by_default = channel is None
        self.journeys = JourneyCache()
        self.templates = TemplateCache()
        self.events = EventCache()
        self.stepper = Stepper(db, self.clock, self.journeys, self.templates, batch_size, self.events)
        self.batch_size = batch_size
        self.ingest_steps = 0          # node steps taken outside the stepper (ingest, scans)
        self._wary = False             # the last chunk of events met a failure: start the next carefully
        self._scans_failed: set[tuple[str, int, str]] = set()    # (journey, version, reason) already counted

    def _batch(self, conn) -> Batch:
        return Batch(conn, self.journeys, self.templates, self.events)

    # -- journeys --------------------------------------------------------------

    def check(self, journey_id: str) -> tuple[Journey | None, list[Problem]]:
        """The journey's draft and every problem it has judged as about to run (errors first): what
        `activate` and `publish` refuse, for the app and the CLI to show. The journey is None when
        the stored draft cannot be read at all (then the one problem says why)."""
        draft = JourneyStore(self.db, now=self.clock.now).load_draft(journey_id)
        return check_document(draft, catalog=variable_catalog(self.db), now=self.clock.now(),
                              public_url=public_url(self.db))

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
        catalog, now, url = variable_catalog(self.db), self.clock.now(), public_url(self.db)
        return lambda document: require_runnable(document, catalog=catalog, now=now, public_url=url)

    def pause(self, journey_id: str) -> None:
        """Holds the journey: nobody new enters and nobody inside moves on (exit conditions still
        apply) until it is activated again, when whatever fell due meanwhile goes at once."""
        JourneyStore(self.db, now=self.clock.now).set_status(journey_id, "paused")

    def stop(self, journey_id: str) -> int:
        """Stops the journey, exits every active run (reason journey_stopped) and cancels its queued
        messages (the dispatcher cancels any it claims later too); returns how many runs exited."""
        JourneyStore(self.db, now=self.clock.now).set_status(journey_id, "stopped")
        now = self.clock.now()
        with write_transaction(self.db) as conn:
            batch = self._batch(conn)
            found = [RunState.from_row(r) for r in conn.execute(select(*RUN_COLUMNS).where(
                runs.c.journey_id == journey_id, runs.c.status == ACTIVE))]
            for run in found:
                batch.finish(run, "exited", now, "journey_stopped")
            batch.flush(now)
            # Its messages not handed to a channel yet go nowhere now (those being sent finish).
            conn.execute(messages.update().where(messages.c.journey_id == journey_id, messages.c.status == "queued")
                         .values(status="cancelled", error="the journey was stopped before it was sent"))
        return len(found)

    # -- the three jobs ----------------------------------------------------------

    def ingest(self, items: Iterable[EventIn], chunk: int = 500, *, retry: bool = False,
               progress: Callable[[int], None] | None = None, history: bool = False) -> Ingested:
        """Stores and applies events in transactions of `chunk`; returns how many were stored, how many
        were repeats of stored events (skipped, changing nothing), how many feedback events matched no
        message, and the events that could not be applied. Each transaction commits on its own: after a
        crash, ingesting the same events again skips the committed ones and applies the rest, so every
        event counts exactly once.

        `items` may be a stream (`importers.event_records`): one chunk is held at a time, and of the
        events before it only a 64-bit hash of each key (to count repeats within the stream; two keys
        sharing one is a 1-in-10^7 chance for a million events, and only that count would be off by
        one). After each chunk commits, `progress(events taken so far)` is called.

        A chunk that raises is rolled back and applied again one event at a time (app/engine/isolation.py):
        a run whose step raises ends with an error, an event that still raises is dead-lettered with its
        reason (and skipped as already present when imported again), and the rest are applied.

        `history`: past data (app/engine/history.py): each event is stored and applied to its contact
        (spend, orders, consent) but no journey reacts — nothing enters, exits, converts or advances."""
        total = Ingested()
        seen: set[int] = set()
        taken = 0
        stream = iter(items)
        while part := list(islice(stream, chunk)):
            for event in part:
                if event.type == IDENTIFY:       # not an event: applied to the contact, never a repeat
                    total.identified += 1
                    continue
                key = hash(event.key())
                total.repeated += key in seen
                seen.add(key)
            now = self.clock.now()
            done = None
            if not self._wary:
                try:
                    done = self._ingest(part, now, careful=False, retry=retry, history=history)
                except Exception as exc:  # noqa: BLE001 - replayed below; the database's trouble re-raises
                    if not isolatable(exc):
                        raise
                    log.warning("a chunk of %d events failed (%s); applying it again one event at a time",
                                len(part), one_line(exc))
            if done is None:    # outside the handler: the replay's own failures are not "during" this one
                done = self._ingest(part, now, careful=True, retry=retry, history=history)
            self.ingest_steps += done.steps
            total.steps += done.steps
            total.stored += done.stored
            total.duplicates += done.duplicates
            total.unmatched += done.unmatched
            total.dead += done.dead
            taken += len(part)
            if progress is not None:
                progress(taken)
        return total

    def retry_dead_letters(self) -> tuple[Ingested, int]:
        """Applies the dead-lettered events again (after their cause was fixed): each is taken out of the
        dead letters and ingested in the same transaction, so one that still fails is set aside again
        with its new reason and none is lost or applied twice. Returns what ingesting them did and how
        many were retried."""
        _total, found = dead_letters.dead_letters(self.db, limit=None)
        items = dead_letters.as_events(found)
        return self.ingest(items, retry=True), len(items)

    def _ingest(self, part: list[EventIn], now: datetime, careful: bool, retry: bool = False,
                history: bool = False) -> Ingested:
        with write_transaction(self.db) as conn:
            if retry:
                dead_letters.forget(conn, [e.key() for e in part])
            batch = self._batch(conn)
            if careful:
                self.events.clear()     # ids the failed attempt cached may be given to other events now
                batch.be_careful(now)
            done = ingest_batch(batch, part, now, self.clock.virtual, history)
        # A careful chunk that met a failure: the next one most likely will too (a poisoned journey
        # fails every entry), so it starts carefully rather than fail once first; a clean one ends that.
        self._wary = careful and batch.failures > 0
        return done

    def tick(self, horizon: datetime | None = None) -> int:
        return self.stepper.tick(horizon)

    def scan(self) -> int:
        """Enters whoever a time-based trigger (no order for N days, anniversary, manual send) finds due;
        returns how many entered. A scan that raises is done again carefully: a journey whose scan
        raises counts an error on its trigger (and is scanned again next time), a contact whose entry
        raises is skipped with an error on the trigger, a run whose step raises ends with an error."""
        now = self.clock.now()
        try:
            entered: int | None = self._scan(now, careful=False)
        except Exception as exc:  # noqa: BLE001 - replayed below; the database's own trouble re-raises
            if not isolatable(exc):
                raise
            log.warning("a time-based scan failed (%s); scanning again one journey at a time", one_line(exc))
            entered = None
        if entered is None:
            entered = self._scan(now, careful=True)
        return entered

    def _scan(self, now: datetime, careful: bool) -> int:
        with write_transaction(self.db) as conn:
            batch = self._batch(conn)
            if careful:
                batch.be_careful(now)
            entered = 0
            for journey in self.journeys.active(conn):
                found = unit(batch, partial(scan_journey, batch, journey, now),
                             partial(self._scan_failed, batch, journey, now))
                entered += found or 0
            batch.flush(now)
            self.ingest_steps += batch.steps
        return entered

    def _scan_failed(self, batch: Batch, journey: LiveJourney, now: datetime, exc: Exception) -> None:
        """A journey's scan raised: counted on its trigger and logged once per journey version and
        reason, not at every scan (it is tried again each time, in case the cause went away)."""
        key = (journey.id, journey.version, one_line(exc))
        if key in self._scans_failed:
            return
        self._scans_failed.add(key)
        trigger = journey.trigger
        journey_failed(batch, journey.id, trigger.id if trigger else None, now, exc, "its time-based scan")

    def hand_off(self, batch_size: int | None = None) -> int:
        """Hands due messages to this engine's channel (the simulator's and the tests' recording one) and
        marks them sent. Live messages leave through the outbox dispatcher (app/delivery/dispatcher.py),
        never through here: on the system clock without a channel given, this refuses (RuntimeError)
        rather than pretend that messages went out."""
        if self._recording_by_default and not self.clock.virtual:
            raise RuntimeError("live messages are sent by the outbox dispatcher (app.delivery.dispatcher), "
                               "not handed to the recording channel")
        if batch_size is None:
            return hand_off(self.db, self.channel, self.clock)
        return hand_off(self.db, self.channel, self.clock, batch_size)

    def run_due(self) -> None:
        """One round of everything, as the scheduler's jobs would do it (the outbox: see `hand_off`)."""
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
