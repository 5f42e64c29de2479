"""The journey model: plain Python objects with stable string ids.

Ids are uuid strings that survive save and load, because runs in the database
point at node ids. The model holds no Qt and no database; the canvas wraps it in a
document object that emits signals, and the engine reads published snapshots.
"""
from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field

from . import node_kinds as _declarations  # noqa: F401  (registers the kinds)
from .registry import NodeKind, get_kind
from .schema import Config, coerce
from .settings import default_settings


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Node:
    id: str
    kind: str
    config: Config
    position: tuple[float, float] = (0.0, 0.0)
    name: str = ""                       # the user's name for the step, optional
    ends: tuple[str, ...] = ()           # outcomes explicitly marked "journey ends here"

    @property
    def spec(self) -> NodeKind:
        return get_kind(self.kind)

    @property
    def summary(self) -> str:
        return self.spec.summarize(self.config)

    @property
    def title(self) -> str:
        """What people read in lists and messages: the step's name, else its summary."""
        return self.name or self.summary


@dataclass
class Edge:
    id: str
    source: str
    outcome: str
    target: str


@dataclass
class Note:
    """A sticky note on the canvas; it takes no part in running the journey."""

    id: str
    text: str
    position: tuple[float, float] = (0.0, 0.0)
    size: tuple[float, float] = (220.0, 120.0)


@dataclass
class Journey:
    id: str = field(default_factory=new_id)
    name: str = "Untitled journey"
    description: str = ""
    settings: Config = field(default_factory=default_settings)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[str, Edge] = field(default_factory=dict)
    notes: dict[str, Note] = field(default_factory=dict)

    # --- building -----------------------------------------------------------

    def add_node(self, kind: str, config: Config | None = None, *, position: tuple[float, float] = (0.0, 0.0),
                 name: str = "", node_id: str | None = None, ends: tuple[str, ...] = ()) -> Node:
        spec = get_kind(kind)
        merged = spec.default_config()
        merged.update(copy.deepcopy(config or {}))
        # The same normalisation as loading a file, so a built journey equals its reloaded self.
        node = Node(node_id or new_id(), kind, coerce(spec.schema, merged), position, name, ends)
        if node.id in self.nodes:
            raise ValueError(f"node id {node.id} is already used")
        self.nodes[node.id] = node
        return node

    def connect(self, source: str, target: str, outcome: str = "next", *, edge_id: str | None = None) -> Edge:
        edge = Edge(edge_id or new_id(), source, outcome, target)
        self.edges[edge.id] = edge
        return edge

    def add_note(self, text: str, position: tuple[float, float] = (0.0, 0.0),
                 size: tuple[float, float] = (220.0, 120.0), *, note_id: str | None = None) -> Note:
        note = Note(note_id or new_id(), text, position, size)
        self.notes[note.id] = note
        return note

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Removes a node and every edge touching it; returns both for undo."""
        touching = [e for e in self.edges.values() if node_id in (e.source, e.target)]
        for e in touching:
            del self.edges[e.id]
        return self.nodes.pop(node_id), touching

    # --- reading ------------------------------------------------------------

    def triggers(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "trigger"]

    def trigger(self) -> Node | None:
        found = self.triggers()
        return found[0] if len(found) == 1 else None

    def edges_from(self, node_id: str, outcome: str | None = None) -> list[Edge]:
        return [e for e in self.edges.values()
                if e.source == node_id and (outcome is None or e.outcome == outcome)]

    def edges_into(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges.values() if e.target == node_id]

    def next_node(self, node_id: str, outcome: str = "next") -> str | None:
        """Where a contact goes when leaving `node_id` through `outcome`; None ends the journey."""
        for e in self.edges.values():
            if e.source == node_id and e.outcome == outcome:
                return e.target
        return None

    def clone(self) -> "Journey":
        return copy.deepcopy(self)
