"""The executor: carries out a plan's changes in dependency order with bounded parallelism.

Each change becomes one or two operations (a replace is delete-then-create). An
operation starts only when every operation it waits for has finished; a failure skips
everything that waits on it, and independent work goes on. Apply emits ApplyEvents
and never prints.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Mapping

import networkx as nx

from quayform.address import Address
from quayform.changes import Action, ApplyEvent, ApplyResult, Change
from quayform.errors import QuayformError
from quayform.plan import Plan
from quayform.resources.base import Provider

EventSink = Callable[[ApplyEvent], None]


@dataclass(frozen=True, eq=False)
class Operation:
    """One step of apply; compared by identity (a replace has two steps for one address)."""

    address: Address
    verb: str  # "create" | "update" | "delete"
    change: Change


def operations_graph(plan: Plan) -> nx.DiGraph:
    """Operations as a DAG: creates follow what they depend on, deletes precede it."""
    ops = nx.DiGraph()
    creates: dict[Address, Operation] = {}
    deletes: dict[Address, Operation] = {}
    for change in plan.changes:
        if change.action is Action.REPLACE and (change.after or {}).get("_cbd"):
            # create_before_destroy: one operation that starts the new one before removing the old
            creates[change.address] = Operation(change.address, "create_before_destroy", change)
            ops.add_node(creates[change.address])
            continue
        if change.action in (Action.DELETE, Action.REPLACE):
            deletes[change.address] = Operation(change.address, "delete", change)
            ops.add_node(deletes[change.address])
        if change.action in (Action.CREATE, Action.REPLACE, Action.UPDATE):
            verb = "update" if change.action is Action.UPDATE else "create"
            creates[change.address] = Operation(change.address, verb, change)
            ops.add_node(creates[change.address])
        if change.action is Action.REPLACE:
            ops.add_edge(deletes[change.address], creates[change.address])
    for dependency, dependent in (plan.graph.edges if plan.graph else ()):
        if dependency in creates and dependent in creates:
            ops.add_edge(creates[dependency], creates[dependent])
        if dependency in deletes and dependent in deletes:
            ops.add_edge(deletes[dependent], deletes[dependency])
    container_deletes = [op for a, op in deletes.items() if a.kind == "containers"]
    for op in container_deletes:
        # A container goes before the network and volumes it uses, and before any new
        # container, which may want the name or host port the old one holds.
        for other in deletes.values():
            if other.address.kind in ("networks", "volumes") and _uses(op.change, other.change):
                _add_edge_if_acyclic(ops, op, other)
        for other in creates.values():
            if other.address.kind == "containers" and other.address != op.address:
                _add_edge_if_acyclic(ops, op, other)
    for address, op in deletes.items():
        # Users and databases are dropped while their server still runs.
        if address.kind in ("users", "databases"):
            for container_op in container_deletes:
                _add_edge_if_acyclic(ops, op, container_op)
    return ops


def _uses(container: Change, other: Change) -> bool:
    """Does the live container attach to this network or mount this volume?"""
    live = container.before or {}
    name = (other.before or {}).get("name")
    if other.address.kind == "networks":
        return name in (live.get("networks") or {})
    return any(m.startswith(f"volume:{name}:") for m in live.get("mounts") or [])


def _add_edge_if_acyclic(ops: nx.DiGraph, first: Operation, then: Operation) -> None:
    """Ordering rules of thumb never override the spec's own dependencies."""
    if not nx.has_path(ops, then, first):
        ops.add_edge(first, then)


class Executor:
    """Walks the operations graph with at most `parallelism` operations at a time."""

    def __init__(self, providers: Mapping[str, Provider], parallelism: int, emit: EventSink,
                 remove_volumes: bool = False):
        self.providers = providers
        self.parallelism = max(1, parallelism)
        self.emit = emit
        self.remove_volumes = remove_volumes

    def run(self, plan: Plan) -> ApplyResult:
        """Run every operation; on Ctrl-C, let the ones in flight finish and start no more."""
        ops = operations_graph(plan)
        result = ApplyResult()
        waiting = set(ops.nodes)
        finished: set[Operation] = set()
        broken: set[Operation] = set()
        running: dict[Future, Operation] = {}
        with ThreadPoolExecutor(self.parallelism) as pool:
            while waiting or running:
                if not result.interrupted:
                    self._start_ready(ops, waiting, finished, broken, running, pool, result)
                elif waiting:
                    result.skipped += sorted(op.address for op in waiting)
                    waiting.clear()
                if not running:
                    if waiting and not any(set(ops.predecessors(o)) & broken for o in waiting):
                        raise RuntimeError("apply cannot make progress: the operations depend on each other in a cycle")
                    continue
                try:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:
                    result.interrupted = True
                    continue
                for future in done:
                    op = running.pop(future)
                    error = future.exception()
                    if error is None:
                        finished.add(op)
                        self._count(op, result)
                    else:
                        broken.add(op)
                        result.errors.append((op.address, str(error)))
        return result

    def _start_ready(self, ops: nx.DiGraph, waiting: set[Operation], finished: set[Operation],
                     broken: set[Operation], running: dict[Future, Operation], pool: ThreadPoolExecutor,
                     result: ApplyResult) -> None:
        for op in sorted(waiting, key=lambda o: (o.verb != "delete", o.address)):
            predecessors = set(ops.predecessors(op))
            if predecessors & broken:
                waiting.discard(op)
                broken.add(op)
                result.skipped.append(op.address)
                self.emit(ApplyEvent(op.address, "skipped", op.verb, message="a change it depends on failed"))
            elif predecessors <= finished and len(running) < self.parallelism:
                waiting.discard(op)
                running[pool.submit(self._run_one, op)] = op

    def _run_one(self, op: Operation) -> None:
        provider = self.providers[op.address.kind]
        started = time.monotonic()
        self.emit(ApplyEvent(op.address, "start", op.verb))
        try:
            if op.verb == "delete":
                if op.address.kind == "containers":
                    provider.delete(op.change, remove_volumes=self.remove_volumes)  # type: ignore[call-arg]
                else:
                    provider.delete(op.change)
            else:
                getattr(provider, op.verb)(op.change)
                provider.wait_ready(op.change)
        except Exception as exc:
            message = str(exc) if isinstance(exc, QuayformError) else f"{type(exc).__name__}: {exc}"
            self.emit(ApplyEvent(op.address, "failed", op.verb, time.monotonic() - started, message))
            raise
        self.emit(ApplyEvent(op.address, "done", op.verb, time.monotonic() - started))

    @staticmethod
    def _count(op: Operation, result: ApplyResult) -> None:
        action = op.change.action
        if action is Action.CREATE:
            result.added += 1
        elif action is Action.UPDATE:
            result.changed += 1
        elif action is Action.DELETE:
            result.destroyed += 1
        elif action is Action.REPLACE and op.verb != "delete":
            result.replaced += 1
