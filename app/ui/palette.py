"""The palette of step kinds, generated from the registry: drag a kind onto the
canvas, or double-click it to add it in the middle of the view."""
from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QMimeData, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QDrag, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from app.canvas.style import kind_icon, theme
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

    def mimeData(self, items: Sequence[QListWidgetItem]) -> QMimeData:  # noqa: N802
        return kind_mime(items[0].data(_KIND))

    def drag_pixmap(self, item: QListWidgetItem) -> QPixmap:
        """What follows the pointer during a drag: the step as a small card (icon and name) in the
        theme's card and text colours, readable over the canvas in either theme."""
        t = theme()
        font = QFont(self.font())
        font.setWeight(QFont.Weight.DemiBold)
        metrics = QFontMetrics(font)
        icon, pad = 24, 8
        width = pad + icon + pad + metrics.horizontalAdvance(item.text()) + 2 * pad
        height = icon + 2 * pad
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(int(width * ratio), int(height * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(t.selection, 1.5))
        painter.setBrush(t.card)
        painter.drawRoundedRect(QRectF(0.75, 0.75, width - 1.5, height - 1.5), 8, 8)
        painter.drawPixmap(pad, pad, item.icon().pixmap(icon, icon))
        painter.setFont(font)
        painter.setPen(t.text)
        painter.drawText(QRectF(pad + icon + pad, 0, width - icon - 2 * pad, height),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, item.text())
        painter.end()
        return pixmap

    def startDrag(self, actions: Qt.DropAction) -> None:  # noqa: N802
        item = self.currentItem()
        if item is None:
            return
        drag = QDrag(self)
        drag.setMimeData(kind_mime(item.data(_KIND)))
        pixmap = self.drag_pixmap(item)
        drag.setPixmap(pixmap)
        drag.setHotSpot(QPoint(20, int(pixmap.height() / pixmap.devicePixelRatio() / 2)))
        drag.exec(Qt.DropAction.CopyAction)
