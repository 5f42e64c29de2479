"""Plain-data snapshots of model objects, so undo commands never hold live objects.

A snapshot is the object in the file format's own form (app/journey/fileformat.py): one node
serialization serves files, the clipboard and undo, and restoring a snapshot goes through the
file format's reader, with its checks and migrations.
"""
from __future__ import annotations

import copy
from typing import Any, Container, Mapping

from app.journey.fileformat import edge_data, node_data, note_data, read_edge, read_node, read_note
from app.journey.model import Edge, Node, Note

Snapshot = dict[str, Any]
_UNDO = "the undo history"


def node_snapshot(node: Node) -> Snapshot:
    return copy.deepcopy(node_data(node))


def node_from(snap: Snapshot, taken: Container[str] = (), source: str = _UNDO, pointer: str = "") -> Node:
    """The node a snapshot holds; raises JourneyFileError (a ValueError) for one that is not a valid node."""
    return read_node(snap, source, pointer, taken=taken)


def edge_snapshot(edge: Edge) -> Snapshot:
    return edge_data(edge)


def edge_from(snap: Snapshot, nodes: Mapping[str, Node], taken: Container[str] = (), source: str = _UNDO,
              pointer: str = "") -> Edge:
    return read_edge(snap, nodes, source, pointer, taken=taken)


def note_snapshot(note: Note) -> Snapshot:
    return note_data(note)


def note_from(snap: Snapshot, source: str = _UNDO, pointer: str = "") -> Note:
    return read_note(snap, source, pointer)


def get_path(root: Any, path: tuple[Any, ...]) -> Any:
    """Reads `path` from an object: the first key is an attribute, the rest index dicts and lists."""
    value = getattr(root, path[0])
    for key in path[1:]:
        value = value[key]
    return value


def set_path(root: Any, path: tuple[Any, ...], value: Any) -> None:
    if len(path) == 1:
        setattr(root, path[0], copy.deepcopy(value))
        return
    parent = get_path(root, path[:-1])
    parent[path[-1]] = copy.deepcopy(value)
