"""`journeys serve`: the engine's jobs and the HTTP receiver in one long-running process.

- The engine's jobs — tick, time-based scan, outbox dispatch, delivery statuses (Twilio polling, the
  IMAP mailbox), the receiver's intake job and the pull connectors' polls when those parts are
  installed (app/service/parts.py) — run on LiveEngine's scheduler, but only while this process
  holds the database's engine lease (app/store/lease.py): a second service, or the app's window, on
  the same database waits and takes over when this one stops or dies.
- The listener (app/service/http.py): the receiver's app under Uvicorn, else GET /health.
- Stopping (SIGTERM, SIGINT, or `stop()`): stop accepting requests (those in progress finish), stop
  the jobs (the batch in hand finishes: each is one transaction, the dispatcher ends after the
  message in hand), then give the lease back so another process takes over at once.

Nothing here is lost or done twice by a crash (kill -9) either: every step commits with its effects
(DESIGN.md principles 8, 12, 13); a restarted service takes the lease once it has expired.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy.engine import Engine

from app.engine.clock import Clock, FileClock, default_clock
from app.engine.engine import JourneyEngine
from app.engine.scheduler import LiveEngine
from app.engine.wakeup import IntakeWaker
from app.store.lease import DEFAULT_HEARTBEAT, DEFAULT_TTL, Lease, LeaseHolder, current_holder

from .http import DEFAULT_LISTEN, ListenError, Listener, bind, is_loopback, parse_listen
from .keeper import LeaseKeeper
from .parts import connector_jobs, intake_jobs, receiver_app, stop_polls
from .words import describe_holder

log = logging.getLogger("app.service")


@dataclass(frozen=True)
class ServeOptions:
    """How `journeys serve` runs. Intervals in seconds; the lease's are app/store/lease.py's."""

    listen: str = DEFAULT_LISTEN
    tick_seconds: float = 5.0
    scan_seconds: float = 60.0
    outbox_seconds: float = 5.0
    heartbeat_seconds: float = DEFAULT_HEARTBEAT
    lease_seconds: float = DEFAULT_TTL


class _LoggedEngine(JourneyEngine):
    """The engine with a log line whenever a tick or a scan moved someone (not on idle rounds)."""

    def tick(self, horizon: datetime | None = None) -> int:
        moved = super().tick(horizon)
        if moved:
            log.info("tick: %d step(s) taken", moved, extra={"fields": {"job": "tick", "steps": moved}})
        return moved

    def scan(self) -> int:
        entered = super().scan()
        if entered:
            log.info("scan: %d contact(s) entered", entered, extra={"fields": {"job": "scan", "entered": entered}})
        return entered


class _LoggedOutbox:
    """The dispatcher as LiveEngine's outbox job, logging each round that did something."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher

    def dispatch(self) -> object:
        done = self.dispatcher.dispatch()
        counts = {k: getattr(done, k, 0) for k in ("sent", "retried", "failed", "unknown", "cancelled")}
        if any(counts.values()):
            log.info("outbox: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n),
                     extra={"fields": {"job": "outbox", **counts}})
        for notice in done.notices():
            log.warning("outbox: %s", notice, extra={"fields": {"job": "outbox"}})
        return done

    def stop(self) -> None:
        self.dispatcher.stop()


