"""A step on the canvas: a card with the kind's icon and colour, a title, a one-line
summary, an input port and one output port per outcome.

Text is elided once when the node changes, not per paint; the card is cached in
device coordinates, and when zoomed out it is drawn with less detail.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QStyleOptionGraphicsItem, QWidget

from app.journey.model import Node
from app.journey.validate import ERROR, Problem

from .style import CARD_H, CARD_W, CHIP, GRID, LOD_FULL, LOD_TITLES, PORT_R, RADIUS, fonts, icon_pixmap, theme

_PAD = 12.0
_BOUNDS = QRectF(-PORT_R - 2, -12, CARD_W + 2 * PORT_R + 16, CARD_H + 24)   # ports and marker stick out


class NodeItem(QGraphicsRectItem):
    """A QGraphicsRectItem so bounds and shape come from C++: Qt asks for them many times
    per frame, and a Python override made a zoomed-out repaint of 1,000 steps slow."""

    def __init__(self, node: Node) -> None:
        super().__init__(_BOUNDS)
        self.setPen(Qt.PenStyle.NoPen)
        self.node_id = node.id
        self.kind = node.kind
        self.edges: set[Any] = set()              # EdgeItems touching this node, kept by the scene
        self.problems: list[Problem] = []
        self.drop_state: bool | None = None      # during a connect drag: True accepts, False refuses
        self._title = self._summary = ""
        self._outcomes: list[tuple[str, str, QPointF, bool]] = []   # name, label, port, ends here
        self._card = QPainterPath()
        self._card.addRoundedRect(QRectF(0, 0, CARD_W, CARD_H), RADIUS, RADIUS)
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(False)
        self.refresh(node)
        self.setPos(*node.position)

    # --- model → item ---------------------------------------------------------

    def refresh(self, node: Node) -> None:
        spec = node.spec
        self.colour = QColor(spec.colour)
        self.tint = QColor(spec.colour)
        self.tint.setAlpha(40 if theme().dark else 26)
        self.icon = spec.icon
        self.has_input = spec.has_input
        f = fonts()
        text_w = CARD_W - 2 * _PAD - CHIP - 8
        label_w = max((f.small_metrics.horizontalAdvance(o.label) for o in spec.outcomes), default=0.0)
        multi = len(spec.outcomes) > 1
        summary_w = text_w - (label_w + 8 if multi else 0)
        self._title = f.title_metrics.elidedText(node.name or spec.title, Qt.TextElideMode.ElideRight, summary_w)
        self._summary = f.summary_metrics.elidedText(node.summary, Qt.TextElideMode.ElideRight, summary_w)
        self._big_title = node.name or spec.title
        n = len(spec.outcomes)
        self._outcomes = [(o.name, o.label if multi else "", QPointF(CARD_W, CARD_H * (i + 1) / (n + 1)),
                           o.name in node.ends) for i, o in enumerate(spec.outcomes)]
        self.setToolTip(self._tooltip(node))
        self.update()

    def set_drop_state(self, state: bool | None) -> None:
        if state != self.drop_state:
            self.drop_state = state
            self.update()

    def set_problems(self, problems: list[Problem]) -> None:
        if problems == self.problems:
            return
        self.problems = problems
        self.setToolTip(self._tooltip(None))
        self.update()

    def _tooltip(self, node: Node | None) -> str:
        if node is not None:
            self._base_tip = f"{node.spec.title}: {node.summary}"
        lines = [self._base_tip] + [f"{'Error' if p.severity == ERROR else 'Warning'}: {p.message}" for p in self.problems]
        return "\n".join(lines)

    # --- geometry ---------------------------------------------------------------

    def input_pos(self) -> QPointF:
        return self.mapToScene(QPointF(0, CARD_H / 2))

    def output_pos(self, outcome: str) -> QPointF:
        for name, _label, port, _ends in self._outcomes:
            if name == outcome:
                return self.mapToScene(port)
        return self.mapToScene(QPointF(CARD_W, CARD_H / 2))

    def outcomes(self) -> list[str]:
        return [name for name, *_ in self._outcomes]

    def port_at(self, scene_pos: QPointF, slack: float = 5.0) -> str | None:
        """The outcome whose output port is under `scene_pos`, if any."""
        local = self.mapFromScene(scene_pos)
        for name, _label, port, _ends in self._outcomes:
            d = local - port
            if d.x() * d.x() + d.y() * d.y() <= (PORT_R + slack) ** 2:
                return name
        return None

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and getattr(self.scene(), "snap", False):
            return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.adjust()
        return super().itemChange(change, value)

    # --- painting ---------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        t = theme()
        selected = self.isSelected()
        if lod < LOD_TITLES:
            painter.fillRect(QRectF(0, 0, CARD_W, CARD_H), t.selection if selected else self.colour)
            if self.problems:
                painter.fillRect(QRectF(CARD_W - 40, 0, 40, 40), self._marker_colour())
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.drop_state is not None:
            painter.setPen(QPen(QColor("#1e8e3e") if self.drop_state else t.error, 3))
        else:
            painter.setPen(QPen(t.selection, 2.5) if selected else QPen(t.card_border, 1))
        painter.setBrush(t.card)
        painter.drawPath(self._card)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        painter.drawRoundedRect(QRectF(0, 0, 7, CARD_H), 3.5, 3.5)
        if lod < LOD_FULL:
            self._paint_titles_only(painter)
        else:
            self._paint_full(painter)
        self._paint_ports(painter, lod)
        if self.problems:
            self._paint_marker(painter)

    def _paint_titles_only(self, painter: QPainter) -> None:
        f = fonts()
        painter.setFont(f.big_title)
        painter.setPen(theme().text)
        rect = QRectF(_PAD + 4, 0, CARD_W - 2 * _PAD, CARD_H)
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
                         self._big_title)

    def _paint_full(self, painter: QPainter) -> None:
        t, f = theme(), fonts()
        chip = QRectF(_PAD + 2, (CARD_H - CHIP) / 2, CHIP, CHIP)
        painter.setBrush(self.colour)
        painter.drawRoundedRect(chip, 8, 8)
        painter.drawPixmap(chip.adjusted(5, 5, -5, -5), icon_pixmap(self.icon, 40), QRectF(0, 0, 40, 40))
        x = chip.right() + 10
        painter.setFont(f.title)
        painter.setPen(t.text)
        painter.drawText(QPointF(x, CARD_H / 2 - 4), self._title)
        painter.setFont(f.summary)
        painter.setPen(t.muted)
        painter.drawText(QPointF(x, CARD_H / 2 + 14), self._summary)
        painter.setFont(f.small)
        for _name, label, port, _ends in self._outcomes:
            if label:
                painter.drawText(QRectF(CARD_W - 60, port.y() - 9, 60 - PORT_R - 6, 18),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)

    def _paint_ports(self, painter: QPainter, lod: float) -> None:
        t = theme()
        painter.setPen(QPen(t.card, 2))
        if self.has_input:
            painter.setBrush(t.edge)
            painter.drawEllipse(QPointF(0, CARD_H / 2), PORT_R - 1, PORT_R - 1)
        for _name, _label, port, ends in self._outcomes:
            painter.setBrush(self.colour)
            painter.drawEllipse(port, PORT_R, PORT_R)
            if ends and lod >= LOD_FULL:     # "journey ends here": a short stub with a stop bar
                painter.setPen(QPen(t.muted, 2))
                painter.drawLine(port + QPointF(PORT_R, 0), port + QPointF(PORT_R + 9, 0))
                painter.drawLine(port + QPointF(PORT_R + 9, -6), port + QPointF(PORT_R + 9, 6))
                painter.setPen(QPen(t.card, 2))

    def _marker_colour(self) -> QColor:
        return theme().error if any(p.severity == ERROR for p in self.problems) else theme().warning

    def _paint_marker(self, painter: QPainter) -> None:
        centre = QPointF(CARD_W - 4, 2)
        painter.setPen(QPen(theme().card, 2))
        painter.setBrush(QBrush(self._marker_colour()))
        painter.drawEllipse(centre, 9, 9)
        painter.setPen(QColor("#ffffff"))
        painter.setFont(fonts().small)
        painter.drawText(QRectF(centre.x() - 9, centre.y() - 9, 18, 18), Qt.AlignmentFlag.AlignCenter, "!")
