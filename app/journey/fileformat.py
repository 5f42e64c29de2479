"""The journey file format: versioned JSON ("format": "journey/1"), never pickle.

Reading goes through `migrate_document`, which upgrades older formats one step at
a time, so files written today open in every later version of the app. Every
error names the file, the node and the field (as a JSON pointer) and says what
was expected.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Container, Mapping

from .jsontext import parse_json
from .model import Edge, Journey, Node, Note
from .registry import UnknownKind, get_kind, kind_ids
from .schema import SchemaError, coerce
from .settings import SETTINGS_SCHEMA, legacy_wait_zone

FORMAT_NAME = "journey"
CURRENT_VERSION = 1
FORMAT = f"{FORMAT_NAME}/{CURRENT_VERSION}"
_FORMAT_RE = re.compile(rf"^{FORMAT_NAME}/(\d+)$")

# MIGRATIONS[n] turns a journey/n document into a journey/n+1 document.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class JourneyFileError(ValueError):
    """A file that cannot become a journey. `pointer` is a JSON pointer into the file."""

    def __init__(self, source: str, message: str, *, pointer: str = "", node_id: str | None = None) -> None:
        self.source, self.message, self.pointer, self.node_id = source, message, pointer, node_id
        where = f" at {pointer}" if pointer else ""
        node = f" (node {node_id})" if node_id else ""
        super().__init__(f"{source}{where}{node}: {message}")


# --- writing -----------------------------------------------------------------

def to_document(journey: Journey) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "id": journey.id,
        "name": journey.name,
        "description": journey.description,
        "settings": journey.settings,
        "nodes": [node_data(n) for n in journey.nodes.values()],
        "edges": [edge_data(e) for e in journey.edges.values()],
        "notes": [note_data(t) for t in journey.notes.values()],
    }


# One node serialization serves files, the clipboard and undo: `node_data` writes what `read_node`
# reads back (checked, migrated), so a step deleted and restored, or copied and pasted, is the step
# a file would hold.

def node_data(node: Node) -> dict[str, Any]:
    """A node as the file holds it (the config is the node's own object: copy before changing it)."""
    return {"id": node.id, "kind": node.kind, "kind_version": get_kind(node.kind).version, "name": node.name,
            "position": _xy(node.position), "config": node.config, **({"ends": list(node.ends)} if node.ends else {})}


def edge_data(edge: Edge) -> dict[str, Any]:
    return {"id": edge.id, "source": edge.source, "outcome": edge.outcome, "target": edge.target}


def note_data(note: Note) -> dict[str, Any]:
    return {"id": note.id, "text": note.text, "position": _xy(note.position), "size": _xy(note.size)}


_PAIR_RE = re.compile(r"\[\s+(-?[\d.e+-]+),\s+(-?[\d.e+-]+)\s+\]")


def dumps(journey: Journey) -> str:
    """Indented JSON that diffs well, with [x, y] pairs kept on one line."""
    text = json.dumps(to_document(journey), indent=2, ensure_ascii=False)
    return _PAIR_RE.sub(r"[\1, \2]", text) + "\n"


def _xy(pair: tuple[float, float]) -> list[float | int]:
    return [int(v) if float(v).is_integer() else float(v) for v in pair]


def save(journey: Journey, path: str | os.PathLike[str]) -> None:
    """Writes to a temporary file beside the target and renames it, so a crash never
    leaves a half-written journey behind."""
    write_atomically(Path(path), dumps(journey))


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- reading -----------------------------------------------------------------

def load(path: str | os.PathLike[str]) -> Journey:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")     # a BOM (Windows editors) is not content
    except FileNotFoundError:
        raise JourneyFileError(source, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JourneyFileError(source, f"cannot be read ({exc.__class__.__name__}: {exc})") from None
    return loads(text, source)


def loads(text: str, source: str = "<journey>") -> Journey:
    try:
        data = parse_json(text)
    except json.JSONDecodeError as exc:
        raise JourneyFileError(source, f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError:      # Python refuses to read an integer of more than 4,300 digits (CVE-2020-10735)
        raise JourneyFileError(source, f"is not a usable journey file: a number in it has more than "
                                       f"{sys.get_int_max_str_digits()} digits") from None
    return from_document(data, source)


def migrate_document(data: dict[str, Any], source: str) -> dict[str, Any]:
    fmt = data.get("format")
    if fmt is None:
        raise JourneyFileError(source, f'is not a journey file: it has no "format" field (expected "{FORMAT}")')
    match = _FORMAT_RE.match(str(fmt))
    if not match:
        raise JourneyFileError(source, f'is not a journey file: format is {fmt!r}, expected "{FORMAT}"', pointer="/format")
    version = int(match.group(1))
    if version > CURRENT_VERSION:
        raise JourneyFileError(source, f"was written by a newer Journey Studio (format {fmt}; this version reads up to "
                                       f"{FORMAT}). Update the app to open it.", pointer="/format")
    while version < CURRENT_VERSION:
        if version not in MIGRATIONS:
            raise JourneyFileError(source, f"format {FORMAT_NAME}/{version} is no longer supported", pointer="/format")
        data = MIGRATIONS[version](data)
        version += 1
    return data


def lift_wait_zones(data: dict[str, Any]) -> dict[str, Any]:
    """Reads the "fallback time zone" of version-1 waits (until a time of day) into the journey.

    That zone used to apply to the wait alone while quiet hours judged the same contact in UTC.
    Now one zone serves every local-time rule, so the first such wait's zone other than UTC (UTC
    was the default, not a choice) becomes the journey's `settings.timezone`, unless the journey
    sets one already. The wait's own field is dropped by the wait kind's migration. Returns a new
    document when something changed; never raises (bad shapes are reported by the readers).
    """
    nodes, settings = data.get("nodes"), data.get("settings", {})
    if not isinstance(nodes, list) or not isinstance(settings, dict) or settings.get("timezone"):
        return data
    old_waits = [("wait", raw["config"]) for raw in nodes if isinstance(raw, dict) and raw.get("kind") == "wait"
                 and raw.get("kind_version") == 1 and isinstance(raw.get("config"), dict)]
    name = legacy_wait_zone(old_waits)
    return {**data, "settings": {**settings, "timezone": name}} if name else data


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str, source: str,
          pointer: str, node_id: str | None = None) -> Any:
    if key not in data:
        raise JourneyFileError(source, f'missing field "{key}" ({what})', pointer=f"{pointer}/{key}", node_id=node_id)
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise JourneyFileError(source, f"expected {what}, got {type(value).__name__}", pointer=f"{pointer}/{key}",
                               node_id=node_id)
    return value


def _optional(data: dict[str, Any], key: str, kind: type, default: Any, what: str, source: str) -> Any:
    """A top-level member that may be left out; present, it must have the right type (null too)."""
    return _need(data, key, kind, what, source, "") if key in data else default


def _pair(data: dict[str, Any], key: str, default: tuple[float, float], source: str, pointer: str,
          node_id: str | None) -> tuple[float, float]:
    value = data.get(key, list(default))
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise JourneyFileError(source, "expected two numbers [x, y]", pointer=f"{pointer}/{key}", node_id=node_id)
    try:
        x, y = float(value[0]), float(value[1])
    except OverflowError:       # an integer of 400 digits is a number no float holds
        x = y = math.inf
    if not (math.isfinite(x) and math.isfinite(y)):
        raise JourneyFileError(source, "expected two finite numbers [x, y]", pointer=f"{pointer}/{key}",
                               node_id=node_id)
    return x, y


def from_document(data: Any, source: str = "<journey>") -> Journey:
    if not isinstance(data, dict):
        raise JourneyFileError(source, f"is not a journey file: expected a JSON object, got {type(data).__name__}")
    data = migrate_document(data, source)
    journey = Journey(
        id=_need(data, "id", str, "the journey's id as text", source, ""),
        name=_need(data, "name", str, "the journey's name as text", source, ""),
        description=data.get("description", "") if isinstance(data.get("description", ""), str) else "",
    )
    data = lift_wait_zones(data)
    try:
        journey.settings = coerce(SETTINGS_SCHEMA, data.get("settings", {}), "/settings")
    except SchemaError as exc:
        raise JourneyFileError(source, exc.message, pointer=exc.pointer) from None
    for i, raw in enumerate(_need(data, "nodes", list, "a list of nodes", source, "")):
        node = read_node(raw, source, f"/nodes/{i}", taken=journey.nodes)
        journey.nodes[node.id] = node
    for i, raw in enumerate(_optional(data, "edges", list, [], "a list of edges", source)):
        edge = read_edge(raw, journey.nodes, source, f"/edges/{i}", taken=journey.edges)
        journey.edges[edge.id] = edge
    for i, raw in enumerate(_optional(data, "notes", list, [], "a list of sticky notes", source)):
        note = read_note(raw, source, f"/notes/{i}")
        journey.notes[note.id] = note
    return journey


def read_node(raw: Any, source: str, pointer: str, *, taken: Container[str] = ()) -> Node:
    """A node from its file form (see `node_data`): kind known, config migrated to the kind's
    version and checked, outcomes real. Raises JourneyFileError naming the node and field;
    `taken` holds ids already used."""
    if not isinstance(raw, dict):
        raise JourneyFileError(source, "expected a node object", pointer=pointer)
    node_id = _need(raw, "id", str, "the node's id as text", source, pointer)
    if node_id in taken:
        raise JourneyFileError(source, f"node id {node_id} is used twice", pointer=f"{pointer}/id", node_id=node_id)
    kind_id = _need(raw, "kind", str, "the node's kind", source, pointer, node_id)
    try:
        kind = get_kind(kind_id)
    except UnknownKind:
        raise JourneyFileError(source, f"unknown node kind {kind_id!r}; expected one of {', '.join(kind_ids())}",
                               pointer=f"{pointer}/kind", node_id=node_id) from None
    written = raw.get("kind_version", kind.version)
    if not isinstance(written, int) or written < 1:
        raise JourneyFileError(source, "expected the kind version as a whole number", pointer=f"{pointer}/kind_version",
                               node_id=node_id)
    if written > kind.version:
        raise JourneyFileError(source, f"{kind_id} version {written} is newer than this app knows ({kind.version}); "
                                       "update the app to open it", pointer=f"{pointer}/kind_version", node_id=node_id)
    try:
        config = kind.load_config(copy.deepcopy(raw.get("config", {})), written, f"{pointer}/config")
    except SchemaError as exc:
        raise JourneyFileError(source, exc.message, pointer=exc.pointer, node_id=node_id) from None
    ends = raw.get("ends", [])
    if not isinstance(ends, list) or any(not isinstance(o, str) or kind.outcome(o) is None for o in ends):
        names = ", ".join(o.name for o in kind.outcomes)
        raise JourneyFileError(source, f"expected a list of this kind's outcomes ({names})", pointer=f"{pointer}/ends",
                               node_id=node_id)
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise JourneyFileError(source, "expected the step's name as text", pointer=f"{pointer}/name", node_id=node_id)
    return Node(node_id, kind_id, config, _pair(raw, "position", (0, 0), source, pointer, node_id), name, tuple(ends))


def read_edge(raw: Any, nodes: Mapping[str, Node], source: str, pointer: str, *,
              taken: Container[str] = ()) -> Edge:
    """An edge from its file form, joining two of `nodes` through an outcome its source has."""
    if not isinstance(raw, dict):
        raise JourneyFileError(source, "expected an edge object", pointer=pointer)
    edge = Edge(*(_need(raw, key, str, what, source, pointer) for key, what in (
        ("id", "the edge's id"), ("source", "the id of the node it leaves"),
        ("outcome", "the outcome it leaves through"), ("target", "the id of the node it enters"))))
    for end in ("source", "target"):
        node_id = getattr(edge, end)
        if node_id not in nodes:
            raise JourneyFileError(source, f"edge {edge.id} refers to a node that does not exist ({node_id})",
                                   pointer=f"{pointer}/{end}")
    kind = nodes[edge.source].spec
    if kind.outcome(edge.outcome) is None:
        names = ", ".join(o.name for o in kind.outcomes)
        raise JourneyFileError(source, f"{kind.id} has no outcome {edge.outcome!r}; expected one of {names}",
                               pointer=f"{pointer}/outcome", node_id=edge.source)
    if edge.id in taken:
        raise JourneyFileError(source, f"edge id {edge.id} is used twice", pointer=f"{pointer}/id")
    return edge


def read_note(raw: Any, source: str, pointer: str) -> Note:
    """A sticky note from its file form."""
    if not isinstance(raw, dict):
        raise JourneyFileError(source, "expected a note object", pointer=pointer)
    return Note(_need(raw, "id", str, "the note's id", source, pointer),
                _need(raw, "text", str, "text", source, pointer),
                _pair(raw, "position", (0, 0), source, pointer, None),
                _pair(raw, "size", (220, 120), source, pointer, None))
