"""The executor: carries out a plan's changes in dependency order with bounded parallelism.

Each change becomes one or two operations (a replace is delete-then-create; a
create-before-destroy replacement is one operation of its own). An operation starts only
when every operation it waits for has finished; a failure skips everything that waits on
it, and independent work goes on. The ordering rules come from the graph and from the
kinds' declarations (what an object uses, which deletes go before creates); each
operation runs through its kind and the connection of its target. Apply emits
ApplyEvents and never prints.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import networkx as nx

from quayform.address import Address
from quayform.changes import Action, ApplyEvent, ApplyResult, Change
from quayform.errors import QuayformError
from quayform.plan import Plan

EventSink = Callable[[ApplyEvent], None]


@dataclass(frozen=True, eq=False)
class Operation:
    """One step of apply; compared by identity (a replace has two steps for one address)."""

    address: Address
    verb: str  # "create" | "update" | "delete" | "create_before_destroy"
    change: Change


_VERBS = {Action.CREATE: ("create",), Action.UPDATE: ("update",), Action.DELETE: ("delete",),
          Action.REPLACE: ("delete", "create"), Action.CREATE_THEN_DELETE: ("create_before_destroy",)}


def operations_graph(plan: Plan, kinds: Mapping[str, Any] | None = None) -> nx.DiGraph:
    """Operations as a DAG: creates follow what they depend on, deletes precede it."""
    ops = nx.DiGraph()
    creates: dict[Address, Operation] = {}
    deletes: dict[Address, Operation] = {}
    for change in plan.changes:
        steps = [Operation(change.address, verb, change) for verb in _VERBS.get(change.action, ())]
        for op in steps:
            ops.add_node(op)
            (deletes if op.verb == "delete" else creates)[change.address] = op
        if len(steps) == 2:
            ops.add_edge(*steps)
    for dependency, dependent in (plan.graph.edges if plan.graph else ()):
        if dependency in creates and dependent in creates:
            ops.add_edge(creates[dependency], creates[dependent])
        if dependency in deletes and dependent in deletes:
            ops.add_edge(deletes[dependent], deletes[dependency])
    if kinds is not None:
        _order_by_kind_rules(ops, kinds, creates, deletes)
    return ops


def _order_by_kind_rules(ops: nx.DiGraph, kinds: Mapping[str, Any], creates: dict[Address, Operation],
                         deletes: dict[Address, Operation]) -> None:
    """What each kind declares: an object is deleted before what it uses; some deletes go before creates."""
    by_name = {(op.address.kind, op.change.name): op for op in deletes.values()}
    for op in deletes.values():
        kind = kinds.get(op.address.kind)
        if kind is None:
            continue
        for used in kind.uses(op.change.before or {}, op.change.live_target):
            other = by_name.get(used)
            if other is not None and other is not op:
                _add_edge_if_acyclic(ops, op, other)
        if kind.rules.deletes_before_creates:
            # The old object may hold a name or a host port that a new one of its kind wants.
            for other in creates.values():
                if other.address.kind == op.address.kind and other.address != op.address:
                    _add_edge_if_acyclic(ops, op, other)


def _add_edge_if_acyclic(ops: nx.DiGraph, first: Operation, then: Operation) -> None:
    """Ordering rules of thumb never override the spec's own dependencies."""
    if not nx.has_path(ops, then, first):
        ops.add_edge(first, then)


class _NoConnections:
    def get(self, target: Any) -> Any:
        return None


class Executor:
    """Walks the operations graph with at most `parallelism` operations at a time."""

    def __init__(self, kinds: Mapping[str, Any], parallelism: int, emit: EventSink, connections: Any = None,
                 release: frozenset[str] = frozenset()):
        self.kinds = kinds
        self.parallelism = max(1, parallelism)
        self.emit = emit
        self.connections = connections if connections is not None else _NoConnections()
        self.release = release

    def run(self, plan: Plan) -> ApplyResult:
        """Run every operation; on Ctrl-C, let the ones in flight finish and start no more."""
        ops = operations_graph(plan, self.kinds)
        for op in ops.nodes:  # open connections before the threads start (client imports are not thread-safe)
            self.connections.get(op.change.live_target if op.verb == "delete" else op.change.target)
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
        kind = self.kinds[op.address.kind]
        change = op.change
        started = time.monotonic()
        self.emit(ApplyEvent(op.address, "start", op.verb))
        try:
            if op.verb == "delete":
                kind.delete(change, self.connections.get(change.live_target), self.release)
            else:
                connection = self.connections.get(change.target)
                if op.verb == "create":
                    kind.create(change, connection)
                elif op.verb == "update":
                    kind.update(change, connection)
                else:
                    kind.create_before_destroy(change, connection)
                kind.wait_ready(change, connection)
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
        elif action.is_replace and op.verb != "delete":
            result.replaced += 1
