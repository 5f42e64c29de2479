"""The journeys in the store: name, status and last edit, with new (empty or from
an example), duplicate, rename and delete."""
from __future__ import annotations

from datetime import datetime
from functools import partial

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, Signal, SignalInstance
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMenu, QStyle,
                               QStyledItemDelegate, QStyleOptionViewItem, QToolButton, QVBoxLayout, QWidget)

from app.store.journeys import JourneyRow

STATUS_COLOURS = {"draft": "#6b7280", "active": "#1e8e3e", "paused": "#c77700", "stopped": "#c5221f"}
_ID, _ROW = Qt.ItemDataRole.UserRole, Qt.ItemDataRole.UserRole + 1


def _edited(moment: datetime) -> str:
    local = moment.astimezone() if moment.tzinfo else moment
    now = datetime.now(local.tzinfo)
    return f"edited {local:%H:%M}" if local.date() == now.date() else f"edited {local:%d %b %Y}"


class _RowDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        return QSize(200, 50)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        row: JourneyRow = index.data(_ROW)
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        if selected:
            painter.fillRect(option.rect, palette.highlight())
        rect = QRectF(option.rect).adjusted(12, 6, -10, -6)
        text = palette.highlightedText().color() if selected else palette.text().color()
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        painter.setFont(bold)
        painter.setPen(text)
        name = painter.fontMetrics().elidedText(row.name, Qt.TextElideMode.ElideRight, int(rect.width()))
        painter.drawText(rect, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft, name)
        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.88)
        painter.setFont(small)
        colour = QColor(STATUS_COLOURS.get(row.status, "#6b7280"))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour if not selected else text)
        dot_y = rect.bottom() - painter.fontMetrics().height() / 2
        painter.drawEllipse(QRectF(rect.left(), dot_y - 3.5, 7, 7))
        painter.setPen(text if selected else palette.placeholderText().color())
        painter.drawText(rect.adjusted(12, 0, 0, 0), Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft,
                         f"{row.status} · {_edited(row.updated_at)}")
        painter.restore()


class _Journeys(QListWidget):
    """The list itself; when the library is empty it says how to start."""

    EMPTY = "No journeys yet.\n\nClick “+ New” to start one, empty or from an example."

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if self.count():
            return
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().placeholderText().color())
        painter.drawText(self.viewport().rect().adjusted(14, 14, -14, -14),
                         Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap,
                         self.EMPTY)
        painter.end()


class JourneyList(QWidget):
    """Emits requests; the main window does the store work and keeps the canvas in step."""

    open_requested = Signal(str)
    new_requested = Signal(str)          # "" for an empty journey, else an example's stem
    duplicate_requested = Signal(str)
    rename_requested = Signal(str)
    delete_requested = Signal(str)

    def __init__(self, examples: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        top = QHBoxLayout()
        top.setContentsMargins(10, 8, 6, 0)
        title = QLabel("Journeys")
        title.setObjectName("panelTitle")
        top.addWidget(title, 1)
        self.new_button = QToolButton()
        self.new_button.setText("+ New ▾")
        self.new_button.setObjectName("menuButton")
        self.new_button.setToolTip("A new journey, empty or from one of the examples")
        self.new_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.new_button)
        menu.addAction("Empty journey", lambda: self.new_requested.emit(""))
        menu.addSeparator()
        for stem, name in examples:
            menu.addAction(f"From example: {name}", partial(self.new_requested.emit, stem))
        self.new_button.setMenu(menu)
        top.addWidget(self.new_button)
        more = QToolButton()
        more.setText("⋯")
        more.setObjectName("menuButton")
        more.setToolTip("Duplicate, rename or delete the selected journey")
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        actions = QMenu(more)
        actions.addAction("Duplicate", lambda: self._emit(self.duplicate_requested))
        actions.addAction("Rename…", lambda: self._emit(self.rename_requested))
        actions.addSeparator()
        actions.addAction("Delete…", lambda: self._emit(self.delete_requested))
        more.setMenu(actions)
        top.addWidget(more)
        layout.addLayout(top)
        self.list = _Journeys()
        self.list.setObjectName("journeys")
        self.list.setItemDelegate(_RowDelegate(self.list))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.list.addActions(actions.actions())
        self.list.itemClicked.connect(lambda item: self.open_requested.emit(item.data(_ID)))
        self.list.itemActivated.connect(lambda item: self.open_requested.emit(item.data(_ID)))
        layout.addWidget(self.list, 1)

    def _emit(self, signal: SignalInstance) -> None:
        current = self.current_id()
        if current:
            signal.emit(current)

    def current_id(self) -> str:
        item = self.list.currentItem()
        return item.data(_ID) if item else ""

    def set_rows(self, rows: list[JourneyRow], current: str = "") -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for row in rows:
            item = QListWidgetItem(row.name)
            item.setData(_ID, row.id)
            item.setData(_ROW, row)
            item.setToolTip(row.description or row.name)
            self.list.addItem(item)
            if row.id == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def select(self, journey_id: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(_ID) == journey_id:
                self.list.blockSignals(True)
                self.list.setCurrentRow(i)
                self.list.blockSignals(False)
                return
        self.list.blockSignals(True)
        self.list.setCurrentRow(-1)
        self.list.blockSignals(False)
