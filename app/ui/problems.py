"""The problems panel: every validation problem, errors first; clicking one selects
its step on the canvas and centres it."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QResizeEvent
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from app.journey.model import Journey
from app.journey.validate import ERROR, Problem

_NODE = Qt.ItemDataRole.UserRole
_SEVERITY_COLOURS = {ERROR: "#d93025", "warning": "#e08a00", "ok": "#1e8e3e"}


def severity_icon(severity: str) -> QIcon:
    """A painted badge (fonts offscreen and on some desktops lack the emoji signs)."""
    pixmap = QPixmap(32, 32)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(_SEVERITY_COLOURS[severity]))
    painter.drawEllipse(2, 2, 28, 28)
    painter.setPen(QPen(QColor("#ffffff"), 4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    if severity == "ok":
        painter.drawPolyline([QPointF(10, 16.5), QPointF(14.5, 21), QPointF(22.5, 11.5)])
    else:
        painter.drawLine(QPointF(16, 9), QPointF(16, 18))
        painter.drawPoint(QPointF(16, 23.5))
    painter.end()
    return QIcon(pixmap)


class ProblemsPanel(QListWidget):
    """Sized to its content by the main window: one slim line when all is well, up to
    `MAX_ROWS` problems before it scrolls."""

    node_requested = Signal(str)
    width_changed = Signal()        # the rows wrap anew: the room they need may have changed
    MAX_ROWS = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("problems")
        self.setWordWrap(True)
        self.setMinimumHeight(self.fontMetrics().height() + 12)   # a scroll area's own minimum is ~70 px
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)
        self.show_problems([], None)

    def show_problems(self, problems: list[Problem], journey: Journey | None) -> None:
        self.clear()
        if journey is not None and not problems:
            item = QListWidgetItem(severity_icon("ok"), "No problems: this journey is ready to run.")
            item.setForeground(QColor("#1e8e3e"))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.addItem(item)
            return
        for p in problems:
            node = journey.nodes.get(p.node_id) if journey and p.node_id else None
            where = f"{node.title} — " if node else "Journey — "
            item = QListWidgetItem(severity_icon(p.severity), f"{where}{p.message}" + (f"\n{p.hint}" if p.hint else ""))
            item.setData(_NODE, p.node_id or "")
            item.setToolTip(p.hint or p.message)
            self.addItem(item)

    def preferred_height(self) -> int:
        rows = min(self.count(), self.MAX_ROWS)
        content = sum(self._row_height(i) + 2 * self.spacing() for i in range(rows))
        if rows == 0:
            content = self.fontMetrics().height() + 12
        return content + 2 * self.frameWidth() + 6

    def _row_height(self, row: int) -> int:
        """The row's height as its text wraps at the list's present width (the view's own size hint may
        come from another width, and a long hint's last line was cut off)."""
        item = self.item(row)
        text_width = self.viewport().width() - self.iconSize().width() - 16
        if item is None or text_width < 50:
            return self.sizeHintForRow(row)
        wrapped = self.fontMetrics().boundingRect(QRect(0, 0, text_width, 100_000),
                                                  int(Qt.TextFlag.TextWordWrap), item.text())
        return max(self.sizeHintForRow(row), wrapped.height() + 6)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.width_changed.emit()

    def _clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(_NODE)
        if node_id:
            self.node_requested.emit(node_id)
