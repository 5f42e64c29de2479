"""Mouse gestures on the canvas, each a small state object the view drives:
press starts one, move and release feed it, Esc cancels it. Each gesture ends in
at most one undo command."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem

from app.journey.model import new_id

from .commands import Connect, Move, Reconnect, SetValue
from .edge_item import EdgeItem, curve
from .node_item import NodeItem
from .note_item import NOTE_MIN, NoteItem
from .rules import refusal
from .style import CARD_H, CARD_W, theme

if TYPE_CHECKING:
    from .view import CanvasView


class Interaction:
    def __init__(self, view: "CanvasView") -> None:
        self.view = view

    def move(self, event: QMouseEvent) -> None: ...

    def release(self, event: QMouseEvent) -> None:
        self.finish()

    def cancel(self) -> None:
        self.finish()

    def finish(self) -> None:
        self.view.end_interaction(self)


class PanDrag(Interaction):
    """Middle button, or space + left button: scrolls the view."""

    def __init__(self, view: "CanvasView", start: QPoint) -> None:
        super().__init__(view)
        self.last = start
        view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, event: QMouseEvent) -> None:
        delta = event.position().toPoint() - self.last
        self.last = event.position().toPoint()
        self.view.horizontalScrollBar().setValue(self.view.horizontalScrollBar().value() - delta.x())
        self.view.verticalScrollBar().setValue(self.view.verticalScrollBar().value() - delta.y())

    def finish(self) -> None:
        self.view.viewport().unsetCursor()
        super().finish()


class _WireDrag(Interaction):
    """A wire following the cursor from an output port; shared by connect and reconnect."""

    replacing: str | None = None

    def __init__(self, view: "CanvasView", source: NodeItem, outcome: str) -> None:
        super().__init__(view)
        self.source, self.outcome = source, outcome
        self.wire = QGraphicsPathItem()
        self.wire.setZValue(10)
        self.wire.setPen(QPen(theme().selection, 2, Qt.PenStyle.DashLine))
        view.scene().addItem(self.wire)
        self.target: NodeItem | None = None
        self.reason: str | None = None

    def move(self, event: QMouseEvent) -> None:
        pos = self.view.mapToScene(event.position().toPoint())
        if self.target is not None:
            self.target.set_drop_state(None)
        self.target = self.view.node_at(pos)
        self.reason = None
        end = pos
        if self.target is not None:
            journey = self.view.doc.journey
            self.reason = refusal(journey, self.source.node_id, self.outcome, self.target.node_id,
                                  replacing=self.replacing)
            if self.reason is None:
                end = self.target.input_pos()
        if self.target is not None:
            self.target.set_drop_state(self.reason is None)
        colour = theme().error if self.reason else theme().selection
        self.wire.setPen(QPen(colour, 2, Qt.PenStyle.DashLine))
        self.wire.setPath(curve(self.source.output_pos(self.outcome), end))
        if self.reason:
            self.view.show_hint(self.reason, event.position().toPoint())
        else:
            self.view.hide_hint()

    def release(self, event: QMouseEvent) -> None:
        self.move(event)
        self.finish()
        if self.target is not None:
            if self.reason:
                self.view.refuse(self.reason, event.position().toPoint())
            else:
                self.commit(self.target)

    def commit(self, target: NodeItem) -> None: ...

    def finish(self) -> None:
        if self.target is not None:
            self.target.set_drop_state(None)
        self.view.scene().removeItem(self.wire)
        self.view.hide_hint()
        super().finish()


class ConnectDrag(_WireDrag):
    def commit(self, target: NodeItem) -> None:
        doc = self.view.doc
        doc.undo_stack.push(Connect(doc, {"id": new_id(), "source": self.source.node_id,
                                          "outcome": self.outcome, "target": target.node_id}))


class ReconnectDrag(_WireDrag):
    """Drags the arrow end of an existing edge onto another step; the edge keeps its id."""

    def __init__(self, view: "CanvasView", edge: EdgeItem) -> None:
        super().__init__(view, edge.source, edge.outcome)
        self.edge = edge
        self.replacing = edge.edge_id
        edge.setOpacity(0.25)

    def commit(self, target: NodeItem) -> None:
        if target is not self.edge.target:
            doc = self.view.doc
            doc.undo_stack.push(Reconnect(doc, self.edge.edge_id, target.node_id))

    def finish(self) -> None:
        if self.edge.scene() is not None:
            self.edge.setOpacity(1.0)
        super().finish()


class RubberBand(Interaction):
    """Left drag on empty canvas selects what the band touches; Ctrl adds to the selection."""

    def __init__(self, view: "CanvasView", start: QPointF, additive: bool) -> None:
        super().__init__(view)
        self.start = start
        self.keep = set(view.scene().selectedItems()) if additive else set()
        if not additive:
            view.scene().clearSelection()
        self.band = QGraphicsRectItem()
        colour = QColor(theme().selection)
        self.band.setPen(QPen(colour, 0))
        colour.setAlpha(40)
        self.band.setBrush(colour)
        self.band.setZValue(20)
        view.scene().addItem(self.band)

    def move(self, event: QMouseEvent) -> None:
        rect = QRectF(self.start, self.view.mapToScene(event.position().toPoint())).normalized()
        self.band.setRect(rect)
        path = QPainterPath()
        path.addRect(rect)
        scene = self.view.scene()
        scene.setSelectionArea(path, Qt.ItemSelectionOperation.ReplaceSelection,
                               Qt.ItemSelectionMode.IntersectsItemShape, self.view.viewportTransform())
        for item in self.keep:
            item.setSelected(True)
        for item in scene.selectedItems():   # a connection only comes along with both its steps
            if isinstance(item, EdgeItem) and not (item.source.isSelected() and item.target.isSelected()):
                item.setSelected(False)

    def finish(self) -> None:
        self.view.scene().removeItem(self.band)
        super().finish()


class MoveDrag(Interaction):
    """Qt moves the selected items while the button is down; on release the whole
    gesture becomes one Move command in the model."""

    def __init__(self, view: "CanvasView") -> None:
        super().__init__(view)
        self.before = {self._key(i): (i.pos().x(), i.pos().y()) for i in self._movable()}

    def _movable(self) -> list[NodeItem | NoteItem]:
        return [i for i in self.view.scene().selectedItems() if isinstance(i, (NodeItem, NoteItem))]

    @staticmethod
    def _key(item: NodeItem | NoteItem) -> str:
        return item.node_id if isinstance(item, NodeItem) else item.note_id

    def release(self, event: QMouseEvent) -> None:
        after = {self._key(i): (i.pos().x(), i.pos().y()) for i in self._movable()}
        moved = {k: v for k, v in after.items() if k in self.before and self.before[k] != v}
        if moved:
            doc = self.view.doc
            n = len(moved)
            doc.undo_stack.push(Move(doc, {k: self.before[k] for k in moved}, moved,
                                     "Move step" if n == 1 else f"Move {n} items"))
        self.finish()

    def cancel(self) -> None:
        """Esc puts the items back where they were; the model never saw the drag."""
        scene = self.view.scene()
        for key, (x, y) in self.before.items():
            item = scene.item_for_node.get(key) or scene.item_for_note.get(key)
            if item is not None:
                item.setPos(x, y)
        self.finish()


class NoteResize(Interaction):
    """Dragging a note's bottom-right corner; the new size is one undo step on release."""

    def __init__(self, view: "CanvasView", note: NoteItem, start: QPointF) -> None:
        super().__init__(view)
        self.note = note
        self.before = note.size()
        grabbed = note.mapFromScene(start)
        self.offset = QPointF(self.before[0] - grabbed.x(), self.before[1] - grabbed.y())  # keep the grip in hand

    def move(self, event: QMouseEvent) -> None:
        corner = self.note.mapFromScene(self.view.mapToScene(event.position().toPoint())) + self.offset
        self.note.set_size((max(NOTE_MIN[0], corner.x()), max(NOTE_MIN[1], corner.y())))

    def release(self, event: QMouseEvent) -> None:
        self.move(event)
        after = self.note.size()
        self.finish()
        if after != self.before:
            doc = self.view.doc
            doc.undo_stack.push(SetValue(doc, self.note.note_id, ("size",), after, "note size"))

    def cancel(self) -> None:
        self.note.set_size(self.before)
        self.finish()


class PaletteDrop:
    """A step kind dragged from the palette: a ghost card follows the cursor until the drop."""

    def __init__(self, view: "CanvasView", kind_id: str) -> None:
        self.view, self.kind_id = view, kind_id
        self.ghost = QGraphicsRectItem(0, 0, CARD_W, CARD_H)
        self.ghost.setPen(QPen(theme().selection, 1.5, Qt.PenStyle.DashLine))
        self.ghost.setZValue(20)
        view.scene().addItem(self.ghost)

    def top_left(self, pos: QPoint) -> QPointF:
        return self.view.mapToScene(pos) - QPointF(CARD_W / 2, CARD_H / 2)

    def move(self, pos: QPoint) -> None:
        self.ghost.setPos(self.top_left(pos))

    def drop(self, pos: QPoint) -> None:
        at = self.top_left(pos)
        self.leave()
        self.view.add_node(self.kind_id, (at.x(), at.y()))

    def leave(self) -> None:
        if self.ghost.scene() is not None:
            self.view.scene().removeItem(self.ghost)
