"""Copy and paste of steps as JSON fragments on the system clipboard.

A fragment keeps only the edges among the copied steps. Pasting gives every step,
edge and note a fresh id (the same fragment may be pasted twice, or into another
journey) and remaps message-status references that point inside the fragment.
"""
from __future__ import annotations

import atexit
import copy
import json
from typing import Iterable

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from app.journey.model import Journey, new_id

from .commands import Fragment
from .snapshot import edge_snapshot, node_snapshot, note_snapshot

MIME = "application/x-journey-studio-fragment"


def make_fragment(journey: Journey, node_ids: Iterable[str], note_ids: Iterable[str] = ()) -> Fragment:
    chosen = [n for n in node_ids if n in journey.nodes]
    inside = set(chosen)
    return {
        "nodes": [node_snapshot(journey.nodes[n]) for n in chosen],
        "edges": [edge_snapshot(e) for e in journey.edges.values() if e.source in inside and e.target in inside],
        "notes": [note_snapshot(journey.notes[n]) for n in note_ids if n in journey.notes],
    }


def with_fresh_ids(fragment: Fragment, target: Journey, offset: tuple[float, float]) -> Fragment:
    """A copy ready to add to `target`: new ids everywhere, shifted by `offset`."""
    out = copy.deepcopy(fragment)
    mapping = {snap["id"]: new_id() for snap in out["nodes"]}
    for snap in out["nodes"]:
        snap["id"] = mapping[snap["id"]]
        snap["position"] = (snap["position"][0] + offset[0], snap["position"][1] + offset[1])
        if snap["kind"] == "message_status":
            ref = snap["config"].get("step", "")
            snap["config"]["step"] = mapping.get(ref, ref if ref in target.nodes else "")
        snap["ends"] = tuple(snap.get("ends", ()))
    for snap in out["edges"]:
        snap["id"], snap["source"], snap["target"] = new_id(), mapping[snap["source"]], mapping[snap["target"]]
    for snap in out["notes"]:
        snap["id"] = new_id()
        snap["position"] = (snap["position"][0] + offset[0], snap["position"][1] + offset[1])
    return out


def _encode(fragment: Fragment) -> bytes:
    return json.dumps(fragment, default=list).encode("utf-8")


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


def get() -> Fragment | None:
    data = QApplication.clipboard().mimeData()
    if data is None or not data.hasFormat(MIME):
        return None
    try:
        fragment = json.loads(bytes(data.data(MIME)).decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(fragment, dict) or not {"nodes", "edges", "notes"} <= fragment.keys():
        return None
    return fragment
