""""Who is here?" and "Who went this way?" for a step on the canvas.

A small window listing, a page at a time (app/engine/here.py, keyset paging on the engine host's
worker), the contacts waiting at the step now with when they move on, or those that took one of its
outcomes (or passed it, for a step without outcomes). A double-click (or Enter, or "Open timeline")
opens the contact's timeline in the Contacts window.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)
from sqlalchemy.engine import Engine

from app.engine.here import ContactAtStep, StepPage, who_is_here, who_went
from app.engine.timeline_words import short_time
from app.engine.timeutil import contact_zone
from app.journey.model import Node
from app.store.app_settings import business_timezone

from .engine_host import EngineHost

PAGE = 100
HERE = "here"
PASSED = ""           # "went" with no outcome: passed a step without outcomes
_ID = Qt.ItemDataRole.UserRole


def modes(node: Node) -> list[tuple[str, str]]:
    """(key, label) of what the window can list for `node`: waiting here, then each way out."""
    found = [(HERE, "Waiting here now")]
    outcomes = node.spec.outcomes
    if len(outcomes) > 1:
        found += [(o.name, f"Went “{o.label}”") for o in outcomes]
    else:
        found.append((PASSED, "Passed this step"))
    return found


class StepPeopleDialog(QDialog):
    """The contacts at (or past) one step of a journey in the store."""

    def __init__(self, db: Engine, host: EngineHost, journey_id: str, node: Node, mode: str,
                 open_timeline: Callable[[str], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db, self.host, self.journey_id, self.node = db, host, journey_id, node
        self.open_timeline = open_timeline
        self.setWindowTitle(f"Contacts at “{node.title}”")
        self.resize(760, 520)
        self.rows: list[ContactAtStep] = []
        self.next: tuple[Any, ...] | None = None
        self._asked = 0
        self._loading = False
        zone = business_timezone(db) or ""
        self.zone = contact_zone(zone)
        column = QVBoxLayout(self)
        top = QHBoxLayout()
        title = QLabel(node.title)
        title.setObjectName("heading")
        top.addWidget(title, 1)
        self.mode = QComboBox()
        for key, label in modes(node):
            self.mode.addItem(label, key)
        index = self.mode.findData(mode)
        self.mode.setCurrentIndex(max(index, 0))
        self.mode.currentIndexChanged.connect(lambda _: self.reload())
        top.addWidget(self.mode)
        column.addLayout(top)
        self.hint = QLabel()
        self.hint.setObjectName("help")
        self.hint.setWordWrap(True)
        column.addWidget(self.hint)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("stepPeople")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for i, width in enumerate((190, 110, 170)):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(i, width)
        header.setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)
        column.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        self.status = QLabel()
        self.status.setObjectName("help")
        bottom.addWidget(self.status, 1)
        self.more = QPushButton("Show more")
        self.more.clicked.connect(self.load_more)
        bottom.addWidget(self.more)
        self.open_button = QPushButton("Open timeline")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(lambda _=False: self.open_row(self.table.currentRow()))
        bottom.addWidget(self.open_button)
        column.addLayout(bottom)
        self.reload()

    @property
    def key(self) -> str:
        return str(self.mode.currentData())

    def reload(self) -> None:
        self._asked += 1
        self.rows, self.next = [], None
        self.table.setRowCount(0)
        here = self.key == HERE
        when = "Moves on (business time)" if here else "When (business time)"
        self.table.setHorizontalHeaderLabels([when, "Contact", "Name", "Email or phone"])
        self.hint.setText(("Contacts at this step now, soonest to move on first"
                           + (" (at the latest: a status seen earlier moves them on at once)"
                              if self.node.kind == "message_status" else "") + ".") if here else
                          "Contacts that went this way, newest first. Double-click one to see its timeline.")
        self._read(None)

    def load_more(self) -> None:
        if self.next is not None and not self._loading:
            self._read(self.next)

    def _read(self, after: tuple[Any, ...] | None) -> None:
        ticket, db, jid, nid, key = self._asked, self.db, self.journey_id, self.node.id, self.key
        self._loading = True
        self.status.setText("Reading…")
        self.more.setEnabled(False)

        def work() -> StepPage:
            if key == HERE:
                return who_is_here(db, jid, nid, limit=PAGE, after=after)
            return who_went(db, jid, nid, key or None, limit=PAGE, after=after)

        self.host.submit(work, lambda page: self._arrived(ticket, page), lambda exc: self._failed(ticket, exc))

    def _failed(self, ticket: int, exc: Exception) -> None:
        if ticket == self._asked:
            self._loading = False
            self.status.setText(f"The contacts could not be read: {exc}")

    def _arrived(self, ticket: int, page: StepPage) -> None:
        if ticket != self._asked:
            return
        self._loading = False
        here = self.key == HERE
        start = len(self.rows)
        self.table.setRowCount(start + len(page.rows))
        for i, c in enumerate(page.rows, start):
            at = c.due_at if here else c.at
            cells = [short_time(at, self.zone) if at is not None else "", c.contact_id, c.name,
                     c.email or c.phone or ""]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(_ID, c.contact_id)
                item.setToolTip(text)
                self.table.setItem(i, col, item)
        self.rows += page.rows
        self.next = page.next
        self.more.setVisible(page.next is not None)
        self.more.setEnabled(True)
        n = len(self.rows)
        self.status.setText(("Nobody is here now" if here else "Nobody went this way yet") if not n else
                            f"{n:,} contact{'' if n == 1 else 's'}" + (" shown, more below" if page.next else ""))
        self.open_button.setEnabled(n > 0)
        if start == 0 and n:
            self.table.selectRow(0)

    def _scrolled(self, value: int) -> None:
        bar = self.table.verticalScrollBar()
        if value >= bar.maximum() - 2 and bar.maximum() > 0:
            self.load_more()

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.open_timeline(self.rows[row].contact_id)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.table.hasFocus():
            self.open_row(self.table.currentRow())
            return
        super().keyPressEvent(event)


def open_step_people(window: Any, node_id: str, mode: str = HERE) -> StepPeopleDialog | None:
    """Opens "Who is here?" (mode HERE) or "Who went this way?" (an outcome, or PASSED) for a step of
    the journey open in `window`; says in the status bar why not when the journey is not in the store."""
    session, editor = getattr(window, "session", None), getattr(window, "editor", None)
    journey_id = session.journey_id if session is not None else None
    node = editor.doc.journey.nodes.get(node_id) if editor is not None else None
    if not journey_id or node is None:
        window.statusBar().showMessage("Only a journey saved in the app has contacts at its steps", 6000)
        return None
    from .contacts_dialog import open_contacts

    if mode == "went":                   # the first way out: an outcome, or passing a step without any
        mode = modes(node)[1][0]

    dialog = StepPeopleDialog(window.store.engine, window.host, journey_id, node, mode,
                              lambda contact_id: open_contacts(window, contact_id), window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.step_people_dialog = dialog
    dialog.show()
    return dialog
