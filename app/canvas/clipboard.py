"""Copy and paste of steps as JSON fragments on the system clipboard.

A fragment holds steps, connections and notes in the file format's own form
(`journey-fragment/1`, the nodes, edges and notes of a `journey/1` file), and is
read back through the file format's reader: a fragment with an unknown kind or a
bad setting, written by a newer app or by hand, is refused with the reader's
message before anything changes. A fragment keeps only the edges among the copied
steps. Pasting gives every step, edge and note a fresh id (the same fragment may
be pasted twice, or into another journey) and remaps message-status references
that point inside the fragment.
"""
from __future__ import annotations

import atexit
import copy
import json
import re
from typing import Any, Iterable

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from app.journey.fileformat import JourneyFileError
from app.journey.jsonvalues import JsonFault, first_fault, parse
from app.journey.model import Journey, Node, new_id

from .commands import Fragment
from .snapshot import edge_from, edge_snapshot, node_from, node_snapshot, note_from, note_snapshot

MIME = "application/x-journey-studio-fragment"
# What one paste may hold. Far beyond real use (a step's name is a few words; an email's HTML a few
# dozen kilobytes — Gmail clips messages over 102 kB), the limits keep a document copied by mistake
# from freezing the app while it lays the text out; such a paste is refused and changes nothing.
MAX_BYTES = 20_000_000     # the clipboard's data, before it is read
MAX_STEPS = 1_000          # steps and notes
MAX_NAME = 500             # a step's name
MAX_NOTE = 20_000          # a sticky note's text
MAX_SETTING = 500_000      # any text setting: subject, HTML and text bodies, SMS and WhatsApp text
FRAGMENT_FORMAT = "journey-fragment/1"
_FORMAT_RE = re.compile(r"journey-fragment/([1-9][0-9]{0,8})")     # ASCII digits, as in files
_SOURCE = "the clipboard"


def make_fragment(journey: Journey, node_ids: Iterable[str], note_ids: Iterable[str] = ()) -> Fragment:
    chosen = [n for n in node_ids if n in journey.nodes]
    inside = set(chosen)
    return {
        "nodes": [node_snapshot(journey.nodes[n]) for n in chosen],
        "edges": [edge_snapshot(e) for e in journey.edges.values() if e.source in inside and e.target in inside],
        "notes": [note_snapshot(journey.notes[n]) for n in note_ids if n in journey.notes],
    }


def read_fragment(data: Any, source: str = _SOURCE) -> Fragment:
    """A fragment as the file format's reader accepts it (kinds known, configs migrated and
    checked, edges among its own steps, values the reader keeps); raises JourneyFileError naming the
    step and field."""
    fault = first_fault(data)
    if fault is not None:
        raise JourneyFileError(source, fault.message, pointer=fault.pointer)
    if not isinstance(data, dict) or not isinstance(data.get("nodes", []), list):
        raise JourneyFileError(source, "holds no journey steps")
    fmt = data.get("format", FRAGMENT_FORMAT)
    match = _FORMAT_RE.fullmatch(fmt) if isinstance(fmt, str) else None
    if not match:
        raise JourneyFileError(source, f"holds {fmt!r}, not journey steps", pointer="/format")
    if int(match.group(1)) > 1:
        raise JourneyFileError(source, f"holds steps from a newer Journey Studio ({fmt}); update the app to paste "
                                       "them", pointer="/format")
    if len(data.get("nodes", [])) + len(_list(data, "notes", source)) > MAX_STEPS:
        raise JourneyFileError(source, f"holds more than {MAX_STEPS:,} steps and notes; paste fewer at a time")
    nodes: dict[str, Node] = {}
    for i, raw in enumerate(data.get("nodes", [])):
        node = node_from(raw, nodes, source, f"/nodes/{i}")
        nodes[node.id] = node
    edges = [edge_from(raw, nodes, (), source, f"/edges/{i}") for i, raw in enumerate(_list(data, "edges", source))]
    notes = [note_from(raw, source, f"/notes/{i}") for i, raw in enumerate(_list(data, "notes", source))]
    for i, node in enumerate(nodes.values()):
        _not_too_long(node.name, MAX_NAME, "a step's name", source, f"/nodes/{i}/name")
        _settings_not_too_long(node.config, source, f"/nodes/{i}/config")
    for i, note in enumerate(notes):
        _not_too_long(note.text, MAX_NOTE, "a note's text", source, f"/notes/{i}/text")
    return {"nodes": [node_snapshot(n) for n in nodes.values()], "edges": [edge_snapshot(e) for e in edges],
            "notes": [note_snapshot(n) for n in notes]}


