"""Auto-layout: layered, left to right, from the graph's topological generations.

Cycles (allowed through long waits) are broken by ignoring edges that point back
to a node already seen in a depth-first walk from the trigger, so the layering
is defined for every journey. Within a column, children follow their parent's
row and a branching step's outcomes keep their declared order (Yes above No).
"""
from __future__ import annotations

import networkx as nx

from app.journey.model import Journey

COLUMN = 300.0
ROW = 140.0


def _acyclic(journey: Journey) -> nx.DiGraph[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(journey.nodes)
    order = {n: i for i, n in enumerate(journey.nodes)}
    forward = [(e.source, e.target) for e in journey.edges.values()]
    graph.add_edges_from(forward)
    if nx.is_directed_acyclic_graph(graph):
        return graph
    dag: nx.DiGraph[str] = nx.DiGraph()
    dag.add_nodes_from(journey.nodes)
    state: dict[str, int] = {}
    roots = sorted(journey.nodes, key=lambda n: (journey.nodes[n].kind != "trigger", order[n]))
    for root in roots:
        if root in state:
            continue
        stack = [(root, iter(graph.successors(root)))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) != 1:          # not a back edge
                dag.add_edge(node, child)
                if child not in state:
                    state[child] = 1
                    stack.append((child, iter(graph.successors(child))))
    return dag


def _outcome_rank(journey: Journey) -> dict[tuple[str, str], int]:
    rank: dict[tuple[str, str], int] = {}
    for edge in journey.edges.values():
        names = [o.name for o in journey.nodes[edge.source].spec.outcomes]
        rank[(edge.source, edge.target)] = names.index(edge.outcome) if edge.outcome in names else 0
    return rank


def auto_layout(journey: Journey, origin: tuple[float, float] = (0.0, 0.0)) -> dict[str, tuple[float, float]]:
    """New positions for every node; notes are left where they are."""
    dag = _acyclic(journey)
    rank = _outcome_rank(journey)
    slot: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    for column, generation in enumerate(nx.topological_generations(dag)):
        def key(node_id: str) -> tuple[float, int]:
            parents = [p for p in dag.predecessors(node_id) if p in slot]
            if not parents:
                return (float("inf"), 0)
            best = min(parents, key=lambda p: slot[p])
            return (slot[best], rank.get((best, node_id), 0))
        ordered = sorted(generation, key=key)
        for row, node_id in enumerate(ordered):
            slot[node_id] = row + 0.0
        offset = (len(ordered) - 1) * ROW / 2
        for row, node_id in enumerate(ordered):
            positions[node_id] = (origin[0] + column * COLUMN, origin[1] + row * ROW - offset)
    return positions
