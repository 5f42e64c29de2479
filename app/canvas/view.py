"""The canvas view: zoom and pan, dispatch of mouse gestures to interaction
objects, drops from the palette, and the editing operations the menus call."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (QContextMenuEvent, QCursor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeyEvent,
                           QMouseEvent, QPainter, QWheelEvent)
from PySide6.QtWidgets import QFrame, QGraphicsView, QLabel, QMenu

from app.journey.fileformat import JourneyFileError
from app.journey.model import Note, new_id
from app.journey.registry import get_kind

from . import clipboard
from .commands import AddFragment, Move, delete_items, node_fragment
from .document import JourneyDocument
from .edge_item import EdgeItem
from .interactions import (ConnectDrag, Interaction, MoveDrag, NoteResize, PanDrag, PaletteDrop, ReconnectDrag,
                           RubberBand)
from .node_item import NodeItem
from .note_item import NoteItem
from .scene import JourneyScene
from .snapshot import note_snapshot
from .style import CARD_H, CARD_W, GRID, theme

KIND_MIME = "application/x-journey-studio-kind"
MIN_ZOOM, MAX_ZOOM = 0.03, 3.0
_WORLD = 100_000.0


class CanvasView(QGraphicsView):
    zoom_changed = Signal(float)
    message = Signal(str)            # refusals and other short notices for the status bar
    edit_requested = Signal()        # a double-click on a step or note
    people_requested = Signal(str, str)   # a step's id and "here" or "went": "Who is here?" (app/ui/step_people.py)

    def __init__(self, scene: JourneyScene) -> None:
        super().__init__(scene)
        self.doc: JourneyDocument = scene.doc
        self.interaction: Interaction | None = None
        self.palette_drop: PaletteDrop | None = None
        self.last_refusal = ""
        self._space = False
        self._paste_count = 0
        self.setSceneRect(QRectF(-_WORLD, -_WORLD, 2 * _WORLD, 2 * _WORLD))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)   # panels resizing keep the view's centre
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.setMaximumWidth(320)
        self.hint.setStyleSheet(f"background:{theme().error.name()}; color:white; border-radius:6px; padding:6px 9px;")
        self.hint.hide()
        self._hint_timer = QTimer(self)
        self._hint_timer.setSingleShot(True)
        self._hint_timer.setInterval(3500)
        self._hint_timer.timeout.connect(self.hint.hide)

    def scene(self) -> JourneyScene:  # typed accessor
        return super().scene()  # type: ignore[return-value]

    # --- zoom -------------------------------------------------------------------

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float, anchor: QPoint | None = None) -> None:
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        centre = self.mapToScene(anchor if anchor is not None else self.viewport().rect().center())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.resetTransform()
        self.scale(factor, factor)
        if anchor is None:
            self.centerOn(centre)
        else:   # keep the point under the cursor where it was
            delta = self.mapToScene(anchor) - centre
            self.centerOn(self.mapToScene(self.viewport().rect().center()) - delta)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.zoom_changed.emit(self.zoom())

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / 1.25)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        rect = self.scene().journey_rect().adjusted(-60, -60, 60, 60)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.set_zoom(1.0)
        self.centerOn(rect.center())
        self.zoom_changed.emit(self.zoom())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom() * (1.15 ** steps), event.position().toPoint())
        event.accept()

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:  # noqa: N802
        if self.doc.journey.nodes:
            return
        # The empty state: say how to start instead of showing a blank grid.
        painter.save()
        painter.resetTransform()
        painter.setPen(theme().muted)
        font = painter.font()
        font.setPixelSize(15)
        painter.setFont(font)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                         "This journey is empty.\nDrag a Trigger from the Steps palette to begin,\n"
                         "then add messages, waits and branches after it.")
        painter.restore()

    # --- hit testing ------------------------------------------------------------

    def node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.scene().items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def _port_at(self, pos: QPointF) -> tuple[NodeItem, str] | None:
        area = QRectF(pos.x() - 12, pos.y() - 12, 24, 24)
        for item in self.scene().items(area):
            if isinstance(item, NodeItem):
                outcome = item.port_at(pos)
                if outcome:
                    return item, outcome
        return None

    def _edge_end_at(self, pos: QPointF) -> EdgeItem | None:
        area = QRectF(pos.x() - 12, pos.y() - 12, 24, 24)
        for item in self.scene().items(area):
            if isinstance(item, EdgeItem) and item.target_end_hit(pos):
                return item
        return None

    def _note_grip_at(self, pos: QPointF) -> NoteItem | None:
        for item in self.scene().items(pos):
            if isinstance(item, NoteItem) and item.isSelected() and item.grip_at(pos):
                return item
        return None

    # --- gestures ---------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.interaction is not None:
            return
        pos = self.mapToScene(event.position().toPoint())
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self.interaction = PanDrag(self, event.position().toPoint())
            return
        if button != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        port = self._port_at(pos)
        if port is not None:
            self.interaction = ConnectDrag(self, *port)
            return
        edge = self._edge_end_at(pos)
        if edge is not None:
            self.interaction = ReconnectDrag(self, edge)
            return
        note = self._note_grip_at(pos)
        if note is not None:
            self.interaction = NoteResize(self, note, pos)
            return
        if self.itemAt(event.position().toPoint()) is None:
            self.interaction = RubberBand(self, pos, bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))
            return
        super().mousePressEvent(event)          # Qt selects (Ctrl toggles) and starts moving
        self.interaction = MoveDrag(self)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        item = self.itemAt(event.position().toPoint())
        if isinstance(item, (NodeItem, NoteItem)):
            if not item.isSelected():
                self.scene().select_only([item])
            self.edit_requested.emit()      # the inspector takes the focus
            return
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        item = self.itemAt(event.pos())
        if item is not None and not item.isSelected():
            self.scene().select_only([item])
        menu = self.context_menu()
        menu.exec(event.globalPos())
        menu.deleteLater()

    def context_menu(self) -> QMenu:
        """The menu for the present selection (built apart from showing it, so tests can read it)."""
        has_selection = bool(self.scene().selectedItems())
        menu = QMenu(self)
        entries: list[tuple[str, Callable[[], object], bool] | None] = [
            ("Cut", self.cut, has_selection), ("Copy", self.copy, has_selection),
            ("Paste", self.paste, clipboard.available()), ("Duplicate", self.duplicate, has_selection),
            ("Delete", self.delete_selection, has_selection), None,
            ("Add sticky note", self.add_note, True), ("Auto-layout", self.arrange, True),
            ("Fit journey", self.fit, True)]
        selected = self.scene().selectedItems()
        if len(selected) == 1 and isinstance(selected[0], NodeItem):   # one step: its contacts in the live data
            node_id = selected[0].node_id
            entries += [None, ("Who is here?", lambda: self.people_requested.emit(node_id, "here"), True),
                        ("Who went this way?", lambda: self.people_requested.emit(node_id, "went"), True)]
        for entry in entries:
            if entry is None:
                menu.addSeparator()
            else:
                menu.addAction(entry[0], entry[1]).setEnabled(entry[2])
        return menu

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.interaction is not None:
            self.interaction.move(event)
        if self.interaction is None or isinstance(self.interaction, MoveDrag):
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        interaction = self.interaction
        if isinstance(interaction, MoveDrag):
            super().mouseReleaseEvent(event)
        if interaction is not None:
            interaction.release(event)
        else:
            super().mouseReleaseEvent(event)

    def end_interaction(self, interaction: Interaction) -> None:
        if self.interaction is interaction:
            self.interaction = None

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            if self.interaction is not None:
                self.interaction.cancel()
            else:
                self.scene().clearSelection()
            return
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
            return
        super().keyReleaseEvent(event)

    # --- refusals and hints -----------------------------------------------------

    def show_hint(self, text: str, at: QPoint) -> None:
        self.hint.setText(text)
        self.hint.adjustSize()
        x = min(at.x() + 16, self.viewport().width() - self.hint.width() - 8)
        y = min(at.y() + 16, self.viewport().height() - self.hint.height() - 8)
        self.hint.move(max(8, x), max(8, y))
        self.hint.show()
        self.hint.raise_()
        self._hint_timer.start()

    def hide_hint(self) -> None:
        self.hint.hide()

    def refuse(self, reason: str, at: QPoint) -> None:
        """A connection or a paste was refused: say why beside the cursor and in the status bar."""
        self.last_refusal = reason
        self.message.emit(reason)
        self.show_hint(reason, at)

    # --- palette drops ----------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasFormat(KIND_MIME):
            kind = bytes(event.mimeData().data(KIND_MIME).data()).decode()
            self.palette_drop = PaletteDrop(self, kind)
            self.palette_drop.move(event.position().toPoint())
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self.palette_drop is not None:
            self.palette_drop.move(event.position().toPoint())
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        if self.palette_drop is not None:
            self.palette_drop.leave()
            self.palette_drop = None

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        if self.palette_drop is not None:
            self.palette_drop.drop(event.position().toPoint())
            self.palette_drop = None
            event.acceptProposedAction()

    # --- editing operations -----------------------------------------------------

    def _free_spot(self, x: float, y: float) -> tuple[float, float]:
        """Near (x, y) and clear of every other step (with a little room), so a new step
        never hides one or is hidden: first below, then further to the right."""
        margin = GRID
        cards = [n.position for n in self.doc.journey.nodes.values()]

        def clear(px: float, py: float) -> bool:
            return not any(px < nx + CARD_W + margin and nx < px + CARD_W + margin
                           and py < ny + CARD_H + margin and ny < py + CARD_H + margin for nx, ny in cards)
        steps = sorted(((c, r) for c in range(0, 6) for r in range(-4, 5)),
                       key=lambda cr: (abs(cr[0]) * 2 + abs(cr[1]), cr[1] < 0))    # nearest first, below first
        for column, row in steps:
            px, py = x + column * (CARD_W + 2 * margin), y + row * (CARD_H + 2 * margin)
            if clear(px, py):
                return px, py
        return x, y

    def add_node(self, kind_id: str, top_left: tuple[float, float] | None = None) -> str:
        if top_left is None:
            centre = self.mapToScene(self.viewport().rect().center())
            top_left = self._free_spot(centre.x() - CARD_W / 2, centre.y() - CARD_H / 2)
        if self.scene().snap:
            top_left = (round(top_left[0] / GRID) * GRID, round(top_left[1] / GRID) * GRID)
        node_id = new_id()
        fragment = node_fragment(kind_id, node_id, top_left)
        self.doc.undo_stack.push(AddFragment(self.doc, fragment, f"Add {get_kind(kind_id).title}"))
        self.select_ids([node_id])
        return node_id

    def add_note(self) -> str:
        centre = self.mapToScene(self.viewport().rect().center())
        note_id = new_id()
        fragment = {"nodes": [], "edges": [], "notes": [
            note_snapshot(Note(note_id, "", (centre.x() - 110, centre.y() - 60)))]}
        self.doc.undo_stack.push(AddFragment(self.doc, fragment, "Add note"))
        self.select_ids([note_id])
        return note_id

    def select_ids(self, ids: list[str]) -> None:
        scene = self.scene()
        items = [scene.item_for_node.get(i) or scene.item_for_note.get(i) or scene.item_for_edge.get(i) for i in ids]
        scene.select_only([i for i in items if i is not None])

    def select_all(self) -> None:
        for item in self.scene().items():
            if isinstance(item, (NodeItem, NoteItem, EdgeItem)):
                item.setSelected(True)

    def delete_selection(self, verb: str = "Delete") -> None:
        nodes, edges, notes = self.scene().selected_ids()
        delete_items(self.doc, nodes, edges, notes, verb)

    def copy(self) -> bool:
        nodes, _edges, notes = self.scene().selected_ids()
        if not nodes and not notes:
            return False
        clipboard.put(clipboard.make_fragment(self.doc.journey, nodes, notes))
        self._paste_count = 0
        return True

    def cut(self) -> None:
        if self.copy():
            self.delete_selection("Cut")

    def paste(self) -> list[str]:
        """Pastes the steps and notes on the clipboard as new ones; a fragment the file format's
        reader refuses (an unknown kind, a bad setting) is refused with a message, changing nothing."""
        try:
            fragment = clipboard.get()
        except JourneyFileError as exc:
            self.refuse(f"Nothing was pasted: {exc}", self.viewport().mapFromGlobal(QCursor.pos()))
            return []
        if fragment is None or not (fragment["nodes"] or fragment["notes"]):
            return []
        self._paste_count += 1
        return self._add_copy(fragment, (GRID * 2 * self._paste_count, GRID * 2 * self._paste_count), "Paste")

    def duplicate(self) -> list[str]:
        nodes, _edges, notes = self.scene().selected_ids()
        if not nodes and not notes:
            return []
        return self._add_copy(clipboard.make_fragment(self.doc.journey, nodes, notes), (GRID * 2, GRID * 2), "Duplicate")

    def _add_copy(self, fragment: clipboard.Fragment, offset: tuple[float, float], verb: str) -> list[str]:
        fresh = clipboard.with_fresh_ids(fragment, self.doc.journey, offset)
        n = len(fresh["nodes"]) + len(fresh["notes"])
        self.doc.undo_stack.push(AddFragment(self.doc, fresh, f"{verb} {n} item{'s' if n != 1 else ''}"))
        ids = [s["id"] for s in fresh["nodes"]] + [s["id"] for s in fresh["notes"]]
        self.select_ids(ids)
        return ids

    def arrange(self) -> None:
        from .layout import auto_layout     # networkx: loaded on first use, not at start-up

        journey = self.doc.journey
        if not journey.nodes:
            return
        after = auto_layout(journey)
        before = {k: journey.nodes[k].position for k in after}
        if any(before[k] != after[k] for k in after):
            self.doc.undo_stack.push(Move(self.doc, before, after, "Auto-layout"))
        self.fit()

    def centre_on_node(self, node_id: str) -> None:
        item = self.scene().item_for_node.get(node_id)
        if item is None:
            return
        self.scene().select_only([item])
        self.centerOn(item.sceneBoundingRect().center())
