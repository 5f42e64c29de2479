"""The journey document: the one place where the model of an open journey changes.

The canvas scene, the minimap, the inspector and the problems panel only listen to
these signals; undo commands only call these methods. Nothing else mutates the
`Journey`, so every view stays in step with the model and undo cannot leave a
stale item behind.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from app.journey.model import Journey

from .snapshot import Snapshot, edge_from, get_path, node_from, note_from, set_path


class JourneyDocument(QObject):
    node_added = Signal(str)
    node_removed = Signal(str)
    node_changed = Signal(str)       # config, name or ends
    node_moved = Signal(str)
    edge_added = Signal(str)
    edge_removed = Signal(str)
    note_added = Signal(str)
    note_removed = Signal(str)
    note_changed = Signal(str)       # text, position or size
    journey_changed = Signal()       # name, description or settings
    changed = Signal()               # after any edit: validation, autosave, minimap

    def __init__(self, journey: Journey, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.journey = journey
        self.undo_stack = QUndoStack(self)

    # --- nodes ----------------------------------------------------------------
    # Adding takes an index: undo puts a step, connection or note back where it was in the
    # journey's order, so the saved file is byte-identical to the one before the delete.

    def add_node(self, snap: Snapshot, index: int | None = None) -> None:
        """Adds the node a snapshot holds (checked by the file format's reader) at `index` in the
        journey's order (the end by default); raises ValueError for an invalid or duplicate one."""
        node = node_from(snap, taken=self.journey.nodes)
        _insert(self.journey.nodes, node.id, node, index)
        self.node_added.emit(node.id)
        self.changed.emit()

    def remove_node(self, node_id: str) -> None:
        """Removes the node; its edges must already be gone (commands remove them first)."""
        for edge in [e for e in self.journey.edges.values() if node_id in (e.source, e.target)]:
            self.remove_edge(edge.id)
        del self.journey.nodes[node_id]
        self.node_removed.emit(node_id)
        self.changed.emit()

    def move(self, positions: dict[str, tuple[float, float]]) -> None:
        for item_id, pos in positions.items():
            if item_id in self.journey.nodes:
                self.journey.nodes[item_id].position = (pos[0], pos[1])
                self.node_moved.emit(item_id)
            elif item_id in self.journey.notes:
                self.journey.notes[item_id].position = (pos[0], pos[1])
                self.note_changed.emit(item_id)
        self.changed.emit()

    # --- edges ----------------------------------------------------------------

    def add_edge(self, snap: Snapshot, index: int | None = None) -> None:
        edge = edge_from(snap, self.journey.nodes, taken=self.journey.edges)
        _insert(self.journey.edges, edge.id, edge, index)
        self.edge_added.emit(edge.id)
        self.changed.emit()

    def remove_edge(self, edge_id: str) -> None:
        del self.journey.edges[edge_id]
        self.edge_removed.emit(edge_id)
        self.changed.emit()

    # --- notes ----------------------------------------------------------------

    def add_note(self, snap: Snapshot, index: int | None = None) -> None:
        note = note_from(snap)
        if note.id in self.journey.notes:
            raise ValueError(f"note id {note.id} is already used")
        _insert(self.journey.notes, note.id, note, index)
        self.note_added.emit(note.id)
        self.changed.emit()

    def remove_note(self, note_id: str) -> None:
        del self.journey.notes[note_id]
        self.note_removed.emit(note_id)
        self.changed.emit()

    def index_of(self, item_id: str) -> int:
        """Where a node, edge or note stands in the journey's order (what the file lists)."""
        for table in (self.journey.nodes, self.journey.edges, self.journey.notes):
            if item_id in table:
                return list(table).index(item_id)
        raise KeyError(item_id)

    # --- values ---------------------------------------------------------------

    def target(self, target_id: str) -> Any:
        """A node or note by id; "" is the journey itself (name, description, settings)."""
        if not target_id:
            return self.journey
        return self.journey.nodes.get(target_id) or self.journey.notes[target_id]

    def value(self, target_id: str, path: tuple[Any, ...]) -> Any:
        return get_path(self.target(target_id), path)

    def set_value(self, target_id: str, path: tuple[Any, ...], value: Any) -> None:
        set_path(self.target(target_id), path, value)
        if not target_id:
            self.journey_changed.emit()
        elif target_id in self.journey.nodes:
            self.node_changed.emit(target_id)
        else:
            self.note_changed.emit(target_id)
        self.changed.emit()


def _insert(table: dict[str, Any], key: str, value: Any, index: int | None) -> None:
    """Puts `key` at `index` in the dict's order (in place: the journey keeps its dict)."""
    if index is None or index >= len(table):
        table[key] = value
        return
    items = list(table.items())
    items.insert(index, (key, value))
    table.clear()
    table.update(items)
