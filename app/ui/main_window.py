"""The main window: the journeys in the store and an overview of the selected one.

This is the foundation's window; the canvas replaces the overview pane.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QLabel, QListWidget, QListWidgetItem, QMainWindow, QSplitter, QVBoxLayout,
                               QWidget)

from app.journey.fileformat import JourneyFileError, from_document, load
from app.journey.model import Journey
from app.journey.validate import ERROR, validate
from app.store.journeys import JourneyRow, JourneyStore

_STATUS_COLOURS = {"draft": "#6b7280", "active": "#15803d", "paused": "#b45309", "stopped": "#b91c1c"}


class MainWindow(QMainWindow):
    def __init__(self, store: JourneyStore) -> None:
        super().__init__()
        self.store = store
        self.setWindowTitle("Journey Studio")
        self.resize(1100, 700)
        self.journeys = QListWidget()
        self.journeys.setMinimumWidth(260)
        self.journeys.currentItemChanged.connect(self._show_selected)
        self.overview = QLabel()
        self.overview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.overview.setWordWrap(True)
        self.overview.setTextFormat(Qt.TextFormat.RichText)
        pane = QWidget()
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(self.overview)
        splitter = QSplitter()
        splitter.addWidget(self.journeys)
        splitter.addWidget(pane)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.refresh()

    def refresh(self) -> None:
        self.journeys.clear()
        for row in self.store.list():
            item = QListWidgetItem(f"{row.name}\n{row.status} · edited {row.updated_at:%d %b %Y %H:%M}")
            item.setData(Qt.ItemDataRole.UserRole, row.id)
            self.journeys.addItem(item)
        if self.journeys.count():
            self.journeys.setCurrentRow(0)
        else:
            self.overview.setText("<h2>No journeys yet</h2><p>Import a journey file with "
                                  "<code>journeys import FILE</code>.</p>")

    def _show_selected(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        row = self.store.get(item.data(Qt.ItemDataRole.UserRole))
        if row is None:
            return
        try:
            journey = from_document(self.store.load_draft(row.id), f"journey {row.name!r}")
        except JourneyFileError as exc:
            self.overview.setText(f"<h2>{row.name}</h2><p style='color:#b91c1c'>{exc}</p>")
            return
        self.show_journey(journey, row)

    def show_journey(self, journey: Journey, row: JourneyRow | None = None) -> None:
        status = row.status if row else "file"
        colour = _STATUS_COLOURS.get(status, "#6b7280")
        problems = validate(journey)
        errors = sum(p.severity == ERROR for p in problems)
        verdict = ("<span style='color:#15803d'>Ready to activate</span>" if not problems else
                   f"<span style='color:#b91c1c'>{errors} error(s)</span>, {len(problems) - errors} warning(s)")
        steps = "".join(f"<li><b>{n.spec.title}</b> — {n.title}</li>" for n in journey.nodes.values())
        self.overview.setText(
            f"<h2>{journey.name} <span style='color:{colour}; font-size:small'>{status}</span></h2>"
            f"<p>{journey.description}</p><p>{verdict}</p><ol>{steps}</ol>")

    def screenshot(self, path: str, journey_file: str | None = None) -> int:
        if journey_file:
            try:
                self.show_journey(load(journey_file))
            except JourneyFileError as exc:
                print(f"journey-studio: {exc}")
                return 2
        self.resize(1400, 900)
        self.show()
        return 0 if self.grab().save(path) else 2
