"""The engine under the app, off the GUI thread.

The live engine's jobs (tick, scan, outbox) run on APScheduler's background
thread — while this window holds the database's engine lease (app/store/lease.py): when the
background service (`journeys serve`) or another window runs the engine, this one starts no jobs,
says who does (`engine_elsewhere`), and takes over once that one stops or its lease expires. While it
holds the lease it also runs the HTTP receiver (app/service/http.py's Listener, as `journeys serve`
does, at the receiver's listen setting), so webhooks keep arriving whichever process runs the engine;
it stops listening when it loses or gives back the lease. Journey commands (activate, pause, stop) and statistics polls run on
one worker thread, in the order asked, and their results come back to the GUI
thread through a queued signal: the window never waits on the database.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from sqlalchemy.engine import Engine

from app.engine.clock import Clock, SystemClock
from app.engine.file_import import Cancelled
from app.engine.gate import JourneyNotReady
from app.engine.wakeup import IntakeWaker
from app.engine.stats import JourneyStats, journey_stats
from app.store.journeys import JourneyStore

if TYPE_CHECKING:
    from app.delivery.dispatcher import Dispatcher
    from app.service.keeper import LeaseKeeper
    from app.engine.engine import JourneyEngine
    from app.engine.scheduler import LiveEngine
    from app.service.http import Listener

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JourneyState:
    """What the window shows about a running journey, read in one poll."""

    journey_id: str
    status: str                      # draft, active, paused, stopped
    version: int | None              # the version new contacts enter
    changed: bool                    # the draft differs from that version (edits not live yet)
    stats: JourneyStats


class _Job(QRunnable):
    def __init__(self, host: "EngineHost", ticket: int, work: Callable[[], Any]) -> None:
        super().__init__()
        self.host, self.ticket, self.work = host, ticket, work

    def run(self) -> None:
        try:
            outcome: tuple[bool, Any] = (True, self.work())
        except (JourneyNotReady, Cancelled) as exc:   # a refusal or a cancel the window explains: no failure
            log.info("engine refused: %s", exc)
            outcome = (False, exc)
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which says what went wrong
            log.exception("engine command failed")
            outcome = (False, exc)
        self.host._finished.emit(self.ticket, outcome)


class _Outbox:
    """The live engine's outbox job: one dispatcher round, its notices passed on when they change."""

    def __init__(self, dispatcher: "Dispatcher", notify: Callable[[str], None]) -> None:
        self.dispatcher, self.notify, self._said = dispatcher, notify, ""

    def dispatch(self) -> object:
        done = self.dispatcher.dispatch()
        text = "; ".join(done.notices())
        if text != self._said:
            self._said = text
            if text:
                self.notify(text)
        return done

    def stop(self) -> None:
        self.dispatcher.stop()


