"""The scene reflects a journey document: items are made and removed only in the
slots below, which follow the document's signals. The scene never changes the model."""
from __future__ import annotations

from PySide6.QtCore import QLineF, QRect, QRectF, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from app.engine.stats import JourneyStats, NodeStats
from app.journey.validate import Problem

from .document import JourneyDocument
from .edge_item import EdgeItem
from .node_item import NodeItem
from .note_item import NoteItem
from .style import CARD_H, CARD_W, GRID, theme


class JourneyScene(QGraphicsScene):
    items_changed = Signal()        # an item appeared, vanished or moved: the minimap repaints

    def __init__(self, doc: JourneyDocument) -> None:
        super().__init__()
        self.doc = doc
        self.snap = False
        self.item_for_node: dict[str, NodeItem] = {}
        self.item_for_edge: dict[str, EdgeItem] = {}
        self.item_for_note: dict[str, NoteItem] = {}
        self._stats: JourneyStats | None = None     # the last statistics shown, for steps added later
        self.stats_hidden = False       # a test run is lit: its badges take the numbers' place
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setBackgroundBrush(theme().canvas)
        doc.node_added.connect(self._on_node_added)
        doc.node_removed.connect(self._on_node_removed)
        doc.node_changed.connect(self._on_node_changed)
        doc.node_moved.connect(self._on_node_moved)
        doc.edge_added.connect(self._on_edge_added)
        doc.edge_removed.connect(self._on_edge_removed)
        doc.note_added.connect(self._on_note_added)
        doc.note_removed.connect(self._on_note_removed)
        doc.note_changed.connect(self._on_note_changed)
        journey = doc.journey
        for node_id in journey.nodes:
            self._on_node_added(node_id)
        for edge_id in journey.edges:
            self._on_edge_added(edge_id)
        for note_id in journey.notes:
            self._on_note_added(note_id)

    # --- document → items -------------------------------------------------------

    def _on_node_added(self, node_id: str) -> None:
        item = NodeItem(self.doc.journey.nodes[node_id])
        if self._stats is not None:
            item.set_stats(self._node_stats(node_id))
        self.item_for_node[node_id] = item
        self.addItem(item)
        self.items_changed.emit()

    def _on_node_removed(self, node_id: str) -> None:
        item = self.item_for_node.pop(node_id)
        self.removeItem(item)
        self.items_changed.emit()

    def _on_node_changed(self, node_id: str) -> None:
        item = self.item_for_node[node_id]
        item.refresh(self.doc.journey.nodes[node_id])
        for edge in item.edges:   # outcome labels and ports may have moved
            edge.adjust()

    def _on_node_moved(self, node_id: str) -> None:
        self.item_for_node[node_id].setPos(*self.doc.journey.nodes[node_id].position)
        self.items_changed.emit()

    def _on_edge_added(self, edge_id: str) -> None:
        edge = self.doc.journey.edges[edge_id]
        source, target = self.item_for_node[edge.source], self.item_for_node[edge.target]
        spec = self.doc.journey.nodes[edge.source].spec
        label = spec.outcome_label(edge.outcome) if len(spec.outcomes) > 1 and spec.outcome(edge.outcome) else ""
        item = EdgeItem(edge_id, source, edge.outcome, target, label)
        source.edges.add(item)
        target.edges.add(item)
        self.item_for_edge[edge_id] = item
        self.addItem(item)
        self.items_changed.emit()

    def _on_edge_removed(self, edge_id: str) -> None:
        item = self.item_for_edge.pop(edge_id)
        item.source.edges.discard(item)
        item.target.edges.discard(item)
        self.removeItem(item)
        self.items_changed.emit()

    def _on_note_added(self, note_id: str) -> None:
        item = NoteItem(self.doc.journey.notes[note_id])
        self.item_for_note[note_id] = item
        self.addItem(item)
        self.items_changed.emit()

    def _on_note_removed(self, note_id: str) -> None:
        self.removeItem(self.item_for_note.pop(note_id))
        self.items_changed.emit()

    def _on_note_changed(self, note_id: str) -> None:
        self.item_for_note[note_id].refresh(self.doc.journey.notes[note_id])
        self.items_changed.emit()

    # --- validation markers -----------------------------------------------------

    def show_problems(self, problems: list[Problem]) -> None:
        by_node: dict[str, list[Problem]] = {}
        for p in problems:
            if p.node_id:
                by_node.setdefault(p.node_id, []).append(p)
        for node_id, item in self.item_for_node.items():
            item.set_problems(by_node.get(node_id, []))

    # --- statistics -------------------------------------------------------------

    def show_stats(self, stats: JourneyStats | None) -> None:
        """Each step shows its numbers (zeros for a step with none yet); None hides them all.
        Polled every few seconds: an item repaints only if its text changed."""
        self._stats = stats
        for node_id, item in self.item_for_node.items():
            item.set_stats(self._node_stats(node_id))

    def shown_stats(self) -> JourneyStats | None:
        """The statistics last given to `show_stats` (None: hidden)."""
        return self._stats

    def _node_stats(self, node_id: str) -> NodeStats | None:
        if self._stats is None or self.stats_hidden:
            return None
        return self._stats.nodes.get(node_id) or NodeStats()   # .get: `nodes` is a defaultdict; do not grow it

    # --- selection --------------------------------------------------------------

    def selected_ids(self) -> tuple[list[str], list[str], list[str]]:
        """(node ids, edge ids, note ids) of the selection, in model order."""
        nodes, edges, notes = [], [], []
        for item in self.selectedItems():
            if isinstance(item, NodeItem):
                nodes.append(item.node_id)
            elif isinstance(item, EdgeItem):
                edges.append(item.edge_id)
            elif isinstance(item, NoteItem):
                notes.append(item.note_id)
        order = {k: i for i, k in enumerate(self.doc.journey.nodes)}
        nodes.sort(key=order.__getitem__)
        return nodes, edges, notes

    def select_only(self, items: list[QGraphicsItem]) -> None:
        self.clearSelection()
        for item in items:
            item.setSelected(True)

    def journey_rect(self) -> QRectF:
        """The area the journey covers, from the model (cheaper than itemsBoundingRect)."""
        journey = self.doc.journey
        xs = [n.position[0] for n in journey.nodes.values()] + [t.position[0] for t in journey.notes.values()]
        ys = [n.position[1] for n in journey.nodes.values()] + [t.position[1] for t in journey.notes.values()]
        if not xs:
            return QRectF(-400, -300, 800, 600)
        right = max([n.position[0] + CARD_W for n in journey.nodes.values()]
                    + [t.position[0] + t.size[0] for t in journey.notes.values()])
        bottom = max([n.position[1] + CARD_H for n in journey.nodes.values()]
                     + [t.position[1] + t.size[1] for t in journey.notes.values()])
        return QRectF(min(xs), min(ys), right - min(xs), bottom - min(ys))

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:  # noqa: N802
        rect = QRectF(rect)
        painter.fillRect(rect, theme().canvas)
        scale = painter.worldTransform().m11()
        if scale < 0.5:
            return       # a dot grid below half size is only noise
        step = GRID * 5
        left = (rect.left() // step) * step
        top = (rect.top() // step) * step
        lines = []
        x = left
        while x < rect.right():
            lines.append(QLineF(x, top, x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            lines.append(QLineF(left, y, rect.right(), y))
            y += step
        painter.setPen(QPen(theme().grid, 0))
        painter.drawLines(lines)
