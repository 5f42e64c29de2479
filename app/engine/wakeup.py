"""Waking the intake job when the receiver has stored requests (the service's and the window's engine)."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .scheduler import LiveEngine


class IntakeWaker:
    """Runs the intake job at once when the receiver has stored requests, without one wake-up per
    request: while a wake-up is pending and its round has not started, `wake()` only tests a flag
    (the receiver calls it after every commit). A round that applied something wakes the tick, so
    the contacts it brought move at once. Shared by `journeys serve` and the window's engine."""

    def __init__(self, live: Callable[[], "LiveEngine | None"]) -> None:
        self._live = live                   # the engine running now, if any
        self._pending = threading.Event()

    def wake(self) -> None:
        live = self._live()
        if live is None or self._pending.is_set():
            return
        self._pending.set()
        live.wake("intake")

    def round(self, job: Callable[[], object]) -> Callable[[], object]:
        """`job` (the intake job) clearing the pending wake-up first (requests stored from then on wake
        it again) and waking the tick when it applied something."""
        def run() -> object:
            self._pending.clear()
            applied = job()
            live = self._live()
            if applied and live is not None:
                live.wake("tick")
            return applied
        return run

