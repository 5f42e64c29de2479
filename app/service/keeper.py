"""Keeps the engine lease (app/store/lease.py) on a thread of its own and starts or stops the engine's
jobs with it — the same for the background service and the app's window.

Every `heartbeat` seconds: while holding the lease, renew it; when that fails (another process took
it after it expired, or the database could not be reached until our lease ran out by our own
clock), call `on_lost` at once. While not holding it, try to take it (it is free, or its holder
stopped beating); on success call `on_acquired`, else `on_waiting(holder)` with the live holder.
The callbacks run on the keeper's thread, one at a time.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from app.store.lease import DEFAULT_HEARTBEAT, Lease, LeaseHolder, current_holder

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Runs `on_acquired` when this process takes the engine lease and `on_lost` when it loses it
    (or stops); `on_waiting(holder)` after each round that found another process holding it
    (`holder` None: it could not be read). `step()` is one round, for tests without the thread."""

    def __init__(self, lease: Lease, *, on_acquired: Callable[[], None], on_lost: Callable[[], None],
                 on_waiting: Callable[[LeaseHolder | None], None] | None = None,
                 heartbeat: float = DEFAULT_HEARTBEAT) -> None:
        self.lease, self.heartbeat = lease, heartbeat
        self.on_acquired, self.on_lost, self.on_waiting = on_acquired, on_lost, on_waiting
        self.running = False          # the jobs are running (we took the lease and have not lost it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()   # step() and stop() never overlap

    def step(self) -> bool:
        """One round: renew, or try to take, the lease; returns whether the jobs run now."""
        with self._lock:
            if self._stop.is_set():
                return False
            if self.running:
                self._renew()
            else:
                self._try_take()
            return self.running

    def _renew(self) -> None:
        try:
            still = self.lease.renew()
        except Exception as exc:  # noqa: BLE001 - a busy or unreachable database: ours until it runs out
            still = self.lease.held()
            log.warning("engine lease: heartbeat failed (%s); %s", exc,
                        "still held" if still else "it ran out: stopping the engine's jobs")
        if not still:
            log.warning("engine lease lost: stopping the engine's jobs (another process runs them now)")
            self._lose()

    def _try_take(self) -> None:
        try:
            taken = self.lease.acquire()
        except Exception as exc:  # noqa: BLE001 - tried again at the next heartbeat
            log.warning("engine lease: could not be taken (%s); trying again", exc)
            taken = False
        if taken:
            log.info("engine lease taken by this %s (pid %s): starting the engine's jobs", self.lease.kind,
                     self.lease.pid)
            self.running = True
            try:
                self.on_acquired()
            except Exception:
                log.exception("the engine's jobs could not be started; giving the lease back")
                self.running = False
                self._release()
                raise
            return
        if self.on_waiting is not None:
            try:
                holder = current_holder(self.lease.db, self.lease.now())
            except Exception:  # noqa: BLE001 - said as "unknown" until the next round
                holder = None
            self.on_waiting(holder)

    def _lose(self) -> None:
        self.running = False
        self.on_lost()

    def _release(self) -> None:
        try:
            self.lease.release()
        except Exception as exc:  # noqa: BLE001 - it then expires by itself
            log.warning("engine lease: could not be given back (%s); it expires on its own", exc)

    def start(self) -> None:
        """Starts the keeper's thread: a first round at once, then one every `heartbeat` seconds."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="engine-lease", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - logged; the next round tries again
                log.exception("engine lease round failed")
            self._stop.wait(self.heartbeat)

    def stop(self, *, release: bool = True) -> None:
        """Stops the keeper: the jobs are stopped (`on_lost`, which finishes the batch in hand) and then
        the lease is given back so another process takes over at once (`release=False` leaves it to
        expire, as a crash would)."""
        self._stop.set()
        with self._lock:
            if self.running:
                self._lose()
            if release:
                self._release()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)
            self._thread = None
