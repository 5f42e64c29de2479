"""File → Contacts: find a contact by id, email, phone or name and see its timeline across all
journeys (app/ui/timeline_view.py), its fields, tags, consent per channel and the history of every
consent change (newest first).

The search scans the contacts table, which can hold 100,000 rows, so it runs on
the engine host's worker and only the newest answer is shown. Reading one
contact's detail is a few indexed reads and is done directly.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QMessageBox, QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout,
                               QWidget)
from sqlalchemy.engine import Engine

from app.canvas.style import theme
from app.engine.consent import SUBSCRIBED, UNSUBSCRIBED, set_by_hand
from app.engine.timeline_words import source_words
from app.store.contacts import ContactDetail, ContactSummary, contact_detail, find_contacts

from .engine_host import EngineHost
from .timeline_view import TimelineView
from .theme import colours
from .wheel import guard_application

_ID = Qt.ItemDataRole.UserRole
CHANNEL_WORDS = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp"}
STATE_WORDS = {"subscribed": "Subscribed", "unsubscribed": "Opted out", "unknown": "Never asked"}
_LIGHT_STATES = {"subscribed": "#1e8e3e", "unsubscribed": "#d93025", "unknown": "#6b7280"}
_DARK_STATES = {"subscribed": "#5cc98a", "unsubscribed": "#ff7b70", "unknown": "#a8b0bf"}


def state_colour(state: str) -> str:
    return (_DARK_STATES if theme().dark else _LIGHT_STATES).get(state, "")
FIELD_WORDS = (("email", "Email"), ("phone", "Phone"), ("timezone", "Time zone"), ("lifetime_spend", "Lifetime spend"),
               ("order_count", "Orders"), ("last_order_at", "Last order"), ("created_at", "Added"),
               ("updated_at", "Last updated"))
SEARCH_DELAY_MS = 200


def when(at: datetime | None) -> str:
    return f"{at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC" if at else ""


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    for i in range(len(headers) - 1):
        header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def _stretch(table: QTableWidget, column: int) -> None:
    """Let `column` take the spare width (instead of the last one)."""
    header = table.horizontalHeader()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(table.columnCount() - 1, QHeaderView.ResizeMode.ResizeToContents)


def _cell(text: str, colour: str | None = None, tip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if colour:
        item.setForeground(QColor(colour))
        font = item.font()
        font.setBold(True)
        item.setFont(font)
    if tip:
        item.setToolTip(tip)
    return item


class ContactPane(QWidget):
    """One contact: heading, fields and tags, consent now (with buttons to change it), consent history."""

    change_requested = Signal(str, str)        # channel, new state

    def __init__(self) -> None:
        super().__init__()
        self.detail: ContactDetail | None = None
        column = QVBoxLayout(self)
        column.setContentsMargins(12, 4, 4, 4)
        self.heading = QLabel()
        self.heading.setObjectName("heading")
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.heading)
        self.fields = QFormLayout()
        self.fields.setHorizontalSpacing(16)
        self.fields.setVerticalSpacing(3)
        column.addLayout(self.fields)
        consent_title = QLabel("Consent")
        consent_title.setObjectName("section")
        column.addWidget(consent_title)
        self.consent = _table(["Channel", "State", "Since", "Source", ""])
        _stretch(self.consent, 3)
        column.addWidget(self.consent)
        history_title = QLabel("Consent history (newest first)")
        history_title.setObjectName("section")
        column.addWidget(history_title)
        self.history = _table(["When", "Channel", "Change", "Source"])
        column.addWidget(self.history, 1)
        self.show_contact(None)

    def show_contact(self, detail: ContactDetail | None, missing: str = "") -> None:
        self.detail = detail
        while self.fields.rowCount():
            self.fields.removeRow(0)
        self.consent.setRowCount(0)
        self.history.setRowCount(0)
        if detail is None:
            self.heading.setText(f"No contact {missing!r}" if missing else "Choose a contact on the left")
            return
        self.heading.setText(f"{detail.name} · {detail.id}" if detail.name else detail.id)
        for key, label in FIELD_WORDS:
            value = detail.fields.get(key)
            if value is None or value == "":
                continue
            text = when(value) if isinstance(value, datetime) else (
                f"{value:,.2f}" if key == "lifetime_spend" else str(value))
            self._field(label, text)
        self._field("Tags", ", ".join(detail.tags) or "none")
        for name, value in sorted(detail.attributes.items()):
            self._field(name, str(value))
        self.consent.setRowCount(len(detail.consent))
        for row, c in enumerate(detail.consent):
            self.consent.setItem(row, 0, _cell(CHANNEL_WORDS.get(c.channel, c.channel)))
            self.consent.setItem(row, 1, _cell(STATE_WORDS.get(c.state, c.state), state_colour(c.state)))
            self.consent.setItem(row, 2, _cell(when(c.changed_at)))
            self.consent.setItem(row, 3, _cell(source_words(c.source), tip=c.source))
            self.consent.setCellWidget(row, 4, self._buttons(c.channel, c.state))
        self.consent.resizeRowsToContents()
        self.consent.setFixedHeight(self.consent.horizontalHeader().height()
                                    + sum(self.consent.rowHeight(r) for r in range(len(detail.consent))) + 4)
        self.history.setRowCount(max(len(detail.history), 1))
        if not detail.history:
            self.history.setItem(0, 0, _cell("No consent recorded yet"))
        for row, h in enumerate(detail.history):
            self.history.setItem(row, 0, _cell(when(h.at)))
            self.history.setItem(row, 1, _cell(CHANNEL_WORDS.get(h.channel, h.channel)))
            change = f"{STATE_WORDS.get(h.previous, h.previous)} → {STATE_WORDS.get(h.state, h.state)}"
            self.history.setItem(row, 2, _cell(change, state_colour(h.state)))
            self.history.setItem(row, 3, _cell(source_words(h.source), tip=h.source))

    def _buttons(self, channel: str, state: str) -> QWidget:
        """What may be changed by hand: opt out unless opted out; record consent unless given."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(4, 1, 4, 1)
        row.setSpacing(4)
        row.addStretch(1)
        for target, text in ((SUBSCRIBED, "Opt back in…" if state == UNSUBSCRIBED else "Record consent…"),
                             (UNSUBSCRIBED, "Opt out")):
            if state == target:
                continue
            button = QPushButton(text)
            button.setObjectName(f"consent:{channel}:{target}")
            button.clicked.connect(lambda _=False, c=channel, t=target: self.change_requested.emit(c, t))
            row.addWidget(button)
        return box

    def button(self, channel: str, state: str) -> QPushButton | None:
        """The button that sets `channel` to `state`, if shown (for tests)."""
        return self.consent.findChild(QPushButton, f"consent:{channel}:{state}")

    def _field(self, label: str, text: str) -> None:
        name = QLabel(label)
        name.setObjectName("help")
        value = QLabel(text)
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fields.addRow(name, value)

    def figures(self) -> dict[str, Any]:
        """What the pane shows (for tests): heading, consent rows, history rows as cell texts."""
        def text(table: QTableWidget, r: int, c: int) -> str:
            item = table.item(r, c)
            return item.text() if item is not None else ""

        def rows(table: QTableWidget) -> list[list[str]]:
            return [[text(table, r, c) for c in range(table.columnCount())] for r in range(table.rowCount())]
        return {"heading": self.heading.text(), "consent": rows(self.consent), "history": rows(self.history)}


