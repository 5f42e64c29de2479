"""The journey as a directed graph, for the validation rules that need paths.

Plain adjacency lists answer the cheap questions (reachability, "is there any
cycle at all" by Kahn's algorithm). networkx does the real graph work only where
it is needed: strongly connected components and `find_cycle` on the part of the
graph that is cyclic, and a dominator tree when a quick walk up a chain of single
predecessors cannot settle "does A come before B on every path". All linear;
never cycle enumeration, which is exponential.
"""
from __future__ import annotations

from collections import deque
from functools import cached_property
from typing import Callable, Iterator

import networkx as nx

from .model import Journey

_CHAIN_LIMIT = 64  # steps walked up a single-predecessor chain before using the dominator tree


class JourneyGraph:
    def __init__(self, journey: Journey) -> None:
        self.succ: dict[str, list[str]] = {node_id: [] for node_id in journey.nodes}
        self.pred: dict[str, list[str]] = {node_id: [] for node_id in journey.nodes}
        for edge in journey.edges.values():
            self.succ[edge.source].append(edge.target)
            self.pred[edge.target].append(edge.source)

    @cached_property
    def nx(self) -> nx.DiGraph[str]:
        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self.succ)
        graph.add_edges_from((u, v) for u, targets in self.succ.items() for v in targets)
        return graph

    def reachable_from(self, root: str) -> set[str]:
        seen = {root}
        queue = deque([root])
        while queue:
            for target in self.succ[queue.popleft()]:
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        return seen

    def not_acyclic(self) -> set[str]:
        """Nodes Kahn's algorithm cannot order: those on a cycle or downstream of one."""
        indegree = {node: len(sources) for node, sources in self.pred.items()}
        ready = [node for node, n in indegree.items() if n == 0]
        while ready:
            for target in self.succ[ready.pop()]:
                indegree[target] -= 1
                if indegree[target] == 0:
                    ready.append(target)
        return {node for node, n in indegree.items() if n > 0}

    def cycles_avoiding(self, is_breaker: Callable[[str], bool]) -> Iterator[list[str]]:
        """One cycle (as a node list) per strongly connected component that still has a
        cycle after removing the nodes for which `is_breaker` holds."""
        suspects = self.not_acyclic()
        if not suspects:
            return
        cyclic_part = self.nx.subgraph(suspects)
        for component in nx.strongly_connected_components(cyclic_part):
            remaining = cyclic_part.subgraph(n for n in component if not is_breaker(n))
            if not remaining:
                continue
            try:
                yield [u for u, _ in nx.find_cycle(remaining)]
            except nx.NetworkXNoCycle:
                continue

    def dominance(self, root: str) -> Callable[[str, str], bool]:
        """`dominates(a, b)`: every path from `root` to `b` passes through `a`."""
        full: list[Callable[[str, str], bool]] = []

        def dominates(a: str, b: str) -> bool:
            node = b
            for _ in range(_CHAIN_LIMIT):  # most journeys are trees: walk up to the answer
                if node == a:
                    return True
                if node == root:  # every path into b runs down this chain, and a is not on it
                    return False
                sources = self.pred[node]
                if len(sources) != 1:
                    break
                node = sources[0]
            if not full:
                full.append(_dominator_intervals(self.nx, root))
            return full[0](a, b)

        return dominates


def _dominator_intervals(graph: nx.DiGraph[str], root: str) -> Callable[[str, str], bool]:
    """Entry/exit numbers of a DFS over the dominator tree answer each query in O(1)."""
    idom = nx.immediate_dominators(graph, root)
    children: dict[str, list[str]] = {}
    for node, parent in idom.items():
        if node != parent:
            children.setdefault(parent, []).append(node)
    enter: dict[str, int] = {}
    leave: dict[str, int] = {}
    clock = 0
    stack: list[tuple[str, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        clock += 1
        if done:
            leave[node] = clock
            continue
        enter[node] = clock
        stack.append((node, True))
        stack.extend((child, False) for child in children.get(node, ()))

    def dominates(a: str, b: str) -> bool:
        return a in enter and b in enter and enter[a] <= enter[b] and leave[b] <= leave[a]

    return dominates

