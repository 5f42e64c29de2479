"""The dead-letter list (app/intake/dead_letters.py) as a table with "Retry": what was accepted but
could not be applied, when it came and why, newest first. Read and retried on a worker."""
from __future__ import annotations

from datetime import datetime, timezone
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)
from sqlalchemy.engine import Engine

from app.engine.engine import JourneyEngine
from app.intake.dead_letters import DeadLetter, Retried, dead_letters, retry

from .background import Background
from .form import help_label


def received_text(at: datetime) -> str:
    """When an entry came, in this computer's own time zone, as the rest of the window says times:
    "2026-11-30 09:44 EST"."""
    local = (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone()
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


class DeadLettersView(QWidget):
    """`counted(total)` after each read."""

    counted = Signal(int)

    def __init__(self, engine: Engine, pool: Background, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine, self.pool = engine, pool
        column = QVBoxLayout(self)
        column.addWidget(help_label("Requests the receiver accepted, and events, that could not be applied — "
                                    "a webhook naming no email or phone, a status about a message this app did not "
                                    "send. Nothing is dropped: fix the cause, then Retry."))
        self.table = QTreeWidget()
        self.table.setHeaderLabels(["Received", "What", "Why"])
        self.table.setRootIsDecorated(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.currentItemChanged.connect(self._detail)
        header = self.table.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 230)
        header.setStretchLastSection(True)
        column.addWidget(self.table, 1)
        self.detail = QLabel()
        self.detail.setObjectName("deadLetterDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.detail)
        row = QHBoxLayout()
        self.status = QLabel()
        self.status.setWordWrap(True)
        row.addWidget(self.status, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.retry_button = QPushButton("Retry all")
        self.retry_button.setToolTip("Apply every dead letter again; what still fails stays here with its new reason")
        self.retry_button.clicked.connect(self.retry)
        row.addWidget(self.refresh_button)
        row.addWidget(self.retry_button)
        column.addLayout(row)

    def refresh(self) -> None:
        self.pool.run(lambda: dead_letters(self.engine, 500), self._show, self._failed, owner=self)

    def retry(self) -> None:
        self.retry_button.setEnabled(False)
        self.status.setText("Retrying…")
        self.pool.run(lambda: retry(JourneyEngine(self.engine)), self._retried, self._retry_failed, owner=self)

    def _retry_failed(self, exc: Exception) -> None:
        self.retry_button.setEnabled(True)
        self.status.setText(f"The retry failed: {exc}. Nothing was lost; try again in a moment.")

    def _retried(self, done: Retried) -> None:
        self.retry_button.setEnabled(True)
        self.status.setText(f"Retried {done.tried}: {done.applied} applied, {done.still_dead} still set aside.")
        self.refresh()

    def _failed(self, exc: Exception) -> None:
        self.retry_button.setEnabled(True)
        self.status.setText(f"Could not read the dead letters: {exc}")

    def _detail(self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None = None) -> None:
        """The whole reason and the stored request of the chosen entry, below the table."""
        if current is None:
            self.detail.setText("Choose an entry to see its whole reason and what was received.")
            return
        entry: DeadLetter = current.data(0, Qt.ItemDataRole.UserRole)
        where = {"receiver": "received over HTTP", "engine": "an event the engine set aside"}.get(entry.kind, entry.kind)
        self.detail.setText(f"<b>{escape(entry.what)}</b> ({where}): {escape(entry.reason)}<br>"
                            f"<code>{escape(entry.detail[:600])}</code>")

    def _show(self, found: tuple[int, list[DeadLetter]]) -> None:
        total, items = found
        self.table.clear()
        for item in items:
            row = QTreeWidgetItem([received_text(item.received_at),
                                   item.what, item.reason])
            row.setData(0, Qt.ItemDataRole.UserRole, item)
            row.setToolTip(1, item.detail)
            row.setToolTip(2, item.reason)
            self.table.addTopLevelItem(row)
        self.retry_button.setEnabled(bool(total))
        first = self.table.topLevelItem(0)
        if first is not None:
            self.table.setCurrentItem(first)
        else:
            self.detail.setText("")
        if not self.status.text().startswith("Retried"):
            self.status.setText("Nothing set aside: everything was applied." if not total
                                else f"{total} set aside." + (f" The newest {len(items)} are shown." if len(items) < total
                                                             else ""))
        self.counted.emit(total)
