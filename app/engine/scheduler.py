"""The live engine: APScheduler 3 runs a handful of jobs, never one per contact.

Jobs: `tick` (advance due runs in batches), `scan` (time-based triggers),
`outbox` (hand queued messages to the channel) and `mailbox` (read bounces, replies
and unsubscribe mails from the sender's mailbox over IMAP, when one is set up:
app/delivery/imap_poll.py). Each job coalesces missed runs
into one and runs however late it starts (misfire_grace_time=None): APScheduler's
default of one second silently drops a job that starts late (a busy machine, a
laptop waking from sleep), and a dropped tick would leave contacts waiting. Every
job only advances what is due, so running it late is always right.
`max_instances=1` keeps a slow tick from overlapping the next one.
"""
from __future__ import annotations

import logging
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from .engine import JourneyEngine

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


class LiveEngine:
    def __init__(self, engine: JourneyEngine, *, tick_seconds: float = 5, scan_seconds: float = 60,
                 outbox_seconds: float = 5, mailbox_seconds: float = 300,
                 on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self.engine = engine
        self.on_error = on_error
        self.scheduler = BackgroundScheduler(job_defaults=JOB_DEFAULTS, timezone="UTC")
        self.scheduler.add_job(self._guard("tick", engine.tick), "interval", seconds=tick_seconds, id="tick")
        self.scheduler.add_job(self._guard("scan", engine.scan), "interval", seconds=scan_seconds, id="scan")
        self.scheduler.add_job(self._guard("outbox", engine.hand_off), "interval", seconds=outbox_seconds,
                               id="outbox")
        self.scheduler.add_job(self._guard("mailbox", self._poll_mailbox), "interval", seconds=mailbox_seconds,
                               id="mailbox")

    def _poll_mailbox(self) -> None:
        """One read of the sender's mailbox; nothing when none is set up (no host, user or password)."""
        from app.delivery.imap_poll import poll_configured     # delivery builds on the engine: imported late

        report = poll_configured(self.engine.db, self.engine)
        if report is not None and report.mails:
            log.info("mailbox: %s", report.summary())

    def _guard(self, name: str, job: Callable[[], object]) -> Callable[[], None]:
        """A failing job is reported and retried at its next interval; the scheduler keeps going."""
        def run() -> None:
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
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def job_ids(self) -> list[str]:
        return [job.id for job in self.scheduler.get_jobs()]
