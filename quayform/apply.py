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
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import networkx as nx

from quayform.address import Address
from quayform.changes import EXISTED, Action, ApplyEvent, ApplyResult, Change
from quayform.errors import QuayformError, StopNow
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
    # names are per target (two engines may each have a `web`): what an object uses is on its own target
    by_name = {(op.address.kind, op.change.name, op.change.live_target): op for op in deletes.values()}
    for op in deletes.values():
        kind = kinds.get(op.address.kind)
        if kind is None:
            continue
        for used in kind.uses(op.change.before or {}, op.change.live_target):
            other = by_name.get((*used, op.change.live_target))
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
    """Stands in for Connections when the kinds need none (tests with fake kinds)."""

    def __init__(self) -> None:
        import threading

        self.stopping = threading.Event()

    def get(self, target: Any) -> Any:
        return None


WAIT_THREADS = 32  # readiness waits only poll; they do not count against --parallelism


class Executor:
    """Walks the operations graph with at most `parallelism` changes being made at a time.

    A change is made in the work lane (bounded by `parallelism`, and to one at a time on a
    target that wants it serial, such as a PostgreSQL server); the wait for it to become
    ready runs in the wait lane, so slow health checks do not hold back independent work.
    An operation counts as done, and its dependents may start, once both are over.
    """

    def __init__(self, kinds: Mapping[str, Any], parallelism: int, emit: EventSink, connections: Any = None,
                 release: frozenset[str] = frozenset(), learn: Callable[[Any], None] = lambda value: None):
        self.kinds = kinds
        self.parallelism = max(1, parallelism)
        self.emit = emit
        self.connections = connections if connections is not None else _NoConnections()
        self.release = release
        self.learn = learn  # told every secret value settled during the run (for masking)
        self.producers: dict[Address, Change] = {}

    def run(self, plan: Plan) -> ApplyResult:
        """Run every operation. A first Ctrl-C starts nothing more, ends the waits and lets the
        changes in progress finish; a second one raises StopNow."""
        ops = operations_graph(plan, self.kinds)
        self.producers = {c.address: c for c in plan.changes}
        for op in ops.nodes:  # open connections before the threads start (client imports are not thread-safe)
            self.connections.get(self._target(op))
        run = _Run(ops)
        work, waits = ThreadPoolExecutor(self.parallelism), ThreadPoolExecutor(WAIT_THREADS)
        stop_now = False
        try:
            while run.waiting or run.making or run.awaiting:
                try:
                    self._step(run, work, waits)
                except KeyboardInterrupt:
                    try:
                        self._interrupted(run)
                    except KeyboardInterrupt:  # the second one came while the first was being said
                        raise StopNow() from None
        except StopNow:
            stop_now = True
            raise
        finally:
            for pool in (work, waits):
                pool.shutdown(wait=not stop_now, cancel_futures=stop_now)
        return run.result

    def _step(self, run: "_Run", work: ThreadPoolExecutor, waits: ThreadPoolExecutor) -> None:
        if not run.result.interrupted:
            self._start_ready(run, work)
        elif run.waiting:
            run.result.skipped += sorted(op.address for op in run.waiting)
            run.waiting.clear()
        if not run.making and not run.awaiting:
            if run.waiting and not any(set(run.ops.predecessors(o)) & run.broken for o in run.waiting):
                raise RuntimeError("apply cannot make progress: the operations depend on each other in a cycle")
            return
        done, _ = wait({**run.making, **run.awaiting}, return_when=FIRST_COMPLETED)
        for future in done:
            self._finished(run, future, waits)

    def _interrupted(self, run: "_Run") -> None:
        if run.result.interrupted:
            raise StopNow()
        run.result.interrupted = True
        self.connections.stopping.set()
        self.emit(ApplyEvent(None, "notice", "interrupt", message=(
            "Interrupt received: starting no more changes and ending the waits; the changes in progress finish. "
            "Press Ctrl-C again to stop at once.")))

    def _target(self, op: Operation) -> Any:
        return op.change.live_target if op.verb == "delete" else op.change.target

    def _start_ready(self, run: "_Run", work: ThreadPoolExecutor) -> None:
        busy = {self._target(op) for op in run.making.values() if getattr(self._target(op), "serial", False)}
        for op in sorted(run.waiting, key=lambda o: (o.verb != "delete", o.address)):
            predecessors = set(run.ops.predecessors(op))
            if predecessors & run.broken:
                run.waiting.discard(op)
                run.broken.add(op)
                run.result.skipped.append(op.address)
                self.emit(ApplyEvent(op.address, "skipped", op.verb, message="a change it depends on failed"))
            elif predecessors <= run.finished and len(run.making) < self.parallelism:
                target = self._target(op)
                if getattr(target, "serial", False):
                    if target in busy:
                        continue
                    busy.add(target)
                run.waiting.discard(op)
                run.started[op] = time.monotonic()
                self.emit(ApplyEvent(op.address, "start", op.verb))
                run.making[work.submit(self._make, op)] = op

    def _finished(self, run: "_Run", future: Future, waits: ThreadPoolExecutor) -> None:
        if future in run.making:
            op = run.making.pop(future)
            if future.exception() is None and op.verb != "delete":
                run.outcomes[op] = future.result()
                run.awaiting[waits.submit(self._wait, op)] = op
                return
        else:
            op = run.awaiting.pop(future)
        error = future.exception()
        elapsed = time.monotonic() - run.started[op]
        if error is None:
            run.finished.add(op)
            existed = run.outcomes.get(op) == EXISTED
            self._count(op, run.result, existed)
            self.emit(ApplyEvent(op.address, "done", op.verb, elapsed,
                                 "it existed already; now it matches the spec" if existed else None))
        else:
            run.broken.add(op)
            run.result.errors.append((op.address, str(error)))
            message = str(error) if isinstance(error, QuayformError) else f"{type(error).__name__}: {error}"
            self.emit(ApplyEvent(op.address, "failed", op.verb, elapsed, message))

    def _settled(self, change: Change) -> Change:
        """The change with every value known only once another resource exists filled in (that
        resource was made earlier in this run: the graph orders it first)."""
        from dataclasses import replace

        from quayform.later import refs_in, settle

        refs = refs_in(change.payload) + refs_in(change.after)
        if not refs:
            return change
        values = {}
        for ref in dict.fromkeys(refs):
            producer = self.producers.get(ref.address)
            kind = self.kinds.get(ref.address.kind)
            value = kind.value_of(self.connections.get(producer.target), ref.address, ref.attr, producer.name) \
                if producer is not None and kind is not None else None
            if value is None:
                raise QuayformError(f"{ref} is not known: {ref.address} does not exist")
            self.learn(value)
            values[ref] = value
        return replace(change, payload=settle(change.payload, values.get), after=settle(change.after, values.get))

    def _make(self, op: Operation) -> Any:
        kind, change = self.kinds[op.address.kind], self._settled(op.change)
        connection = self.connections.get(self._target(op))
        if op.verb == "delete":
            return kind.delete(change, connection, self.release)
        if op.verb == "create":
            return kind.create(change, connection)
        if op.verb == "update":
            return kind.update(change, connection)
        return kind.create_before_destroy(change, connection)

    def _wait(self, op: Operation) -> None:
        def progress(text: str) -> None:
            self.emit(ApplyEvent(op.address, "waiting", op.verb, message=text))

        self.kinds[op.address.kind].wait_ready(self._settled(op.change), self.connections.get(self._target(op)),
                                               progress)

    @staticmethod
    def _count(op: Operation, result: ApplyResult, existed: bool = False) -> None:
        action = op.change.action
        if action is Action.CREATE and not existed:
            result.added += 1
        elif action in (Action.CREATE, Action.UPDATE):
            result.changed += 1
        elif action is Action.DELETE:
            result.destroyed += 1
        elif action.is_replace and op.verb != "delete":
            result.replaced += 1


@dataclass
class _Run:
    """The state of one run of the executor."""

    ops: nx.DiGraph
    result: ApplyResult = field(default_factory=ApplyResult)
    waiting: set[Operation] = field(default_factory=set)
    finished: set[Operation] = field(default_factory=set)
    broken: set[Operation] = field(default_factory=set)
    making: dict[Future, Operation] = field(default_factory=dict)  # in the work lane
    awaiting: dict[Future, Operation] = field(default_factory=dict)  # in the wait lane
    started: dict[Operation, float] = field(default_factory=dict)
    outcomes: dict[Operation, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.waiting = set(self.ops.nodes)
