"""The live engine: APScheduler 3 runs a handful of jobs, never one per contact.

Jobs: `tick` (advance due runs in batches), `scan` (time-based triggers) and
`outbox` (the dispatcher, app/delivery/dispatcher.py, passed in as `outbox`: the
engine itself knows no channel; without one, messages stay queued for
`journeys outbox send`, and nothing pretends they were sent), and any further periodic
`jobs` given (the delivery statuses coming back: Twilio status polling, the IMAP mailbox). Each job coalesces missed runs
into one and runs however late it starts (misfire_grace_time=None): APScheduler's
default of one second silently drops a job that starts late (a busy machine, a
laptop waking from sleep), and a dropped tick would leave contacts waiting. Every
job only advances what is due, so running it late is always right.
`max_instances=1` keeps a slow tick from overlapping the next one.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol, Sequence

from apscheduler.schedulers.background import BackgroundScheduler

from .engine import JourneyEngine

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


class Outbox(Protocol):
    """What the live engine runs as its outbox job (app.delivery.dispatcher.Dispatcher)."""

    def dispatch(self) -> object:
        """Sends what is due now (one round)."""
        ...

    def stop(self) -> None:
        """Ends a round in progress soon (the message in hand is finished, the rest stays queued)."""
        ...


class LiveEngine:
    def __init__(self, engine: JourneyEngine, *, outbox: Outbox | None = None, tick_seconds: float = 5,
                 scan_seconds: float = 60, outbox_seconds: float = 5,
                 on_error: Callable[[str, BaseException], None] | None = None,
                 jobs: Sequence[tuple[str, Callable[[], object], float]] = (),
                 gate: Callable[[], bool] | None = None) -> None:
        """`jobs`: further (name, function, seconds between runs) to run on the same scheduler.
        `gate`: asked before every job run; a job is skipped while it answers False (the engine lease,
        app/store/lease.py: a process whose lease ran out runs no job, even before it is stopped)."""
        self.engine = engine
        self.gate = gate
        self.outbox = outbox
        self.on_error = on_error
        self.scheduler = BackgroundScheduler(job_defaults=JOB_DEFAULTS, timezone="UTC")
        self.scheduler.add_job(self._guard("tick", engine.tick), "interval", seconds=tick_seconds, id="tick")
        self.scheduler.add_job(self._guard("scan", engine.scan), "interval", seconds=scan_seconds, id="scan")
        if outbox is not None:
            self.scheduler.add_job(self._guard("outbox", outbox.dispatch), "interval", seconds=outbox_seconds,
                                   id="outbox")
        for name, job, seconds in jobs:
            self.scheduler.add_job(self._guard(name, job), "interval", seconds=seconds, id=name)

    def _guard(self, name: str, job: Callable[[], object]) -> Callable[[], None]:
        """A failing job is reported and retried at its next interval; the scheduler keeps going."""
        def run() -> None:
            if self.gate is not None and not self.gate():
                log.warning("engine job %s skipped: this process no longer holds the engine lease", name)
                return
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - reported, and the transaction already rolled back
                log.exception("engine job %s failed", name)
                if self.on_error:
                    self.on_error(name, exc)
        return run

    def start(self) -> None:
        self.scheduler.start()

    def stop(self, wait: bool = True) -> None:
        if self.outbox is not None:
            self.outbox.stop()          # a long round (a rate-limited burst) ends after its current message
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def wake(self, job_id: str) -> None:
        """Runs the job `job_id` as soon as possible (new events came in), then at its interval again;
        an unknown job or a stopped scheduler is ignored."""
        from datetime import datetime, timezone

        job = self.scheduler.get_job(job_id) if self.scheduler.running else None
        if job is not None:
            job.modify(next_run_time=datetime.now(timezone.utc))

    def job_ids(self) -> list[str]:
        return [job.id for job in self.scheduler.get_jobs()]
