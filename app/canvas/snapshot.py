"""Plain-data snapshots of model objects, so undo commands never hold live objects."""
from __future__ import annotations

import copy
from typing import Any

from app.journey.model import Edge, Node, Note

Snapshot = dict[str, Any]


def node_snapshot(node: Node) -> Snapshot:
    return {"id": node.id, "kind": node.kind, "config": copy.deepcopy(node.config),
            "position": tuple(node.position), "name": node.name, "ends": tuple(node.ends)}


def node_from(snap: Snapshot) -> Node:
    return Node(snap["id"], snap["kind"], copy.deepcopy(snap["config"]), tuple(snap["position"]),
                snap.get("name", ""), tuple(snap.get("ends", ())))


def edge_snapshot(edge: Edge) -> Snapshot:
    return {"id": edge.id, "source": edge.source, "outcome": edge.outcome, "target": edge.target}


def edge_from(snap: Snapshot) -> Edge:
    return Edge(snap["id"], snap["source"], snap["outcome"], snap["target"])


def note_snapshot(note: Note) -> Snapshot:
    return {"id": note.id, "text": note.text, "position": tuple(note.position), "size": tuple(note.size)}


def note_from(snap: Snapshot) -> Note:
    return Note(snap["id"], snap["text"], tuple(snap["position"]), tuple(snap["size"]))


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