class EngineHost(QObject):
    """Owns the app's JourneyEngine; `submit` runs work on the worker and calls back on the GUI thread."""

    _finished = Signal(int, object)
    job_failed = Signal(str, str)           # job name, message (from the scheduler's thread, queued)
    delivery_notice = Signal(str)           # "email is not set up: 12 messages waiting" (when it changes)
    engine_elsewhere = Signal(object)       # LeaseHolder (or None: unknown) while another process runs the engine
    engine_here = Signal()                  # this window took the lease and runs the engine
    receiver_notice = Signal(str)           # "Receiver: listening on http://…" or why it does not listen
    LEASE_SECONDS: float | None = None      # the lease's length and heartbeat: app/store/lease.py's defaults
    HEARTBEAT_SECONDS: float | None = None  # (the tests shorten them)

    def __init__(self, db: Engine, clock: Clock | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db, self.clock = db, clock or SystemClock()
        self._engine: JourneyEngine | None = None
        self.store = JourneyStore(db)
        self.live: LiveEngine | None = None
        self.keeper: LeaseKeeper | None = None
        self.listener: Listener | None = None     # the receiver, while this window holds the lease
        self._waker = IntakeWaker(lambda: self.live)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)      # one worker: commands and polls happen in the order asked
        self._tickets = count()
        self._waiting: dict[int, tuple[Callable[[Any], None], Callable[[Exception], None] | None]] = {}
        self._finished.connect(self._deliver)
        self._changed: dict[tuple[Any, ...], bool] = {}    # the last draft-vs-version comparison

    # -- the live engine -------------------------------------------------------------

    @property
    def engine(self) -> "JourneyEngine":
        # Built on first use, after the window is up: the engine and the scheduler add to start-up.
        if self._engine is None:
            from app.engine.engine import JourneyEngine

            self._engine = JourneyEngine(self.db, self.clock)
        return self._engine

    def start(self) -> None:
        """Asks for the engine lease (on a thread of its own, every ~10 s): while this window holds it,
        the scheduler's jobs run and active journeys move on their own; while another process holds
        it, `engine_elsewhere(holder)` says who."""
        if self.keeper is None:
            from app.service.keeper import LeaseKeeper
            from app.store.lease import Lease

            from app.store.lease import DEFAULT_HEARTBEAT, DEFAULT_TTL

            lease = Lease(self.db, "app", ttl=self.LEASE_SECONDS or DEFAULT_TTL)
            self.keeper = LeaseKeeper(lease, on_acquired=self._start_live, on_lost=self._stop_live,
                                      on_waiting=self.engine_elsewhere.emit,
                                      heartbeat=self.HEARTBEAT_SECONDS or DEFAULT_HEARTBEAT)
            self.keeper.start()

    def runs_engine(self) -> bool:
        """Whether this window runs the engine now (it holds the lease)."""
        return self.keeper is not None and self.keeper.running

    def _stop_live(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:           # no more requests here: the next holder's receiver takes them
            listener.stop()                # (those in progress finish and are stored)
            log.info("receiver stopped in this window")
        live, self.live = self.live, None
        if live is not None:
            from app.service.parts import stop_polls

            stop_polls()                   # a long history import ends after its page in hand
            live.stop(wait=True)

    def _start_live(self) -> None:
        """On the lease keeper's thread, once the lease is ours."""
        if self.live is None:
            from app.delivery.channels import live_dispatcher
            from app.delivery.feedback_jobs import feedback_jobs
            from app.engine.engine import JourneyEngine
            from app.engine.scheduler import LiveEngine

            # The outbox job is the real dispatcher: messages leave through the channels set up in
            # Settings → Channels (a channel not set up keeps its messages queued, and says so).
            outbox = _Outbox(live_dispatcher(self.db, self.clock), self.delivery_notice.emit)
            # Statuses coming back (Twilio polling, the IMAP mailbox) feed an engine of their own: the
            # jobs run on the scheduler's threads, side by side with the tick.
            feedback = feedback_jobs(self.db, JourneyEngine(self.db, self.clock), self.clock)
            # The receiver's intake (requests stored by `journeys serve` or `python -m app.intake`) and the
            # pull connectors' polls: whichever process holds the lease runs them, each on an engine of
            # its own (app/service/parts.py).
            from app.service.parts import connector_jobs, intake_jobs

            feedback += [*[(name, self._waker.round(job), seconds)
                           for name, job, seconds in intake_jobs(self.db, JourneyEngine(self.db, self.clock))],
                         *connector_jobs(self.db, self.clock, JourneyEngine(self.db, self.clock))]
            lease = self.keeper.lease if self.keeper is not None else None
            live = LiveEngine(self.engine, outbox=outbox, jobs=feedback,
                              on_error=lambda name, exc: self.job_failed.emit(name, str(exc)),
                              gate=lease.held if lease is not None else None)
            live.start()
            self.live = live
            self._start_receiver()
        self.engine_here.emit()

    # -- the receiver, while this window runs the engine ------------------------------------

    def _start_receiver(self) -> None:
        """Listens at the receiver's setting (File → Receiver…, else 127.0.0.1:8765) with the service's
        Listener. When the address is taken (a waiting `journeys serve` listens there: its requests
        are stored in the database and this window's intake job applies them) it says so and goes on."""
        from app.service.http import DEFAULT_LISTEN, ListenError, Listener, bind, parse_listen
        from app.service.parts import listen_setting, receiver_app

        if self.listener is not None:
            return
        try:
            app = receiver_app(self.db, self._waker.wake)
            if app is None:
                return                     # the receiver is not installed: the polls still run
            listen = listen_setting(self.db) or DEFAULT_LISTEN
            host, port = parse_listen(listen)
            sock = bind(host, port)
        except Exception as exc:  # noqa: BLE001 - the engine runs on; the window says why nobody listens here
            why = str(exc) if isinstance(exc, ListenError) else f"{type(exc).__name__}: {exc}"
            log.warning("the receiver does not listen in this window: %s", why)
            self.receiver_notice.emit(f"Receiver: not listening in this window — {why}")
            return
        app.state.engine_health = lambda: {"status": "ok", "engine": "running", "holder": None}
        listener = Listener(sock, app, lambda: {"status": "ok"})
        listener.start()
        self.listener = listener
        log.info("receiver listening in this window on %s", listener.url)
        self.receiver_notice.emit(f"Receiver: listening on {listener.url}")

    def shutdown(self) -> None:
        """Stops the jobs (the batch in hand finishes) and gives the lease back, so the background
        service, when installed, takes over at once."""
        if self.keeper is not None:
            self.keeper.stop(release=True)
            self.keeper = None
        self._stop_live()
        self._pool.waitForDone(10_000)

    # -- work on the worker thread ---------------------------------------------------------

    def submit(self, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[Exception], None] | None = None) -> None:
        ticket = next(self._tickets)
        self._waiting[ticket] = (done, failed)
        self._pool.start(_Job(self, ticket, work))

    @Slot(int, object)
    def _deliver(self, ticket: int, outcome: tuple[bool, Any]) -> None:
        done, failed = self._waiting.pop(ticket)
        ok, value = outcome
        if ok:
            done(value)
        elif failed is not None:
            failed(value)

    def busy(self) -> bool:
        return bool(self._waiting)

    # -- what the window asks -------------------------------------------------------------

    def state(self, journey_id: str, since: datetime | None = None) -> JourneyState | None:
        """The journey's status and statistics since `since` (all time: None), on the worker thread;
        None when the journey is gone."""
        row = self.store.get(journey_id)
        if row is None:
            return None
        version = row.published_version
        key = (journey_id, row.updated_at, version)
        if key not in self._changed:          # comparing documents only when the draft or version moved
            self._changed = {key: version is None or
                             self.store.load_draft(journey_id) != self.store.load_version(journey_id, version)}
        return JourneyState(journey_id, row.status, version, self._changed[key], journey_stats(self.db, journey_id, since))
