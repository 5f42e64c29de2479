"""A connection: a smooth curve from an outcome port to a step's input, with an
arrowhead and, for branching steps, the outcome's label. The path is rebuilt only
when an end moves, never in paint."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from .lighting import path_colours
from .node_item import NodeItem
from .style import LOD_TITLES, PORT_R, fonts, theme

ARROW = 9.0


def curve(start: QPointF, end: QPointF) -> QPainterPath:
    """A horizontal-tangent cubic; it bows further out when the target lies behind the source."""
    dx = max(abs(end.x() - start.x()) * 0.5, 40.0)
    path = QPainterPath(start)
    path.cubicTo(start + QPointF(dx, 0), end - QPointF(dx + ARROW, 0), end - QPointF(ARROW, 0))
    path.lineTo(end)
    return path


class EdgeItem(QGraphicsPathItem):
    """Bounds and shape come from QGraphicsPathItem (C++), widened by an unpainted pen so
    the arrow and label fit and the curve is easy to click."""

    def __init__(self, edge_id: str, source: NodeItem, outcome: str, target: NodeItem, label: str) -> None:
        super().__init__()
        self.setPen(QPen(Qt.GlobalColor.transparent, 24))
        self.edge_id, self.source, self.outcome, self.target = edge_id, source, outcome, target
        self.label = label
        self.lit: bool | None = None       # a test run is shown: True when the contact came this way
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(-1)
        # Cached like the cards: a zoomed-out repaint of a big journey is then blits, not
        # a thousand Python paint calls (the cost that dominated a full repaint).
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._path = QPainterPath()
        self._arrow = QPolygonF()
        self._label_rect = QRectF()
        self.adjust()

    def end_points(self) -> tuple[QPointF, QPointF]:
        """From the rim of the output port to the rim of the input port, so the arrow shows."""
        return (self.source.output_pos(self.outcome) + QPointF(PORT_R, 0),
                self.target.input_pos() - QPointF(PORT_R - 1, 0))

    def adjust(self) -> None:
        start, end = self.end_points()
        self._path = curve(start, end)
        self.setPath(self._path)
        self._straight = QPainterPath(start)
        self._straight.lineTo(end)
        self._arrow = QPolygonF([end, end - QPointF(ARROW, ARROW * 0.55), end - QPointF(ARROW, -ARROW * 0.55)])
        if self.label:
            mid = self._path.pointAtPercent(0.5)
            w = fonts().small_metrics.horizontalAdvance(self.label) + 14
            self._label_rect = QRectF(mid.x() - w / 2, mid.y() - 10, w, 20)

    def path_end(self) -> QPointF:
        return self._path.currentPosition()

    def target_end_hit(self, scene_pos: QPointF, radius: float = 12.0) -> bool:
        """Whether `scene_pos` is on the arrowhead, where a drag reconnects the edge."""
        d = scene_pos - self.target.input_pos()
        return d.x() * d.x() + d.y() * d.y() <= radius * radius

    def set_lit(self, lit: bool | None) -> None:
        """Drawn bold in the test path's colour (True), plain (False, None); see app/canvas/lighting.py."""
        if lit != self.lit:
            self.lit = lit
            self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        t = theme()
        colour = t.selection if self.isSelected() else t.edge
        if self.lit and not self.isSelected():
            colour = path_colours().path
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < LOD_TITLES:
            painter.setPen(QPen(colour, 0))
            painter.drawPath(self._straight)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = 3.5 if self.lit else 3 if self.isSelected() else 2
        painter.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPolygon(self._arrow)
        if self.label:
            painter.setBrush(t.card)
            painter.setPen(QPen(colour, 1))
            painter.drawRoundedRect(self._label_rect, 10, 10)
            painter.setFont(fonts().small)
            painter.setPen(QColor(self.source.colour) if not (self.isSelected() or self.lit) else colour)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)
