"""Connection rules checked while the user drags, so a refusal can say why at once."""
from __future__ import annotations

from app.journey.model import Journey


def refusal(journey: Journey, source: str, outcome: str, target: str, *, replacing: str | None = None) -> str | None:
    """Why `source.outcome → target` may not be drawn, or None when it may.

    `replacing` is the id of an edge being reconnected: it does not count as taken.
    """
    if source == target:
        return "A step cannot lead into itself."
    target_node = journey.nodes[target]
    if not target_node.spec.has_input:
        return "Nothing can lead into a trigger: it is where contacts enter the journey."
    for edge in journey.edges_from(source, outcome):
        if edge.id == replacing:
            continue
        source_node = journey.nodes[source]
        spec = source_node.spec
        label = spec.outcome_label(outcome) if len(spec.outcomes) > 1 else "This step"
        where = journey.nodes[edge.target].title if edge.target in journey.nodes else "another step"
        if len(spec.outcomes) > 1:
            return f"'{label}' already leads to “{where}”. Drag the end of that connection to move it."
        return f"{label} already leads to “{where}”. Drag the end of that connection to move it."
    return None
