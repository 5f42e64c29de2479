"""A contact's timeline across all journeys (Contacts window): events, steps, messages with their
status history, branches, skips, deferrals, exits and conversions, each with its reason, in the
contact's time and the business's.

Pages are read on the engine host's worker (app/engine/timeline.py, keyset paging): the first page
when a contact is chosen, the next one when the list is scrolled to its end or "Show more" is
pressed. Only the newest request's answer is shown.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)
from sqlalchemy.engine import Engine

from app.canvas.style import theme
from app.engine.timeline import EVENT, Cursor, TimelineEntry, TimelinePage, contact_timeline

from .engine_host import EngineHost

PAGE = 100
_LIGHT = {"event": "#2f6fed", "bad": "#c5221f", "branch": "#7b3fc4", "good": "#1e8e3e", "hold": "#b06000"}
_DARK = {"event": "#8ab4ff", "bad": "#ff8a80", "branch": "#c7a4ff", "good": "#5cc98a", "hold": "#f3b562"}
_TONE = {"skipped": "bad", "failed": "bad", "exited": "bad", "branched": "branch", "converted": "good",
         "goal": "good", "completed": "good", "deferred": "hold", "waited": "hold", "sent": "good"}
CHANNEL_NAMES = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp"}


def tone(entry: TimelineEntry) -> str:
    """The colour of the entry's words in the present theme ("" for the text colour)."""
    key = "event" if entry.source == EVENT else _TONE.get(entry.action, "")
    return (_DARK if theme().dark else _LIGHT).get(key, "")


class TimelineView(QWidget):
    """The timeline of one contact; `show_contact(id)` reads its first page."""

    def __init__(self, db: Engine, host: EngineHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db, self.host = db, host
        self.contact_id = ""
        self.entries: list[TimelineEntry] = []
        self.next: Cursor | None = None
        self._asked = 0
        self._loading = False
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 4, 0, 0)
        top = QHBoxLayout()
        self.zones = QLabel()
        self.zones.setObjectName("help")
        top.addWidget(self.zones, 1)
        self.order = QComboBox()
        self.order.addItems(["Newest first", "Oldest first"])
        self.order.currentIndexChanged.connect(lambda _: self.reload())
        top.addWidget(self.order)
        column.addLayout(top)
        self.tree = QTreeWidget()
        self.tree.setObjectName("timeline")
        self.tree.setHeaderLabels(["Contact's time", "Business time", "Journey › step", "What happened"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for i in range(3):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 150)          # a status line under a message is indented: its time still fits
        header.resizeSection(1, 130)
        header.resizeSection(2, 280)
        self.tree.verticalScrollBar().valueChanged.connect(self._scrolled)
        column.addWidget(self.tree, 1)
        bottom = QHBoxLayout()
        self.status = QLabel()
        self.status.setObjectName("help")
        bottom.addWidget(self.status, 1)
        self.more = QPushButton("Show more")
        self.more.clicked.connect(self.load_more)
        self.more.hide()
        bottom.addWidget(self.more)
        column.addLayout(bottom)
        self.show_contact("")

    # --- loading ---------------------------------------------------------------

    def show_contact(self, contact_id: str) -> None:
        self.contact_id = contact_id
        self.reload()

    def reload(self) -> None:
        self._asked += 1
        self.entries, self.next = [], None
        self.tree.clear()
        self.more.hide()
        self.zones.setText("")              # the previous contact's zones are not this one's
        if not self.contact_id:
            self.status.setText("")
            return
        self._read(None)

    def load_more(self) -> None:
        if self.next is not None and not self._loading:
            self._read(self.next)

    def _read(self, after: Cursor | None) -> None:
        ticket, db, contact_id = self._asked, self.db, self.contact_id
        oldest = self.order.currentIndex() == 1
        self._loading = True
        self.status.setText("Reading…")
        self.host.submit(lambda: contact_timeline(db, contact_id, limit=PAGE, after=after, oldest_first=oldest),
                         lambda page: self._arrived(ticket, page), lambda exc: self._failed(ticket, exc))

    def _failed(self, ticket: int, exc: Exception) -> None:
        if ticket == self._asked:
            self._loading = False
            self.status.setText(f"The timeline could not be read: {exc}")

    def _arrived(self, ticket: int, page: TimelinePage | None) -> None:
        if ticket != self._asked:
            return
        self._loading = False
        if page is None:
            self.status.setText("No such contact")
            return
        same = page.business_zone == page.contact_zone
        self.tree.setColumnHidden(1, same)
        if not page.own_zone:           # the contact's time is the business's (or UTC): say so, not "the contact's zone"
            self.zones.setText(f"Times in the business's zone, {page.business_zone} (the contact has no time zone)"
                               if same else f"Times in {page.contact_zone} (the contact has no time zone) and the "
                               f"business's, {page.business_zone}")
        else:
            self.zones.setText(f"Times in the contact's zone, {page.contact_zone}"
                               + ("" if same else f", and the business's, {page.business_zone}"))
        for entry in page.entries:
            item = self._item(entry)
            self.tree.addTopLevelItem(item)
            item.setExpanded(item.childCount() > 0)       # a message's status history shows at once
        self.entries += page.entries
        self.next = page.next
        self.more.setVisible(page.next is not None)
        n = len(self.entries)
        self.status.setText("Nothing has happened to this contact yet" if not n else
                            f"{n} entr{'y' if n == 1 else 'ies'}" + (", more below" if page.next else ""))

    def _scrolled(self, value: int) -> None:
        bar = self.tree.verticalScrollBar()
        if value >= bar.maximum() - 2 and bar.maximum() > 0:
            self.load_more()

    # --- rows ------------------------------------------------------------------

    def _item(self, entry: TimelineEntry) -> QTreeWidgetItem:
        where = entry.journey + (f" › {entry.step}" if entry.step else "")
        item = QTreeWidgetItem([entry.local, entry.business, where, entry.words])
        item.setToolTip(3, entry.words)
        item.setToolTip(2, where)
        colour = tone(entry)
        if colour:
            item.setForeground(3, QColor(colour))
        if entry.source == EVENT:
            font = QFont(item.font(3))
            font.setBold(True)
            item.setFont(3, font)
        message = entry.message
        if message is not None:
            # The message on one line, then each status on its own line with its time in both zones
            # (a history on one line is cut off at the window's edge).
            bad = QColor((_DARK if theme().dark else _LIGHT)["bad"])
            channel = CHANNEL_NAMES.get(message.channel, message.channel)
            head = f"{channel} to {message.recipient}" + (f" · “{message.subject}”" if message.subject else "")
            rows = [("", "", head, False)]
            rows += [(h.local, h.business, h.words, h.status in ("failed", "unknown")) for h in message.history]
            if message.error or message.error_code:
                rows.append(("", "", "Provider: " + " ".join(x for x in (message.error_code, message.error) if x),
                             True))
            for local, business, line, alarming in rows:
                child = QTreeWidgetItem([local, business, "", line])
                child.setToolTip(3, line)
                if alarming:
                    child.setForeground(3, bad)
                item.addChild(child)
        return item

    def figures(self) -> list[list[Any]]:
        """What the list shows (for tests): each top-level row's cells, then its children's last cell."""
        rows = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            assert item is not None
            children = [item.child(k) for k in range(item.childCount())]
            rows.append([item.text(c) for c in range(4)] + [[c.text(3) for c in children if c is not None]])
        return rows
