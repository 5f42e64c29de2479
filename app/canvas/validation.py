"""Live validation: re-checks the journey about 150 ms after the last edit.

Debounced so a burst of edits (typing, a paste) costs one validation, and run
from a timer, never from paint.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.journey.templates import VariableCatalog
from app.journey.validate import Problem, validate

from .document import JourneyDocument

DELAY_MS = 150


class LiveValidator(QObject):
    problems_changed = Signal(list)

    def __init__(self, doc: JourneyDocument, parent: QObject | None = None,
                 catalog: VariableCatalog | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.catalog = catalog      # variables seen in the store, so templates are checked against them
        self.problems: list[Problem] = []
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self.run_now)
        doc.changed.connect(self.timer.start)

    def run_now(self) -> list[Problem]:
        self.timer.stop()
        problems = validate(self.doc.journey, catalog=self.catalog)
        if problems != self.problems:
            self.problems = problems
            self.problems_changed.emit(problems)
        return problems
