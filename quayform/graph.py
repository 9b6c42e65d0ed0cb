"""The dependency graph of a stack: a DAG whose nodes are resource addresses.

An edge A -> B means "B needs A": B is created after A and destroyed before it.
Edges come from depends_on, from the volumes and networks a container uses, and from
every ${...} reference between resources.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from quayform.address import KINDS, Address
from quayform.errors import CycleError, SpecProblem
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
    return (KINDS.index(address.kind), address.key)


def build_graph(spec: Spec) -> StackGraph:
    """Build the DAG; raise CycleError naming the cycle from a deterministic first node."""
    nodes = [Address(kind, key) for kind in KINDS for key in getattr(spec, kind)]
    edges: set[tuple[Address, Address]] = set()
    for key, container in spec.containers.items():
        me = Address("containers", key)
        for dep in container.depends_on:
            edges.add((Address("containers", dep), me))
        for net in container.networks:
            edges.add((Address("networks", net), me))
        for mount in container.volumes:
            if mount.kind == "volume":
                edges.add((Address("volumes", mount.source), me))
    for section in ("databases", "users"):
        for key, item in getattr(spec, section).items():
            server = spec.postgres.get(item.server)
            if server is not None:
                edges.add((Address("containers", server.container), Address(section, key)))
    for key, database in spec.databases.items():
        if database.owner:
            edges.add((Address("users", database.owner), Address("databases", key)))
    for key, user in spec.users.items():
        # The user exists before a database it is granted on; creating the database applies the grant.
        for target in user.grants:
            edges.add((Address("users", key), Address("databases", target)))
    for dependency, dependent in spec.ref_edges:
        edges.add((Address.parse(dependency), Address.parse(dependent)))
    graph = StackGraph(nodes, edges)
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
        line = spec.line_of(first.kind, first.key, "depends_on") if first.kind == "containers" else spec.line_of(first.kind, first.key)
        problems.append(SpecProblem(spec.path, line, str(first), f"dependency cycle: {chain}"))
    raise CycleError(problems)
