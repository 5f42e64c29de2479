"""The app's settings: the business's time zone, stored in the database; the background service; and
the way to the shop connections and the receiver (Settings → Connections…, → Receiver…).

Asked once on first start (when none is set), with the computer's own zone as
the suggestion; reachable any time from File → Settings. The dialog is
non-blocking (`open()`, never `exec()`): the engine and the window carry on
while it is up.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
                               QWidget)
from sqlalchemy.engine import Engine

from app.canvas.style import theme
from app.store.app_settings import business_timezone, set_business_timezone
from app.store.errors import StoreError

from .editors import ZonePicker
from .form import form_label, help_label
from .wheel import guard_application

if TYPE_CHECKING:
    from .background_service import BackgroundService

EXPLANATION = ("Quiet hours, waits until a time of day, anniversaries and “N days” are judged in each "
               "contact's own time zone. Contacts without one use this time zone (a journey may choose "
               "another in its settings).")


def guess_local_zone() -> str:
    """The computer's IANA time zone (via tzlocal), or UTC when it cannot be told."""
    try:
        from tzlocal import get_localzone_name

        from app.journey.schema import timezone_names

        name = get_localzone_name()
        if name in ("Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu"):
            return "UTC"
        return name if name in timezone_names() else "UTC"
    except Exception:        # no zone configured, an odd /etc/localtime: a suggestion only
        return "UTC"


class SettingsDialog(QDialog):
    """Edits the app settings; `saved(zone)` after they were written to the database."""

    saved = Signal(str)

    def __init__(self, engine: Engine, parent: QWidget | None = None, *, first_start: bool = False,
                 background: "BackgroundService | None" = None) -> None:
        super().__init__(parent)
        guard_application()     # the wheel edits no field without focus, in every window
        self.engine = engine
        self.setWindowTitle("Welcome to Journey Studio" if first_start else "Settings")
        self.setMinimumWidth(460)
        current = business_timezone(engine)
        column = QVBoxLayout(self)
        if first_start:
            heading = QLabel("Where is your business?")
            heading.setObjectName("heading")
            column.addWidget(heading)
        column.addWidget(form_label("Your business's time zone"))
        self.zone = ZonePicker()
        self.zone.set_value(current or guess_local_zone())
        column.addWidget(self.zone)
        column.addWidget(help_label(EXPLANATION + (" We suggest your computer's time zone; you can change it "
                                                   "later under File → Settings." if first_start else "")))
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setStyleSheet(f"color: {'#ff8a8a' if theme().dark else '#c62828'};")
        self.error.setWordWrap(True)
        self.error.hide()
        column.addWidget(self.error)
        self.background, self.keep_running = background, None
        if background is not None and background.plan() is not None:     # issue 13: the background service
            from .background_service import SETTING_HELP, SETTING_TEXT

            self.keep_running = QCheckBox(SETTING_TEXT)
            self.keep_running.setChecked(background.installed())
            column.addSpacing(12)
            column.addWidget(self.keep_running)
            column.addWidget(help_label(SETTING_HELP))
            self.service_state = help_label("")
            self.service_state.hide()
            column.addWidget(self.service_state)
            background.check(self._show_service_state, owner=self)
            column.addSpacing(8)
        self.connections_button: QPushButton | None = None
        self.receiver_button: QPushButton | None = None
        if not first_start and parent is not None:          # issue 13: "Settings → Connections"
            self._add_shop_buttons(column, parent)
        self.zone.refused.connect(lambda text: self._show_error(
            f"“{text}” is not a time zone: pick one from the list (type part of a city, e.g. “berlin”)."))
        self.zone.picked.connect(lambda _name: self.error.hide())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        if first_start:
            buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Not now")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)

    def _add_shop_buttons(self, column: QVBoxLayout, window: QWidget) -> None:
        """Connections… (shops polled for orders, customers and checkouts) and Receiver… (webhooks, the
        token, the public URL, dead letters): the same dialogs as File → Connections… and File → Receiver…."""
        from .connections_page import open_connections
        from .receiver_page import open_receiver

        column.addSpacing(4)
        column.addWidget(form_label("Your shop and other senders"))
        row = QHBoxLayout()
        connections = self.connections_button = QPushButton("Connections…")
        connections.setToolTip("Connect a Shopify or WooCommerce shop: its orders, customers and "
                                           "checkouts come in by themselves, no public address needed")
        connections.clicked.connect(lambda: open_connections(window, self.engine))
        receiver = self.receiver_button = QPushButton("Receiver…")
        receiver.setToolTip("Webhooks and Segment-compatible tools: the token, the public URL, "
                                        "signing secrets and the dead-letter list")
        receiver.clicked.connect(lambda: open_receiver(window, self.engine))
        row.addWidget(connections)
        row.addWidget(receiver)
        row.addStretch(1)
        column.addLayout(row)
        column.addSpacing(8)

    def _show_service_state(self, text: str) -> None:
        self.service_state.setText(text)
        self.service_state.show()
        self.adjustSize()

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.adjustSize()

    def save(self) -> None:
        """Stores the chosen zone and closes; a database error is shown in the dialog, which stays open."""
        if not self.zone.commit_text():       # a name typed but not confirmed with Enter, and wrong
            return
        name = self.zone.value() or ""
        try:
            stored = set_business_timezone(self.engine, name)
        except StoreError as exc:
            self._show_error(str(exc))
            return
        if self.keep_running is not None and self.background is not None \
                and self.keep_running.isChecked() != self.background.installed():
            self.background.set_keep_running(self.keep_running.isChecked())      # reports in the status bar
        self.saved.emit(stored)
        self.accept()
