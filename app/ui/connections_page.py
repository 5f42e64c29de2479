"""Settings → Connections: the shops whose orders, customers and checkouts flow in by polling
(app/connectors), each with its status, last poll and last error, and a form to add one.

"Test connection" really calls the shop's API with the values on the page (saved or not) and shows
what it answered; "Save connection" tests again and stores the token or keys in the keyring and the
shop in the database (nothing is stored when the shop refuses). Everything slow runs on the
background pool (app/ui/background.py); the list refreshes every few seconds while the dialog is open.
Non-blocking like the other dialogs (`open()`).
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMessageBox, QPushButton, QStackedWidget,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)
from sqlalchemy.engine import Engine

from app.connectors.store import ShopConnection, ago, list_connections

from .background import Background, background
from .channel_form import error_colour, ok_colour
from .form import help_label
from .wheel import guard_application

REFRESH_MS = 5000
PLATFORMS = (
    ("shopify", "Shopify",
     "In your Shopify admin: Settings → Apps and sales channels → Develop apps → Create an app. Under "
     "Configuration → Admin API, give it the scopes read_orders, read_customers and read_checkouts, install it, "
     "and copy the Admin API access token (shpat_…). No public address is needed: the app asks Shopify."),
    ("woocommerce", "WooCommerce",
     "In WordPress: WooCommerce → Settings → Advanced → REST API → Add key, with permission Read. Copy the "
     "consumer key (ck_…) and secret (cs_…). The store must be reached over HTTPS."),
)
COLUMNS = ("Shop", "Status", "Last poll", "Events", "Last error")


def status_words(c: ShopConnection) -> str:
    """"Live", "Importing history" or "Failing" (the error is in its own column)."""
    if c.failing:
        return "Failing"
    return "Importing history" if c.phase == "history" else "Live"


class _ShopForm(QWidget):
    """The fields of one platform: the address and the secrets (never shown once typed)."""

    def __init__(self, kind: str, intro: str) -> None:
        super().__init__()
        self.kind = kind
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(help_label(intro))
        form = QFormLayout()
        column.addLayout(form)
        self.address = QLineEdit()
        self.fields: dict[str, QLineEdit] = {}
        parts: tuple[tuple[str, str, str], ...]
        if kind == "shopify":
            self.address.setPlaceholderText("corner-shop.myshopify.com")
            form.addRow("Shop address", self.address)
            parts = (("token", "Admin API access token", "shpat_…"),)
        else:
            self.address.setPlaceholderText("https://shop.example")
            form.addRow("Store URL", self.address)
            parts = (("key", "Consumer key", "ck_…"), ("secret", "Consumer secret", "cs_…"))
        for part, label, hint in parts:
            line = QLineEdit()
            line.setEchoMode(QLineEdit.EchoMode.Password)
            line.setPlaceholderText(hint)
            line.setObjectName(f"{kind}_{part}")
            self.fields[part] = line
            form.addRow(label, line)

    def values(self) -> tuple[str, dict[str, str | None]]:
        return self.address.text().strip(), {p: f.text().strip() or None for p, f in self.fields.items()}

    def clear(self) -> None:
        self.address.clear()
        for line in self.fields.values():
            line.clear()


class ConnectionsDialog(QDialog):
    """The connected shops and the form to add one; `saved(connection id)` after one was stored."""

    saved = Signal(str)

    def __init__(self, engine: Engine, parent: QWidget | None = None, pool: Background | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        super().__init__(parent)
        guard_application()
        self.engine = engine
        self.pool = pool or background()
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.setWindowTitle("Connections")
        self.setMinimumWidth(720)
        column = QVBoxLayout(self)
        column.addWidget(help_label("Shops whose orders, customers and abandoned checkouts come in by themselves, "
                                    "polled every minute while the app or the background service runs. The first "
                                    "poll imports the shop's history without starting any journey."))
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        # Rows as tall as their text: a long error is read whole, not cut at the column's edge.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.table.horizontalHeader()
        for i in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setMinimumHeight(130)
        column.addWidget(self.table)
        self.empty = QLabel("No shop is connected yet: add one below.")
        self.empty.setObjectName("empty")
        column.addWidget(self.empty)
        row = QHBoxLayout()
        self.poll_button = QPushButton("Poll now")
        self.poll_button.clicked.connect(self.poll_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        row.addWidget(self.poll_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        column.addLayout(row)

        box = QGroupBox("Add a shop")
        inner = QVBoxLayout(box)
        self.platform = QComboBox()
        self.forms = QStackedWidget()
        self.by_kind: dict[str, _ShopForm] = {}
        for kind, title, intro in PLATFORMS:
            self.platform.addItem(title, kind)
            form = _ShopForm(kind, intro)
            self.by_kind[kind] = form
            self.forms.addWidget(form)
        self.platform.currentIndexChanged.connect(self._platform_changed)
        top = QFormLayout()
        top.addRow("Platform", self.platform)
        inner.addLayout(top)
        inner.addWidget(self.forms)
        actions = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test)
        self.save_button = QPushButton("Save connection")
        self.save_button.clicked.connect(self.save)
        actions.addWidget(self.test_button)
        actions.addWidget(self.save_button)
        actions.addStretch(1)
        inner.addLayout(actions)
        self.said = QLabel()
        self.said.setObjectName("result")
        self.said.setWordWrap(True)
        self.said.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.said.hide()
        inner.addWidget(self.said)
        column.addWidget(box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
        self.connections: list[ShopConnection] = []
        self.asked = 0               # the latest test asked (an older answer is not shown)
        self.closed = threading.Event()      # set when the dialog goes: a "Poll now" stops after its page
        self.finished.connect(lambda _result: self.closed.set())
        self.destroyed.connect(lambda _obj=None, closed=self.closed: closed.set())
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.closed.set)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REFRESH_MS)
        self.refresh()

    # --- the list --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reads the connections on the worker; the table shows them when they come."""
        self.pool.run(lambda: list_connections(self.engine), self.show_connections, owner=self)

    def show_connections(self, found: list[ShopConnection]) -> None:
        selected = self.selected()
        self.connections = found
        now = self.now()
        self.table.setRowCount(len(found))
        for row, c in enumerate(found):
            cells = (c.address, status_words(c), ago(c.last_poll_at, now, local=True), f"{c.received:,}", c.last_error or "")
            for col, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if col == 0:
                    item.setToolTip(c.id)
                if col == 1 and c.failing:
                    item.setForeground(self._colour(error_colour()))
                elif col == 1 and c.phase == "live":
                    item.setForeground(self._colour(ok_colour()))
                if col == 4 and value:
                    item.setToolTip(value)
                self.table.setItem(row, col, item)
            if selected is not None and c.id == selected.id:
                self.table.selectRow(row)
        self.empty.setVisible(not found)
        self.table.setVisible(bool(found))
        self.poll_button.setEnabled(bool(found))
        self.remove_button.setEnabled(bool(found))

    @staticmethod
    def _colour(name: str) -> Any:
        from PySide6.QtGui import QColor

        return QColor(name)

    def selected(self) -> ShopConnection | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if rows and rows[0].row() < len(self.connections):
            return self.connections[rows[0].row()]
        return self.connections[0] if len(self.connections) == 1 else None

    def poll_selected(self) -> None:
        chosen = self.selected()
        if chosen is None:
            self._say("Choose a shop in the list first.", error=True)
            return
        self._say(f"Polling {chosen.address}…")
        closed = self.closed

        def work() -> str:
            from app.connectors.jobs import poll_now
            from app.engine.engine import JourneyEngine

            # Ends after the page in hand once the dialog closes or the app quits: a big shop's first
            # import must not hold the app's quit (or its small worker pool) for an hour.
            report = poll_now(JourneyEngine(self.engine), chosen.id, stop=closed.is_set)
            if report is None:
                return f"{chosen.address} is being polled already; its status here follows."
            return report.summary()
        def done(text: str) -> None:
            self._say(text, error="failed:" in text)
            self.refresh()
        self.pool.run(work, done, lambda exc: self._say(f"The poll failed: {exc}", error=True), owner=self)

    def remove_selected(self) -> None:
        """Asks first (non-blocking): a removal forgets the shop's token or keys and where its polls stood."""
        chosen = self.selected()
        if chosen is None:
            self._say("Choose a shop in the list first.", error=True)
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Disconnect the shop?", f"Disconnect {chosen.address}?",
                          parent=self)
        box.setInformativeText("Its orders, customers and checkouts stop coming in and its "
                               f"{'token' if chosen.kind == 'shopify' else 'keys'} leave the keyring. What it "
                               "brought stays. Connecting it again imports its history again, starting nothing.")
        confirm = box.addButton("Disconnect", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self._remove(chosen) if button is confirm else None)
        self.remove_box = box
        box.open()

    def _remove(self, chosen: ShopConnection) -> None:
        def work() -> None:
            from app.connectors.secrets import forget_secrets
            from app.connectors.store import remove_connection

            remove_connection(self.engine, chosen.id)
            forget_secrets(chosen.id)

        def done(_: object) -> None:
            self._say(f"Removed {chosen.address}; the events it brought stay.")
            self.refresh()
        self.pool.run(work, done, lambda exc: self._say(f"✗ Not removed: {exc}", error=True), owner=self)

    # --- adding a shop -------------------------------------------------------------------------------

    def _platform_changed(self, index: int) -> None:
        self.forms.setCurrentIndex(index)
        self.asked += 1              # a test still on its way answers for the other form: not shown here
        self.said.hide()

    def _current(self, ticket: int, show: Callable[[Any], None]) -> Callable[[Any], None]:
        """`show`, only while the form the answer is about is still the one asked (else dropped)."""
        def shown(value: Any) -> None:
            self.test_button.setEnabled(True)
            if ticket == self.asked:
                show(value)
        return shown

    def form(self) -> _ShopForm:
        return self.by_kind[str(self.platform.currentData())]

    def test(self) -> None:
        """Calls the shop's API with the values on the page, on the worker; shows ✓ and what it said, or ✗ why."""
        form = self.form()
        address, secrets = form.values()
        self._say("Testing… (this may take up to half a minute)")
        self.test_button.setEnabled(False)
        self.asked += 1
        ticket = self.asked

        def work() -> str:
            from app.connectors.setup import test_connection

            return test_connection(form.kind, address, secrets)
        self.pool.run(work, self._current(ticket, lambda said: self._say(f"✓ {said}")),
                      self._current(ticket, lambda exc: self._say(f"✗ {exc}", error=True)), owner=self)

    def save(self) -> None:
        """Tests, then stores (keyring and database) on the worker; nothing is stored when the shop refuses."""
        form = self.form()
        address, secrets = form.values()
        self._say("Testing and saving…")
        self.save_button.setEnabled(False)

        def work() -> tuple[str, str]:
            from app.connectors.setup import connect

            return connect(self.engine, form.kind, address, secrets, self.now())

        def done(found: tuple[str, str]) -> None:
            self.save_button.setEnabled(True)
            form.clear()
            self._say(f"✓ {found[1]}. Saved: its history comes in with the first poll, starting no journey.")
            self.saved.emit(found[0])
            self.refresh()

        def failed(exc: Exception) -> None:
            self.save_button.setEnabled(True)
            self._say(f"✗ Not saved: {exc}", error=True)
        self.pool.run(work, done, failed, owner=self)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.said.setText(text)
        self.said.setStyleSheet(f"color: {error_colour() if error else ok_colour() if text.startswith('✓') else ''};")
        self.said.setVisible(bool(text))


def open_connections(window: QWidget, engine: Engine) -> ConnectionsDialog:
    """Shows the Connections dialog without blocking; one at a time."""
    found = window.findChild(ConnectionsDialog)
    if found is not None and found.isVisible():
        found.raise_()
        found.activateWindow()
        return found
    dialog = ConnectionsDialog(engine, window)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog
