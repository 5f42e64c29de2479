"""Undo commands. Each holds ids and plain snapshots and changes the model only
through the document, never the items (the scene follows the document's signals)."""
from __future__ import annotations

import copy
import time
from typing import Any

from PySide6.QtGui import QUndoCommand

from app.journey.model import Node
from app.journey.registry import get_kind

from .document import JourneyDocument
from .snapshot import Snapshot, edge_snapshot, node_snapshot, note_snapshot

Fragment = dict[str, list[Snapshot]]   # {"nodes": [...], "edges": [...], "notes": [...]}


class AddFragment(QUndoCommand):
    """Adds nodes, edges and notes that already carry their ids: a new step, a paste, a duplicate."""

    def __init__(self, doc: JourneyDocument, fragment: Fragment, text: str) -> None:
        super().__init__(text)
        self.doc, self.fragment = doc, copy.deepcopy(fragment)

    def redo(self) -> None:
        for snap in self.fragment.get("nodes", []):
            self.doc.add_node(snap)
        for snap in self.fragment.get("edges", []):
            self.doc.add_edge(snap)
        for snap in self.fragment.get("notes", []):
            self.doc.add_note(snap)

    def undo(self) -> None:
        for snap in self.fragment.get("notes", []):
            self.doc.remove_note(snap["id"])
        for snap in self.fragment.get("edges", []):
            self.doc.remove_edge(snap["id"])
        for snap in self.fragment.get("nodes", []):
            self.doc.remove_node(snap["id"])


class RemoveEdge(QUndoCommand):
    def __init__(self, doc: JourneyDocument, edge_id: str, parent: QUndoCommand | None = None) -> None:
        super().__init__("Delete connection", parent)
        self.doc, self.snap = doc, edge_snapshot(doc.journey.edges[edge_id])
        self.index = 0

    def redo(self) -> None:
        self.index = self.doc.index_of(self.snap["id"])
        self.doc.remove_edge(self.snap["id"])

    def undo(self) -> None:
        self.doc.add_edge(self.snap, self.index)


class RemoveNode(QUndoCommand):
    """Removes a node with the edges still touching it when it runs (a macro may have taken some);
    undo puts them back at their places in the journey's order."""

    def __init__(self, doc: JourneyDocument, node_id: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(f"Delete {doc.journey.nodes[node_id].spec.title}", parent)
        self.doc, self.node_id = doc, node_id
        self.snap: Snapshot = {}
        self.index = 0
        self.edges: list[tuple[int, Snapshot]] = []

    def redo(self) -> None:
        journey = self.doc.journey
        self.snap = node_snapshot(journey.nodes[self.node_id])
        self.index = self.doc.index_of(self.node_id)
        self.edges = [(i, edge_snapshot(e)) for i, e in enumerate(journey.edges.values())
                      if self.node_id in (e.source, e.target)]
        self.doc.remove_node(self.node_id)

    def undo(self) -> None:
        self.doc.add_node(self.snap, self.index)
        for index, edge in self.edges:          # ascending: each lands where it stood
            self.doc.add_edge(edge, index)


class RemoveNote(QUndoCommand):
    def __init__(self, doc: JourneyDocument, note_id: str, parent: QUndoCommand | None = None) -> None:
        super().__init__("Delete note", parent)
        self.doc, self.snap = doc, note_snapshot(doc.journey.notes[note_id])
        self.index = 0

    def redo(self) -> None:
        self.index = self.doc.index_of(self.snap["id"])
        self.doc.remove_note(self.snap["id"])

    def undo(self) -> None:
        self.doc.add_note(self.snap, self.index)


def delete_items(doc: JourneyDocument, node_ids: list[str], edge_ids: list[str], note_ids: list[str],
                 verb: str = "Delete") -> None:
    """One undo step for a multi-delete: a macro of single removals."""
    count = len(node_ids) + len(edge_ids) + len(note_ids)
    if not count:
        return
    stack = doc.undo_stack
    stack.beginMacro(f"{verb} {count} items" if count > 1 else _single_text(doc, node_ids, edge_ids, verb))
    for edge_id in edge_ids:
        if edge_id in doc.journey.edges:
            stack.push(RemoveEdge(doc, edge_id))
    for node_id in node_ids:
        stack.push(RemoveNode(doc, node_id))
    for note_id in note_ids:
        stack.push(RemoveNote(doc, note_id))
    stack.endMacro()


def _single_text(doc: JourneyDocument, node_ids: list[str], edge_ids: list[str], verb: str) -> str:
    if node_ids:
        return f"{verb} {doc.journey.nodes[node_ids[0]].spec.title}"
    return f"{verb} connection" if edge_ids else f"{verb} note"


class Move(QUndoCommand):
    """Positions of nodes and notes before and after one gesture (a drag, an auto-layout)."""

    def __init__(self, doc: JourneyDocument, before: dict[str, tuple[float, float]],
                 after: dict[str, tuple[float, float]], text: str = "Move") -> None:
        super().__init__(text)
        self.doc, self.before, self.after = doc, dict(before), dict(after)

    def redo(self) -> None:
        self.doc.move(self.after)

    def undo(self) -> None:
        self.doc.move(self.before)


class Connect(QUndoCommand):
    def __init__(self, doc: JourneyDocument, edge: Snapshot) -> None:
        super().__init__("Connect steps")
        self.doc, self.edge = doc, dict(edge)

    def redo(self) -> None:
        self.doc.add_edge(self.edge)

    def undo(self) -> None:
        self.doc.remove_edge(self.edge["id"])


class Reconnect(QUndoCommand):
    """Moves an edge's end to another step; the edge keeps its id and its place in the order."""

    def __init__(self, doc: JourneyDocument, edge_id: str, new_target: str) -> None:
        super().__init__("Reconnect")
        self.doc = doc
        self.before = edge_snapshot(doc.journey.edges[edge_id])
        self.after = {**self.before, "target": new_target}

    def _swap(self, old: Snapshot, new: Snapshot) -> None:
        index = self.doc.index_of(old["id"])
        self.doc.remove_edge(old["id"])
        self.doc.add_edge(new, index)

    def redo(self) -> None:
        self._swap(self.before, self.after)

    def undo(self) -> None:
        self._swap(self.after, self.before)


_SET_VALUE_ID = 1001
_MERGE_SECONDS = 2.0


class SetValue(QUndoCommand):
    """A field of a node, note or the journey (target ""). Typing merges into one step."""

    def __init__(self, doc: JourneyDocument, target: str, path: tuple[Any, ...], value: Any,
                 label: str, *, mergeable: bool = False) -> None:
        super().__init__(f"Change {label}")
        self.doc, self.target, self.path = doc, target, tuple(path)
        self.old, self.new = copy.deepcopy(doc.value(target, self.path)), copy.deepcopy(value)
        self.mergeable, self.stamp = mergeable, time.monotonic()

    def id(self) -> int:
        return _SET_VALUE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt's name)
        if not (isinstance(other, SetValue) and self.mergeable and other.mergeable
                and other.target == self.target and other.path == self.path
                and other.stamp - self.stamp < _MERGE_SECONDS):
            return False
        self.new, self.stamp = other.new, other.stamp
        self.setObsolete(self.new == self.old)
        return True

    def redo(self) -> None:
        self.doc.set_value(self.target, self.path, self.new)

    def undo(self) -> None:
        self.doc.set_value(self.target, self.path, self.old)


def node_fragment(kind_id: str, node_id: str, position: tuple[float, float]) -> Fragment:
    """A fragment holding one new step of `kind_id` with its default settings."""
    node = Node(node_id, kind_id, get_kind(kind_id).default_config(), position)
    return {"nodes": [node_snapshot(node)], "edges": [], "notes": []}
