"""The dependency graph of a stack: a DAG whose nodes are resource addresses.

An edge A -> B means "B needs A": B is created after A and destroyed before it.
Each kind names the edges of its resources (a container's depends_on, networks and
volumes; a database's server and owner ...); every ${...} reference between resources
adds one too. The order breaks ties by the registry's creation order, then by key.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from quayform.address import Address
from quayform.errors import CycleError, SpecProblem
from quayform.kinds import REGISTRY, TARGET_SECTIONS
from quayform.spec.models import Spec

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class StackGraph:
    """The dependency DAG of a stack and the orders the executor and the plan need.

    Plain adjacency sets answer the questions planning asks (order, ancestors,
    descendants) without importing networkx, which costs more than planning a
    100-container stack; `dag` builds the networkx graph for the executor, DOT output
    and cycle reports.
    """

    nodes: list[Address]
    edges: set[tuple[Address, Address]] = field(default_factory=set)
    # Where the spec makes each edge (dependent -> key path inside it), for error messages.
    origins: dict[tuple[Address, Address], tuple] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._pred: dict[Address, set[Address]] = {n: set() for n in self.nodes}
        self._succ: dict[Address, set[Address]] = {n: set() for n in self.nodes}
        for dependency, dependent in self.edges:
            self._succ[dependency].add(dependent)
            self._pred[dependent].add(dependency)

    def __contains__(self, address: object) -> bool:
        return address in self._pred

    @cached_property
    def dag(self) -> "nx.DiGraph":
        import networkx as nx

        dag = nx.DiGraph()
        dag.add_nodes_from(self.nodes)
        dag.add_edges_from(self.edges)
        return dag

    def order(self) -> list[Address]:
        """Dependencies first; ties broken by kind then key so plans read the same every time."""
        remaining = {n: len(p) for n, p in self._pred.items()}
        ready = [(_sort_key(n), n) for n, count in remaining.items() if count == 0]
        heapq.heapify(ready)
        ordered = []
        while ready:
            _, node = heapq.heappop(ready)
            ordered.append(node)
            for dependent in self._succ[node]:
                remaining[dependent] -= 1
                if remaining[dependent] == 0:
                    heapq.heappush(ready, (_sort_key(dependent), dependent))
        return ordered

    def reverse_order(self) -> list[Address]:
        return list(reversed(self.order()))

    def dependencies_of(self, address: Address) -> set[Address]:
        return set(self._pred.get(address, ()))

    def dependents_of(self, address: Address) -> set[Address]:
        return set(self._succ.get(address, ()))

    def all_dependencies_of(self, address: Address) -> set[Address]:
        return _reachable(address, self._pred)

    def all_dependents_of(self, address: Address) -> set[Address]:
        return _reachable(address, self._succ)


def _reachable(start: Address, links: dict[Address, set[Address]]) -> set[Address]:
    seen: set[Address] = set()
    todo = list(links.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(links.get(node, ()))
    return seen


def _sort_key(address: Address) -> tuple[int, str]:
    return (REGISTRY.index(address.kind), address.key)


def build_graph(spec: Spec) -> StackGraph:
    """Build the DAG; raise CycleError naming the cycle from a deterministic first node."""
    nodes = [Address(kind.section, key) for kind in REGISTRY for key in kind.items(spec)]
    origins: dict[tuple[Address, Address], tuple] = {}
    for kind in REGISTRY:
        for key, item in kind.items(spec).items():
            me = Address(kind.section, key)
            for dependency, path in kind.edges(spec, key, item):
                origins.setdefault((dependency, me), path)
    for section in TARGET_SECTIONS.values():  # e.g. a Quay container needs the database its config names
        for dependency, dependent, path in section.edges(spec):
            origins.setdefault((dependency, dependent), path)
    for dependency, dependent in spec.ref_edges:
        origins.setdefault((Address.parse(dependency), Address.parse(dependent)), ())
    known = set(nodes)
    edges = {edge for edge in origins if edge[0] in known and edge[1] in known}
    graph = StackGraph(nodes, edges, origins)
    _check_acyclic(graph, spec)
    return graph


def _check_acyclic(graph: StackGraph, spec: Spec) -> None:
    if len(graph.order()) == len(graph.nodes):
        return
    import networkx as nx  # only on the error path: it names every cycle

    cycles = sorted(nx.simple_cycles(graph.dag), key=lambda c: sorted(c))
    problems = []
    for cycle in cycles[:5]:
        start = cycle.index(min(cycle))
        ordered = cycle[start:] + cycle[:start]
        # Edges point dependency -> dependent; the user reads "a depends on b", so print it reversed.
        ordered = [ordered[0]] + list(reversed(ordered[1:]))
        chain = " -> ".join(str(a) for a in ordered + [ordered[0]])
        first = ordered[0]
        path = graph.origins.get((ordered[1] if len(ordered) > 1 else first, first), ())
        line = spec.line_of(first.kind, first.key, *path[:1])
        problems.append(SpecProblem(spec.path, line, str(first), f"dependency cycle: {chain}"))
    raise CycleError(problems)
