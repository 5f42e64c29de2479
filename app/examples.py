"""The example journeys shipped in resources/examples/, and seeding a new store with them."""
from __future__ import annotations

from pathlib import Path

from app.journey.fileformat import load, to_document
from app.journey.model import Journey, new_id
from app.paths import EXAMPLES
from app.store.journeys import JourneyStore


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.json"))


def load_example(stem: str) -> Journey:
    return load(EXAMPLES / f"{stem}.json")


def with_fresh_ids(journey: Journey) -> Journey:
    """A copy to start a new journey from: new ids everywhere, references remapped."""
    copy = journey.clone()
    mapping = {old: new_id() for old in copy.nodes}
    copy.id = new_id()
    copy.nodes = {}
    for old, node in journey.clone().nodes.items():
        node.id = mapping[old]
        if node.kind == "message_status" and node.config.get("step") in mapping:
            node.config["step"] = mapping[node.config["step"]]
        copy.nodes[node.id] = node
    copy.edges = {}
    for edge in journey.edges.values():
        copy.connect(mapping[edge.source], mapping[edge.target], edge.outcome)
    copy.notes = {}
    for note in journey.notes.values():
        copy.add_note(note.text, note.position, note.size)
    return copy


def seed_examples(store: JourneyStore) -> int:
    """Fills an empty store with the examples so a first start shows something real."""
    if store.list():
        return 0
    for path in example_files():
        store.create(to_document(load(path)))
    return len(example_files())
