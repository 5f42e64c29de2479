"""Messages with unknown fate: handed to the provider, and no answer ever recorded (the connection
dropped, the app was killed), so each may or may not have arrived. They are never resent by themselves:
this list shows them, with a **Resend** per message that asks first, since it may arrive twice.

The Journey menu's item carries the count ("Messages with unknown fate (2)…"), read every half minute
on a worker thread.
"""
from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QMessageBox,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)
from sqlalchemy.engine import Engine

from app.delivery.unknown import UnknownMessage, count_unknown, resend, unknown_messages

from .background import Background, background
from .form import help_label
from .wheel import guard_application

COUNT_MS = 30_000
_HEADERS = ["Created", "Channel", "To", "Journey", "Message", "Why unknown", ""]


class UnknownMessagesDialog(QDialog):
    """The list, newest first, with Resend per message; `changed()` after a resend."""

    def __init__(self, engine: Engine, parent: QWidget | None = None, pool: Background | None = None) -> None:
        super().__init__(parent)
        guard_application()
        self.engine, self.pool = engine, pool or background()
        self.messages: list[UnknownMessage] = []
        self.setWindowTitle("Messages with unknown fate")
        self.resize(1040, 380)
        column = QVBoxLayout(self)
        column.addWidget(help_label(
            "These messages were handed to the provider, but no answer was recorded (the connection dropped, "
            "or the app stopped at that moment). Each may have arrived. They are never sent again by "
            "themselves; Resend sends one once more — it may then arrive twice."))
        self.table = QTableWidget(0, len(_HEADERS))
        self.table.setObjectName("unknownMessages")
        self.table.setHorizontalHeaderLabels(_HEADERS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for i in range(len(_HEADERS)):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        # The reason can be long: a fixed column, whole in the tooltip, so Resend stays in view.
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(5, 180)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        column.addWidget(self.table, 1)
        self.status = QLabel("Reading…")
        self.status.setObjectName("help")
        column.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
        self.reload()

    def reload(self) -> None:
        engine = self.engine
        self.pool.run(lambda: unknown_messages(engine, 500), self._show, self._read_failed, owner=self)

    def _read_failed(self, exc: Exception) -> None:
        self.status.setText(f"The list could not be read: {exc}")

    def _show(self, found: list[UnknownMessage]) -> None:
        self.messages = found
        self.table.setRowCount(len(found))
        for row, m in enumerate(found):
            when = f"{m.created_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC" if m.created_at.tzinfo else \
                f"{m.created_at:%Y-%m-%d %H:%M} UTC"
            for col, text in enumerate((when, m.channel, m.recipient, m.journey or "—", m.subject, m.error)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
            button = QPushButton("Resend…")
            button.setObjectName(f"resend:{m.id}")
            button.clicked.connect(lambda _=False, mid=m.id: self.ask_resend(mid))
            self.table.setCellWidget(row, len(_HEADERS) - 1, button)
        self.status.setText("No messages with an unknown fate." if not found else
                            f"{len(found)} message(s) with an unknown fate.")

    def ask_resend(self, message_id: int) -> bool:
        """Asks ("it may arrive twice"), then queues the message for one more attempt; True when asked to."""
        m = next((m for m in self.messages if m.id == message_id), None)
        if m is None:
            return False
        answer = QMessageBox.question(
            self, "Resend this message?",
            f"Send “{m.subject or 'this message'}” to {m.recipient} once more?\n\nIt may have arrived already: "
            "the contact may then get it twice.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.resend_now([message_id])
        return True

    def resend_now(self, ids: list[int]) -> None:
        engine = self.engine
        self.pool.run(lambda: resend(engine, ids, datetime.now(timezone.utc)), self._resent, self._read_failed,
                      owner=self)

    def _resent(self, done: int) -> None:
        self.status.setText(f"Queued {done} message(s) for one more attempt.")
        self.reload()


class UnknownFateAction(QObject):
    """The menu item, its count kept fresh, and the dialog it opens."""

    def __init__(self, window: QWidget, engine: Engine, action: QAction, pool: Background | None = None,
                 badge: QPushButton | None = None) -> None:
        super().__init__(window)
        self.window, self.engine, self.action, self.badge = window, engine, action, badge
        if badge is not None:
            badge.clicked.connect(lambda _=False: self.open())
        self.pool = pool or background()
        self.count = 0
        self._counting = False
        self._again = False             # a refresh was asked while counting
        action.triggered.connect(lambda _=False: self.open())
        self.timer = QTimer(self)
        self.timer.setInterval(COUNT_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self._label()
        self.refresh()

    def refresh(self) -> None:
        if self._counting:              # a count is under way: it may predate what changed, so count again after it
            self._again = True
            return
        self._counting, self._again = True, False
        engine = self.engine
        self.pool.run(lambda: count_unknown(engine), self._counted, lambda _exc: self._counted(self.count),
                      owner=self)

    def _counted(self, count: int) -> None:
        self._counting = False
        self.count = count
        self._label()
        if self._again:
            self.refresh()

    def _label(self) -> None:
        self.action.setText(f"Messages with unknown fate ({self.count})…" if self.count else
                            "Messages with unknown fate…")
        self.action.setToolTip("Messages handed to a provider without an answer: each may have arrived")
        if self.badge is not None:
            self.badge.setText(f"⚠ {self.count} message{'' if self.count == 1 else 's'} with unknown fate")
            self.badge.setToolTip("Handed to the provider without an answer: each may have arrived. Click to see "
                                  "them and resend one if you choose.")
            self.badge.setVisible(self.count > 0)

    def open(self) -> UnknownMessagesDialog:
        dialog = UnknownMessagesDialog(self.engine, self.window, self.pool)
        dialog.finished.connect(lambda _r: self.refresh())
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog
