"""Slow work off the GUI thread: connection tests, test sends, keyring look-ups, outbox lists.

A connection test may wait 30 seconds for a server that does not answer, and a keyring may wait for
the user to unlock it: neither may freeze the window, nor queue behind the engine's own worker
(app/ui/engine_host.py keeps that one for journey commands and statistics). Work runs on a small pool
of its own; its result comes back to the GUI thread through a queued signal, and is dropped when the
window that asked for it has been closed meanwhile.
"""
from __future__ import annotations

import logging
from itertools import count
from typing import Any, Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


class _Job(QRunnable):
    def __init__(self, pool: "Background", ticket: int, work: Callable[[], Any]) -> None:
        super().__init__()
        self.pool, self.ticket, self.work = pool, ticket, work

    def run(self) -> None:
        try:
            outcome: tuple[bool, Any] = (True, self.work())
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which says what went wrong
            log.exception("background work failed")
            outcome = (False, exc)
        if shiboken6.isValid(self.pool):
            self.pool._finished.emit(self.ticket, outcome)


class Background(QObject):
    """Runs `work` on a worker thread and calls `done(result)` (or `failed(exception)`) on the GUI
    thread, unless `owner` (a dialog, a widget) was deleted meanwhile."""

    _finished = Signal(int, object)

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._tickets = count()
        self._waiting: dict[int, tuple[QObject | None, Callable[[Any], None], Callable[[Exception], None] | None]] = {}
        self._finished.connect(self._deliver)

    def run(self, work: Callable[[], Any], done: Callable[[Any], None],
            failed: Callable[[Exception], None] | None = None, owner: QObject | None = None) -> None:
        ticket = next(self._tickets)
        self._waiting[ticket] = (owner, done, failed)
        self._pool.start(_Job(self, ticket, work))

    @Slot(int, object)
    def _deliver(self, ticket: int, outcome: tuple[bool, Any]) -> None:
        owner, done, failed = self._waiting.pop(ticket)
        if owner is not None and not shiboken6.isValid(owner):
            return              # its window is gone: nobody to tell
        ok, value = outcome
        if ok:
            done(value)
        elif failed is not None:
            failed(value)

    def busy(self) -> bool:
        return bool(self._waiting)

    def wait(self, ms: int = 30_000) -> bool:
        """Waits for the running work to end (shutting down, tests); True when it did."""
        return bool(self._pool.waitForDone(ms))


_shared: Background | None = None


def background() -> Background:
    """The app's one pool for slow work (parented to the application, so it lives as long as it)."""
    global _shared
    if _shared is None or not shiboken6.isValid(_shared):
        _shared = Background(QCoreApplication.instance())
    return _shared
