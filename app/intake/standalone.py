"""The standalone receiver's engine side (`python -m app.intake`, for tests and the bench): it applies
stored requests only while it holds the database's engine lease (app/store/lease.py), as `journeys
serve` and the app's window do, so it never applies events behind the back of the process that runs
the engine. While another process holds the lease, it only stores requests: that process's intake job
applies them. The lease is taken as a "service" (the window then says the engine runs in the
background); it runs no tick, scan or outbox — use `journeys serve` for that.
"""
from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from app.engine.engine import JourneyEngine
from app.service.keeper import LeaseKeeper
from app.store.lease import DEFAULT_HEARTBEAT, DEFAULT_TTL, Lease

from .apply import Applier


class LeasedApplier:
    """An Applier (app/intake/apply.py) that runs only while this process holds the engine lease:
    started when the keeper takes it, stopped (no last round) when the lease is lost, and after a
    last round when `stop()` gives it back. `wake()` is the receiver's engine_wakeup."""

    def __init__(self, db: Engine, *, ttl: float = DEFAULT_TTL, heartbeat: float = DEFAULT_HEARTBEAT) -> None:
        self.db = db
        self.lease = Lease(db, "service", ttl=ttl)
        self.keeper = LeaseKeeper(self.lease, on_acquired=self._start, on_lost=self._stop, heartbeat=heartbeat)
        self.applier: Applier | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self.applier is None:
                self.applier = Applier(JourneyEngine(self.db), gate=self.lease.held).start()
                self.applier.wake()            # what was stored while another process held the lease

    def _stop(self) -> None:
        with self._lock:
            applier, self.applier = self.applier, None
        if applier is not None:
            applier.stop()     # its last round is gated: none once the lease is no longer ours

    def wake(self) -> None:
        applier = self.applier
        if applier is not None:
            applier.wake()

    def applying(self) -> bool:
        """Whether this process applies requests now (it holds the lease)."""
        return self.keeper.running

    def start(self) -> "LeasedApplier":
        """Starts the lease keeper's thread (a first round at once, then every heartbeat)."""
        self.keeper.start()
        return self

    def stop(self) -> None:
        """Applies what is stored (while the lease is still ours), then gives the lease back."""
        self.keeper.stop(release=True)