class Service:
    """The engine's jobs under the lease, and the listener. `start()`, then `stop()` (any thread)."""

    def __init__(self, db: Engine, options: ServeOptions = ServeOptions(), *, clock: Clock | None = None,
                 say: Callable[[str], None] = lambda text: None) -> None:
        self.db, self.options, self.say = db, options, say
        self.clock = clock or default_clock()
        self.lease = Lease(db, "service", ttl=options.lease_seconds)
        self.keeper = LeaseKeeper(self.lease, on_acquired=self._start_jobs, on_lost=self._stop_jobs,
                                  on_waiting=self._waiting, heartbeat=options.heartbeat_seconds)
        self.live: LiveEngine | None = None
        self.listener: Listener | None = None
        self.waiting_for: LeaseHolder | None = None
        self._said_waiting = False
        self._jobs_lock = threading.Lock()
        self._waker = IntakeWaker(lambda: self.live)
        self._app: Any | None = None            # the receiver's app (None: not installed)
        self._stopping = False

    # -- the engine's jobs, under the lease ------------------------------------------------------

    def _start_jobs(self) -> None:
        from app.delivery.channels import live_dispatcher
        from app.delivery.feedback_jobs import feedback_jobs

        with self._jobs_lock:
            clock = self.clock
            # Each job that applies events has an engine of its own (they run on the scheduler's threads
            # side by side), all on the service's clock (test time applies).
            jobs = [*feedback_jobs(self.db, JourneyEngine(self.db, clock), clock),
                    *[(name, self._waker.round(job), seconds)
                      for name, job, seconds in intake_jobs(self.db, JourneyEngine(self.db, clock))],
                    *connector_jobs(self.db, clock, JourneyEngine(self.db, clock))]
            options = self.options
            self.live = LiveEngine(_LoggedEngine(self.db, clock), outbox=_LoggedOutbox(live_dispatcher(self.db, clock)),
                                   tick_seconds=options.tick_seconds, scan_seconds=options.scan_seconds,
                                   outbox_seconds=options.outbox_seconds, jobs=jobs, gate=self.lease.held)
            self.live.start()
        self.waiting_for, self._said_waiting = None, False
        self._listen_now()
        log.info("engine started: this service holds the engine lease", extra={"fields": {
            "event": "engine_started", "jobs": self.live.job_ids()}})
        self.say("Engine: running in this service")

    def _stop_jobs(self) -> None:
        with self._jobs_lock:
            live, self.live = self.live, None
        if live is not None:
            stop_polls()                   # a long history import ends after its page in hand
            live.stop(wait=True)           # the batch in hand finishes; the dispatcher after its message
            log.info("engine stopped", extra={"fields": {"event": "engine_stopped"}})

    def _waiting(self, holder: LeaseHolder | None) -> None:
        self.waiting_for = holder
        if not self._said_waiting and holder is not None:
            self._said_waiting = True
            text = (f"Engine: waiting — {describe_holder(holder)} runs it; this service takes over if it stops")
            log.info(text, extra={"fields": {"event": "engine_waiting", "holder_kind": holder.kind,
                                             "holder_pid": holder.pid, "holder_host": holder.host}})
            self.say(text)

    def wakeup(self) -> None:
        """New requests were stored: apply them at once (the receiver's inbox writer calls this after
        every commit; cheap, see IntakeWaker)."""
        self._waker.wake()

    def health(self) -> dict[str, Any]:
        """What GET /health answers: {"status": "ok", "engine": "running"|"waiting", "holder": …}."""
        holder = self.waiting_for
        return {"status": "ok", "engine": "running" if self.keeper.running else "waiting",
                "holder": None if holder is None else {"kind": holder.kind, "host": holder.host, "pid": holder.pid,
                                                       "since": holder.acquired_at.isoformat()}}

    # -- the process ------------------------------------------------------------------------

    def start(self) -> None:
        """Binds the listener (ListenError when the address cannot be used: nothing has started then),
        starts it, then the lease keeper (which starts the jobs once the lease is ours). One exception:
        when the address is taken while the app's window holds the engine lease, the window is the one
        listening there (app/ui/engine_host.py): this service waits and listens once it takes over."""
        host, port = parse_listen(self.options.listen)
        try:
            sock: socket.socket | None = bind(host, port)
        except ListenError:
            if not self._window_runs_the_engine():
                raise
            sock = None
            log.info("%s is in use by Journey Studio's window, which runs the engine and the receiver now; "
                     "this service listens there once it takes over", self.options.listen,
                     extra={"fields": {"event": "listen_deferred", "listen": self.options.listen}})
            self.say(f"{self.options.listen}: Journey Studio's window listens there while it runs the engine; "
                     "this service listens once it takes over")
        if isinstance(self.clock, FileClock):       # never in use: the engine would follow a file, not time
            log.warning("test clock: the time is read from %s ($JOURNEYS_TEST_CLOCK)", self.clock.path)
            self.say(f"Test clock: the time is read from {self.clock.path} ($JOURNEYS_TEST_CLOCK, for tests only)")
        try:
            self._app = receiver_app(self.db, self.wakeup)
            if self._app is not None:          # the receiver's GET /health (token) says the engine's state too
                self._app.state.engine_health = self.health
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        if sock is not None:
            self._listen(sock)
        self.keeper.start()

    def _window_runs_the_engine(self) -> bool:
        try:
            holder = current_holder(self.db, self.lease.now())
        except Exception:  # noqa: BLE001 - unknown: the address is simply in use
            return False
        return holder is not None and holder.kind == "app"

    def _listen(self, sock: socket.socket) -> None:
        host = parse_listen(self.options.listen)[0]
        listener = Listener(sock, self._app, self.health)
        if not is_loopback(host):
            log.warning("listening on %s, which other machines can reach: expose the receiver through a "
                        "tunnel or a reverse proxy instead (see the README)", self.options.listen)
        listener.start()
        self.listener = listener
        log.info("listening on %s (%s)", listener.url, listener.kind,
                 extra={"fields": {"event": "listening", "url": listener.url, "kind": listener.kind}})
        self.say(f"Listening on {listener.url}" +
                 ("" if listener.kind == "receiver" else " (GET /health only: the receiver is not installed)"))

    def _listen_now(self) -> None:
        """On taking the lease: listen if the window held the address at start (it has let it go)."""
        if self.listener is not None or self._stopping:
            return
        host, port = parse_listen(self.options.listen)
        try:
            self._listen(bind(host, port))
        except ListenError as exc:
            log.warning("the receiver cannot listen yet: %s; trying again when the lease is next taken", exc)

    def stop(self) -> None:
        """Stops accepting requests, lets those in progress finish, stops the jobs after the batch in hand,
        and gives the lease back."""
        self._stopping = True
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        self.keeper.stop(release=True)
        log.info("service stopped", extra={"fields": {"event": "stopped"}})
