"""The problems panel: every validation problem, errors first; clicking one selects
its step on the canvas and centres it."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
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
    node_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("problems")
        self.setWordWrap(True)
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)
        self.show_problems([], None)

    def show_problems(self, problems: list[Problem], journey: Journey | None) -> None:
        self.clear()
        if journey is not None and not problems:
            item = QListWidgetItem(severity_icon("ok"), "No problems: this journey is ready to activate.")
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

    def _clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(_NODE)
        if node_id:
            self.node_requested.emit(node_id)