def _not_too_long(text: str, limit: int, what: str, source: str, pointer: str) -> None:
    if len(text) > limit:
        raise JourneyFileError(source, f"holds {what} of {len(text):,} characters; at most {limit:,} can be pasted",
                               pointer=pointer)


def _settings_not_too_long(value: Any, source: str, pointer: str) -> None:
    if isinstance(value, str):
        _not_too_long(value, MAX_SETTING, "a setting", source, pointer)
    elif isinstance(value, dict):
        for key, item in value.items():
            _settings_not_too_long(item, source, f"{pointer}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _settings_not_too_long(item, source, f"{pointer}/{index}")


def _list(data: dict[str, Any], key: str, source: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise JourneyFileError(source, f"expected a list of {key}", pointer=f"/{key}")
    return value


def with_fresh_ids(fragment: Fragment, target: Journey, offset: tuple[float, float]) -> Fragment:
    """A copy ready to add to `target`: new ids everywhere, shifted by `offset`."""
    out = copy.deepcopy(fragment)
    mapping = {snap["id"]: new_id() for snap in out["nodes"]}
    for snap in out["nodes"]:
        snap["id"] = mapping[snap["id"]]
        snap["position"] = _shifted(snap["position"], offset)
        if snap["kind"] == "message_status":
            ref = snap["config"].get("step", "")
            snap["config"]["step"] = mapping.get(ref, ref if ref in target.nodes else "")
    for snap in out["edges"]:
        snap["id"], snap["source"], snap["target"] = new_id(), mapping[snap["source"]], mapping[snap["target"]]
    for snap in out["notes"]:
        snap["id"] = new_id()
        snap["position"] = _shifted(snap["position"], offset)
    return out


def _shifted(position: Any, offset: tuple[float, float]) -> list[float]:
    return [position[0] + offset[0], position[1] + offset[1]]


def _encode(fragment: Fragment) -> bytes:
    return json.dumps({"format": FRAGMENT_FORMAT, **fragment}, ensure_ascii=False).encode("utf-8")


def put(fragment: Fragment) -> None:
    data = QMimeData()
    data.setData(MIME, _encode(fragment))
    data.setText(f"{len(fragment['nodes'])} journey step(s)")
    QApplication.clipboard().setMimeData(data)
    global _registered
    if not _registered:
        atexit.register(_clear)
        _registered = True


_registered = False


def _clear() -> None:
    """Hands the clipboard's data back while the application still exists; destroyed at
    interpreter shutdown instead, it crashed the process on exit."""
    app = QApplication.instance()
    if app is not None:
        QApplication.clipboard().clear()


def available() -> bool:
    """Whether the clipboard holds journey steps (read or not)."""
    data = QApplication.clipboard().mimeData()
    return data is not None and data.hasFormat(MIME)


def get() -> Fragment | None:
    """The fragment on the clipboard, checked by the file format's reader; None when the clipboard
    holds no journey steps. Raises JourneyFileError for a fragment that cannot be pasted."""
    data = QApplication.clipboard().mimeData()
    if data is None or not data.hasFormat(MIME):
        return None
    payload = data.data(MIME)
    if payload.size() > MAX_BYTES:
        raise JourneyFileError(_SOURCE, f"holds {payload.size() / 1e6:,.0f} MB of steps; at most "
                                        f"{MAX_BYTES / 1e6:,.0f} MB can be pasted")
    try:
        raw = parse(bytes(payload.data()).decode("utf-8"), check=False)
    except UnicodeDecodeError as exc:
        raise JourneyFileError(_SOURCE, f"holds steps that cannot be read ({exc})") from None
    except JsonFault as exc:
        raise JourneyFileError(_SOURCE, f"holds steps that cannot be read: {exc.message}",
                               pointer=exc.pointer) from None
    return read_fragment(raw)
