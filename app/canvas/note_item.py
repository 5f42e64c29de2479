"""A sticky note: free text that is saved with the journey but never runs."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.journey.model import Note

from .style import GRID, LOD_TITLES, fonts, theme

# QGraphicsItem.UserType is 65536 (Qt's documented value); PySide6's stubs do not declare it.
USER_TYPE = 65536
NOTE_TYPE = USER_TYPE + 3
NOTE_MIN = (100.0, 50.0)
GRIP = 14.0                 # the corner that resizes the note


class NoteItem(QGraphicsItem):
    def __init__(self, note: Note) -> None:
        super().__init__()
        self.note_id = note.id
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(-2)
        self.refresh(note)

    def type(self) -> int:
        return NOTE_TYPE

    def refresh(self, note: Note) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(0, 0, *note.size)
        self.text = note.text
        self.setToolTip(note.text)
        self.setPos(*note.position)
        self.update()

    def size(self) -> tuple[float, float]:
        return (self._rect.width(), self._rect.height())

    def set_size(self, size: tuple[float, float]) -> None:
        """Live feedback while resizing; the model changes on release."""
        self.prepareGeometryChange()
        self._rect = QRectF(0, 0, *size)
        self.update()

    def grip_at(self, scene_pos) -> bool:
        local = self.mapFromScene(scene_pos)
        return QRectF(self._rect.right() - GRIP, self._rect.bottom() - GRIP, GRIP + 4, GRIP + 4).contains(local)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect.adjusted(-2, -2, 2, 2)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and getattr(self.scene(), "snap", False):
            return type(value)(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)
        return super().itemChange(change, value)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        t = theme()
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setPen(QPen(t.selection, 2) if self.isSelected() else QPen(t.note_border, 1))
        painter.setBrush(t.note)
        painter.drawRect(self._rect)
        if lod < LOD_TITLES:
            return
        if self.isSelected():   # the resize grip: three short diagonal strokes
            painter.setPen(QPen(t.note_border.darker(130), 1.2))
            r = self._rect
            for d in (4.0, 8.0, 12.0):
                painter.drawLine(QPointF(r.right() - d, r.bottom() - 2), QPointF(r.right() - 2, r.bottom() - d))
        painter.setFont(fonts().summary)
        painter.setPen(t.text)
        painter.drawText(self._rect.adjusted(10, 8, -10, -8),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                         self.text or "Empty note: select it and type in the inspector.")
