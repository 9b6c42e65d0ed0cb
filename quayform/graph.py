"""The dependency graph of a stack: a networkx DAG whose nodes are resource addresses.

An edge A -> B means "B needs A": B is created after A and destroyed before it.
Edges come from depends_on, from the volumes and networks a container uses, and from
every ${...} reference between resources.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from quayform.address import KINDS, Address
from quayform.errors import CycleError, SpecProblem
from quayform.spec.models import Spec


@dataclass
class StackGraph:
    """The DAG plus the orders the executor and the plan need."""

    dag: nx.DiGraph

    def order(self) -> list[Address]:
        """Dependencies first; ties broken by kind then key so plans read the same every time."""
        return list(nx.lexicographical_topological_sort(self.dag, key=_sort_key))

    def reverse_order(self) -> list[Address]:
        return list(reversed(self.order()))

    def dependencies_of(self, address: Address) -> set[Address]:
        return set(self.dag.predecessors(address)) if address in self.dag else set()

    def dependents_of(self, address: Address) -> set[Address]:
        return set(self.dag.successors(address)) if address in self.dag else set()

    def all_dependencies_of(self, address: Address) -> set[Address]:
        return nx.ancestors(self.dag, address) if address in self.dag else set()

    def all_dependents_of(self, address: Address) -> set[Address]:
        return nx.descendants(self.dag, address) if address in self.dag else set()


def _sort_key(address: Address) -> str:
    return f"{KINDS.index(address.kind)}:{address.key}"


def build_graph(spec: Spec) -> StackGraph:
    """Build the DAG; raise CycleError naming the cycle from a deterministic first node."""
    dag = nx.DiGraph()
    for kind in KINDS:
        for key in getattr(spec, kind):
            dag.add_node(Address(kind, key))
    for key, container in spec.containers.items():
        me = Address("containers", key)
        for dep in container.depends_on:
            dag.add_edge(Address("containers", dep), me)
        for net in container.networks:
            dag.add_edge(Address("networks", net), me)
        for mount in container.volumes:
            if mount.kind == "volume":
                dag.add_edge(Address("volumes", mount.source), me)
    for section in ("databases", "users"):
        for key, item in getattr(spec, section).items():
            server = spec.postgres.get(item.server)
            if server is not None:
                dag.add_edge(Address("containers", server.container), Address(section, key))
    for key, database in spec.databases.items():
        if database.owner:
            dag.add_edge(Address("users", database.owner), Address("databases", key))
    for key, user in spec.users.items():
        # The user exists before a database it is granted on; creating the database applies the grant.
        for target in user.grants:
            dag.add_edge(Address("users", key), Address("databases", target))
    for dependency, dependent in spec.ref_edges:
        dag.add_edge(Address.parse(dependency), Address.parse(dependent))
    _check_acyclic(dag, spec)
    return StackGraph(dag)


def _check_acyclic(dag: nx.DiGraph, spec: Spec) -> None:
    cycles = sorted(nx.simple_cycles(dag), key=lambda c: sorted(c)) if not nx.is_directed_acyclic_graph(dag) else []
    if not cycles:
        return
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