class ContactsDialog(QDialog):
    """A search box and the matching contacts on the left, the chosen contact on the right."""

    def __init__(self, db: Engine, host: EngineHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        guard_application()     # the wheel edits no field without focus, in every window
        self.db, self.host = db, host
        self.setWindowTitle("Contacts")
        self.resize(1120, 640)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by id, email, phone or name")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setObjectName("contacts")
        c = colours()
        self.list.setStyleSheet(f"QListWidget#contacts::item {{ padding: 4px 6px; border-bottom: 1px solid "
                                f"{c['border']}; }} QListWidget#contacts::item:selected {{ background: "
                                f"{c['highlight']}; color: #ffffff; }}")
        self.count = QLabel()
        self.count.setObjectName("help")
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addWidget(self.search)
        left_column.addWidget(self.list, 1)
        left_column.addWidget(self.count)
        self.pane = ContactPane()
        self.pane.change_requested.connect(self.change_consent)
        self.timeline = TimelineView(db, host)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.timeline, "Timeline")
        self.tabs.addTab(self.pane, "Details and consent")
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(8, 0, 0, 0)
        right_column.addWidget(self.pane.heading)     # whose timeline or details, above both tabs
        right_column.addWidget(self.tabs, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([270, 850])
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)
        self._asked = 0           # the newest search asked; older answers are dropped
        self._wanted = ""         # a contact to choose once the search shows it (focus_contact)
        self._fresh = False       # the next contact shown has its timeline read again (reopened, asked for)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.run_search)
        self.search.textChanged.connect(lambda _: self._timer.start())
        self.list.currentItemChanged.connect(lambda item, _: self.show_contact(item.data(_ID) if item else ""))
        self.run_search()

    def run_search(self) -> None:
        self._asked += 1
        ticket, text, db = self._asked, self.search.text(), self.db
        self.count.setText("Searching…")
        self.host.submit(lambda: find_contacts(db, text), lambda found: self._found(ticket, found),
                         lambda exc: self.count.setText(f"The contacts could not be read: {exc}"))

    def _found(self, ticket: int, found: list[ContactSummary]) -> None:
        if ticket != self._asked:
            return
        wanted = self._wanted
        chosen = wanted or (self.list.currentItem().data(_ID) if self.list.currentItem() else "")
        self._wanted = ""
        self.list.blockSignals(True)
        self.list.clear()
        for c in found:
            item = QListWidgetItem(f"{c.name or c.email or c.phone or c.id}\n{c.id}"
                                   + (f" · {c.email}" if c.email and c.name else ""))
            item.setData(_ID, c.id)
            self.list.addItem(item)
            if c.id == chosen:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        if wanted and self.list.currentItem() is None:
            self.show_contact(wanted)            # asked for by id and gone: says so, never shows another one
        elif found and self.list.currentItem() is None:
            self.list.setCurrentRow(0)           # shows it through currentItemChanged
        else:                                    # the same contact (read again: it may have changed), or none
            self.show_contact(chosen if found else "")
        shown = f"{len(found)} contact{'' if len(found) == 1 else 's'}"
        self.count.setText("No contacts match" if not found and self.search.text().strip()
                           else "No contacts yet: File → Import contacts (CSV)" if not found
                           else f"First {shown}; type to narrow" if len(found) >= 200 else shown)

    def show_contact(self, contact_id: str) -> None:
        if contact_id != self.timeline.contact_id or self._fresh:
            self.timeline.show_contact(contact_id)
        self._fresh = False
        if not contact_id:
            self.pane.show_contact(None)
            return
        self.pane.show_contact(contact_detail(self.db, contact_id), contact_id)

    def refresh(self) -> None:
        """Reads the list, the contact shown and its timeline again (the window opened again)."""
        self._fresh = True
        self.run_search()

    def focus_contact(self, contact_id: str) -> None:
        """Searches for `contact_id` and shows its timeline (from "Who is here?" and the like)."""
        self._wanted, self._fresh = contact_id, True
        self.tabs.setCurrentWidget(self.timeline)
        self.search.blockSignals(True)
        self.search.setText(contact_id)
        self.search.blockSignals(False)
        self._timer.stop()
        self.run_search()

    def change_consent(self, channel: str, state: str) -> None:
        """Sets one channel by hand (source "app"); an opt-in is confirmed first, since it is what lets
        messages go out (and, after an opt-out, only the contact may ask for it)."""
        detail = self.pane.detail
        if detail is None:
            return
        who, name = detail.name or detail.id, CHANNEL_WORDS.get(channel, channel)
        if state == SUBSCRIBED:
            now = next(c for c in detail.consent if c.channel == channel)
            if now.state == UNSUBSCRIBED:
                question = (f"{who} opted out of {name} on {when(now.changed_at)} ({source_words(now.source)}).\n\n"
                            f"Record that {who} asked to receive {name} messages again? Do this only when "
                            "they asked you to.")
            else:
                question = (f"Record that {who} agreed to receive {name} marketing messages?\n\n"
                            "Do this only when they gave you that consent.")
            answer = QMessageBox.question(self, "Record consent", question)
            if answer != QMessageBox.StandardButton.Yes:
                return
        db, contact_id = self.db, detail.id

        def failed(exc: Exception) -> None:
            QMessageBox.warning(self, "Consent", f"Nothing was changed.\n\n{exc}")

        self.host.submit(lambda: set_by_hand(db, contact_id, channel, state, datetime.now(timezone.utc)),
                         lambda _: self.show_contact(contact_id), failed)


def open_contacts(window: Any, contact_id: str = "") -> ContactsDialog:
    """Shows the window's Contacts dialog (one per window, kept between openings, refreshed each time);
    with `contact_id`, on that contact's timeline."""
    dialog = getattr(window, "contacts_dialog", None)
    if dialog is None:
        dialog = window.contacts_dialog = ContactsDialog(window.store.engine, window.host, window)
        if contact_id:
            dialog.focus_contact(contact_id)
    elif contact_id:
        dialog.focus_contact(contact_id)
    else:
        dialog.refresh()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
