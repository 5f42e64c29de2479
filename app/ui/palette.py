"""The palette of step kinds, generated from the registry: drag a kind onto the
canvas, or double-click it to add it in the middle of the view."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from app.canvas.style import kind_icon
from app.canvas.view import KIND_MIME
from app.journey.registry import all_kinds

_KIND = Qt.ItemDataRole.UserRole


def kind_mime(kind_id: str) -> QMimeData:
    data = QMimeData()
    data.setData(KIND_MIME, kind_id.encode())
    return data


class Palette(QListWidget):
    add_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("palette")
        self.setIconSize(QSize(28, 28))
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSpacing(2)
        self.setWordWrap(True)
        for kind in all_kinds():
            item = QListWidgetItem(kind_icon(kind.icon, kind.colour, 28), kind.title)
            item.setData(_KIND, kind.id)
            item.setToolTip(f"{kind.description}\nDrag onto the canvas, or double-click to add.")
            item.setSizeHint(QSize(0, 40))
            self.addItem(item)
        self.itemDoubleClicked.connect(lambda item: self.add_requested.emit(item.data(_KIND)))
        self.setFixedHeight(44 * self.count() + 8)

    def kind_at(self, row: int) -> str:
        return self.item(row).data(_KIND)

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:  # noqa: N802
        return kind_mime(items[0].data(_KIND))

    def startDrag(self, actions: Qt.DropAction) -> None:  # noqa: N802
        item = self.currentItem()
        if item is None:
            return
        drag = QDrag(self)
        drag.setMimeData(kind_mime(item.data(_KIND)))
        drag.setPixmap(item.icon().pixmap(28, 28))
        drag.exec(Qt.DropAction.CopyAction)
