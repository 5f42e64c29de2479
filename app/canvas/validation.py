"""Live validation: re-checks the journey about 150 ms after the last edit, off the GUI thread.

Debounced so a burst of edits (typing, a paste) costs one validation, and run from a
timer, never from paint. Validation compiles and trial-renders the message templates
(app/journey/templates.inspect_template), which takes up to the render budget per
template, so it never runs on the GUI thread: a copy of the journey is checked on a
worker thread and the problems come back through a queued signal. A result that an
edit made since has outdated is dropped.
"""
from __future__ import annotations

import copy
import logging
from itertools import count

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

from app.journey.model import Journey
from app.journey.templates import VariableCatalog
from app.journey.validate import Problem, validate

from .document import JourneyDocument

DELAY_MS = 150
log = logging.getLogger(__name__)


class _Relay(QObject):
    """Carries a finished check from the worker to the GUI thread (it lives on the GUI thread)."""

    done = Signal(int, object)      # generation, list[Problem] or None (the check failed)


class _Check(QRunnable):
    def __init__(self, relay: _Relay, generation: int, latest: list[int], journey: Journey,
                 catalog: VariableCatalog | None, public_url: str | None = None) -> None:
        super().__init__()
        self.relay, self.generation, self.latest = relay, generation, latest
        self.journey, self.catalog, self.public_url = journey, catalog, public_url

    def run(self) -> None:
        if self.generation != self.latest[0]:       # an edit came since: a newer check is queued
            self.relay.done.emit(self.generation, None)
            return
        try:
            problems: list[Problem] | None = validate(self.journey, catalog=self.catalog, public_url=self.public_url)
        except Exception:  # noqa: BLE001 - a bug in a check must not take the window down
            log.exception("validation failed")
            problems = None
        self.relay.done.emit(self.generation, problems)


class LiveValidator(QObject):
    """`problems_changed(list[Problem])` after a check that found something different;
    `checked()` after every check of the journey as it is now."""

    problems_changed = Signal(list)
    checked = Signal()

    def __init__(self, doc: JourneyDocument, parent: QObject | None = None,
                 catalog: VariableCatalog | None = None, public_url: str | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.catalog = catalog      # variables seen in the store, so templates are checked against them
        # The store's public URL ("" = none): steps relying on opens and clicks warn when they are not measured.
        self.public_url = public_url
        self.problems: list[Problem] = []
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self.run_now)
        doc.changed.connect(self.timer.start)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._generations = count(1)
        self._latest = [0]           # shared with the workers: the generation worth checking
        self._done = 0               # the last generation whose result arrived
        self._relay = _Relay()
        self._relay.done.connect(self._arrived)

    def run_now(self) -> None:
        """Checks the journey as it is now, on the worker; the result arrives later (`checked`)."""
        self.timer.stop()
        generation = next(self._generations)
        self._latest[0] = generation
        snapshot = copy.deepcopy(self.doc.journey)      # the worker must not read what the user edits
        self._pool.start(_Check(self._relay, generation, self._latest, snapshot, self.catalog,
                                self.public_url))

    def idle(self) -> bool:
        """True when the problems are those of the journey as it was at the last `run_now`."""
        return self._done == self._latest[0]

    def wait(self, timeout_ms: int = 30_000) -> list[Problem]:
        """Checks now and waits for the result (for tests and the screenshot; the app itself never
        waits). Only the result is delivered meanwhile, no other event: what the caller does next
        sees the window as it left it."""
        self.run_now()
        self._pool.waitForDone(timeout_ms)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        return self.problems

    def shutdown(self) -> None:
        """Drops queued checks and waits for the one running (the window is closing)."""
        self._latest[0] = -1
        self._pool.clear()
        self._pool.waitForDone(10_000)

    @Slot(int, object)
    def _arrived(self, generation: int, problems: list[Problem] | None) -> None:
        if generation != self._latest[0]:
            return
        self._done = generation
        if problems is not None and problems != self.problems:
            self.problems = problems
            self.problems_changed.emit(problems)
        self.checked.emit()
