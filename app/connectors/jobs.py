"""The connectors' job for the live engine's scheduler (app/engine/scheduler.py `LiveEngine(jobs=…)`).

`connector_jobs(db)` returns one job, `connectors`, run every CHECK_SECONDS: it polls each stored
connection whose interval (60 s unless set) has passed since its last poll, one after the other.
Connections added while it runs are picked up at its next run; none at all costs one small query.
The service (`journeys serve`) and the app schedule it next to the tick, scan and outbox jobs.

A clean shutdown calls `stop_polls()` before stopping the scheduler: a poll in progress (a long
history import) ends after the page in hand, which is applied with its cursor; the next start goes
on from there. `connector_jobs()` clears the request again.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Callable, Iterator

from sqlalchemy.engine import Engine

from .errors import ConnectorError
from .store import list_connections

if TYPE_CHECKING:
    from app.engine.clock import Clock
    from app.engine.engine import JourneyEngine

    from .poller import PollReport

log = logging.getLogger(__name__)
CHECK_SECONDS = 10.0
_STOP = threading.Event()
_BUSY: set[str] = set()          # connections being polled in this process (the scheduler, "Poll now")
_BUSY_LOCK = threading.Lock()


@contextmanager
def _claim(cid: str) -> Iterator[bool]:
    """True (and the connection held) unless this process polls it already: two polls of one shop at
    once would read every page twice and halve its rate limit."""
    with _BUSY_LOCK:
        mine = cid not in _BUSY
        _BUSY.add(cid)
    try:
        yield mine
    finally:
        if mine:
            with _BUSY_LOCK:
                _BUSY.discard(cid)


def poll_now(engine: "JourneyEngine", cid: str, stop: Callable[[], bool] | None = None) -> "PollReport | None":
    """Polls `cid` at once (the app's "Poll now"), unless this process polls it already (None). `stop()`
    turning true (its dialog closed, the app quitting) ends the poll after the page in hand."""
    from .poller import poll

    with _claim(cid) as mine:
        if not mine:
            return None
        # Not the scheduler's shutdown flag: it stays set after this window's engine stopped (the service
        # took over), and "Poll now" must work then too.
        return poll(engine, cid, stop=stop)


def stop_polls() -> None:
    """Asks every poll in progress in this process to end after its current page (a clean shutdown)."""
    _STOP.set()


def poll_due(engine: "JourneyEngine", sleep: Callable[[float], None] | None = None) -> list["PollReport"]:
    """Polls every connection that is due now (never polled, or its interval passed); returns the reports."""
    from .poller import poll

    now = engine.clock.now()
    reports = []
    for connection in list_connections(engine.db):
        if connection.last_poll_at is not None and now - connection.last_poll_at < timedelta(
                seconds=connection.interval):
            continue
        if _STOP.is_set():
            break
        with _claim(connection.id) as mine:
            if not mine:
                continue                       # "Poll now" is at it
            try:
                reports.append(poll(engine, connection.id, sleep=sleep, stop=_STOP.is_set))
            except ConnectorError as exc:          # removed meanwhile
                log.info("connection %s: %s", connection.id, exc)
    return reports


def connector_jobs(db: Engine, clock: "Clock | None" = None,
                   engine: "JourneyEngine | None" = None) -> list[tuple[str, Callable[[], object], float]]:
    """The live engine's connector jobs as (name, function, seconds between runs) — the shape of
    `LiveEngine(jobs=…)` and of app.delivery.feedback_jobs. `engine`: the JourneyEngine that applies
    what the shops send (a new one on `db` and `clock` when not given; its own, so the polls run
    beside the tick on the scheduler's threads)."""
    if engine is None:
        from app.engine.engine import JourneyEngine

        engine = JourneyEngine(db, clock)
    _STOP.clear()
    found = engine
    return [("connectors", lambda: poll_due(found), CHECK_SECONDS)]
