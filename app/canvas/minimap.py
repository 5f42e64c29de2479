"""The minimap: a second view on the same scene, drawn at a scale where every step
is a block in its kind's colour, with the main view's visible area as a frame.
Clicking or dragging on it moves the main view there."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsView

from .style import LOD_TITLES, theme
from .view import CanvasView


class Minimap(QGraphicsView):
    def __init__(self, main: CanvasView) -> None:
        super().__init__(main.scene(), main)
        self.main = main
        self.setInteractive(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.Box)
        self.setStyleSheet(f"border:1px solid {theme().card_border.name()}; border-radius:8px;")
        self.setFixedSize(220, 140)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        # Refitting after every change would be wasteful during a drag: batch it.
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(60)
        self._refit.timeout.connect(self.refit)
        main.scene().items_changed.connect(self._refit.start)
        main.horizontalScrollBar().valueChanged.connect(self.viewport().update)
        main.verticalScrollBar().valueChanged.connect(self.viewport().update)
        main.zoom_changed.connect(self.viewport().update)
        main.installEventFilter(self)
        self.wanted = True
        self.refit()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if watched is self.main and event.type() == QEvent.Type.Resize:
            self.place()
        return False

    def place(self) -> None:
        """Bottom-right corner of the canvas."""
        self.move(self.main.width() - self.width() - 14, self.main.height() - self.height() - 14)

    def set_wanted(self, wanted: bool) -> None:
        """Shown when the user wants it and there is something to overview."""
        self.wanted = wanted
        self.setVisible(wanted and bool(self.main.doc.journey.nodes or self.main.doc.journey.notes))

    def refit(self) -> None:
        self.set_wanted(self.wanted)
        self._journey = self.main.scene().journey_rect()
        rect = self._journey.adjusted(-80, -80, 80, 80)
        self.setSceneRect(rect)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() >= LOD_TITLES:    # small journeys: stay at block detail, kind colours
            scale = LOD_TITLES * 0.9
            self.setTransform(QTransform.fromScale(scale, scale))
            self.centerOn(rect.center())
        self.viewport().update()

    def visible_area(self) -> QRectF:
        return self.main.mapToScene(self.main.viewport().rect()).boundingRect()

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:  # noqa: N802
        painter.fillRect(rect, theme().card)

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:  # noqa: N802
        # Veil what the main view does not show and frame what it does: when the whole
        # journey is in view the overview stays clear instead of turning one flat tint.
        area = self.visible_area()
        if area.contains(self._journey):
            return          # all of it is in view: a frame around everything would say nothing
        veil = QPainterPath()
        veil.setFillRule(Qt.FillRule.OddEvenFill)
        veil.addRect(QRectF(rect).united(area))
        veil.addRect(area)
        shade = QColor(0, 0, 0, 70) if theme().dark else QColor(31, 41, 55, 20)
        painter.fillPath(veil, shade)
        painter.setPen(QPen(theme().selection, 0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(area)

    def _steer(self, event: QMouseEvent) -> None:
        self.main.centerOn(self.mapToScene(event.position().toPoint()))
        self.viewport().update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._steer(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._steer(event)

    def wheelEvent(self, event) -> None:  # noqa: N802
        event.ignore()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.refit()
