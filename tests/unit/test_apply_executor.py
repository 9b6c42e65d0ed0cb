"""The executor with fake providers: order, parallel limit, failures skipping dependents, replace order.

The fakes record every call in a lock-protected journal. Concurrency is proved with barriers and
events (a test fails by a broken barrier, never by a wall-clock measurement).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import networkx as nx
import pytest

from quayform.address import Address
from quayform.apply import Executor, operations_graph
from quayform.changes import Action, ApplyEvent, Change
from quayform.errors import ApplyError
from quayform.graph import StackGraph
from quayform.kinds.base import Rules
from quayform.plan import Plan

NET = Address("networks", "backend")
DATA = Address("volumes", "data")
DB = Address("containers", "db")
APP = Address("containers", "app")
CACHE = Address("containers", "cache")
WORKER = Address("containers", "worker")
GUARD = 10.0  # seconds a barrier or event waits before the test is declared broken


@dataclass
class Journal:
    """Every provider call, in order, with the number of calls running at once."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: list[tuple[str, str, Address]] = field(default_factory=list)  # (phase, verb, address)
    active: int = 0
    max_active: int = 0
    kwargs: list[tuple[Address, dict]] = field(default_factory=list)

    def enter(self, verb: str, address: Address) -> None:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.entries.append(("begin", verb, address))

    def leave(self, verb: str, address: Address) -> None:
        with self.lock:
            self.active -= 1
            self.entries.append(("end", verb, address))

    def index(self, phase: str, verb: str, address: Address) -> int:
        return self.entries.index((phase, verb, address))

    def calls(self) -> list[tuple[str, Address]]:
        return [(verb, address) for phase, verb, address in self.entries if phase == "begin"]

    def finished_before_started(self, first: tuple[str, Address], then: tuple[str, Address]) -> bool:
        return self.index("end", *first) < self.index("begin", *then)


class FakeProvider:
    """Records calls; `hooks[(verb, address)]` runs inside the call (block, raise, meet a barrier)."""

    def __init__(self, kind: str, journal: Journal, hooks: dict | None = None):
        self.kind = kind
        self.journal = journal
        self.hooks = hooks if hooks is not None else {}
        self.ready: list[Address] = []

    def _call(self, verb: str, change: Change) -> None:
        self.journal.enter(verb, change.address)
        try:
            hook = self.hooks.get((verb, change.address))
            if hook is not None:
                hook()
        finally:
            self.journal.leave(verb, change.address)

    rules = Rules()

    def uses(self, form: dict, target) -> list[tuple[str, str]]:
        """What the real kinds declare: a container uses the networks and volumes in its live form."""
        used = [("networks", n) for n in form.get("networks") or {}]
        return used + [("volumes", m.split(":")[1]) for m in form.get("mounts") or []]

    def create(self, change: Change, connection) -> None:
        self._call("create", change)

    def update(self, change: Change, connection) -> None:
        self._call("update", change)

    def delete(self, change: Change, connection, release: frozenset[str]) -> None:
        with self.journal.lock:
            self.journal.kwargs.append((change.address, {"release": release}))
        self._call("delete", change)

    def wait_ready(self, change: Change, connection, progress=lambda text: None) -> None:
        with self.journal.lock:
            self.ready.append(change.address)


def providers(journal: Journal, hooks: dict | None = None) -> dict[str, FakeProvider]:
    hooks = hooks if hooks is not None else {}
    fakes = {kind: FakeProvider(kind, journal, hooks) for kind in ("networks", "volumes", "containers")}
    fakes["containers"].rules = Rules(deletes_before_creates=True)
    return fakes


def stack_graph(*edges: tuple[Address, Address], nodes: tuple[Address, ...] = ()) -> StackGraph:
    every = list(dict.fromkeys([*nodes, *(a for edge in edges for a in edge)]))
    return StackGraph(every, set(edges))


def plan_of(*changes: tuple[Address, Action], graph: StackGraph | None = None, live: dict | None = None) -> Plan:
    return Plan("s", [Change(address, action, live_id=f"id-{address.key}", before=(live or {}).get(address))
                      for address, action in changes], graph=graph)


class Events:
    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[ApplyEvent] = []

    def __call__(self, event: ApplyEvent) -> None:
        with self.lock:
            self.items.append(event)

    def phases(self, address: Address) -> list[tuple[str, str]]:
        return [(e.phase, e.operation) for e in self.items if e.address == address]


def run(plan: Plan, parallelism: int = 4, hooks: dict | None = None, release: frozenset[str] = frozenset()):
    journal, events = Journal(), Events()
    executor = Executor(providers(journal, hooks), parallelism, events, release=release)
    return executor.run(plan), journal, events


def raiser(exc: BaseException):
    def hook():
        raise exc
    return hook


# db needs the volume and network; app needs db and the network; cache stands alone.
STACK = stack_graph((DATA, DB), (NET, DB), (NET, APP), (DB, APP), nodes=(CACHE,))
EVERYTHING_NEW = [(NET, Action.CREATE), (DATA, Action.CREATE), (DB, Action.CREATE), (APP, Action.CREATE),
                  (CACHE, Action.CREATE)]


@pytest.mark.parametrize("parallelism", [1, 2, 8])
def test_creates_follow_the_graph(parallelism):
    result, journal, events = run(plan_of(*EVERYTHING_NEW, graph=STACK), parallelism)
    assert sorted(journal.calls()) == sorted(("create", a) for a, _ in EVERYTHING_NEW)
    for dependency, dependent in STACK.dag.edges:
        assert journal.finished_before_started(("create", dependency), ("create", dependent))
    assert (result.added, result.errors, result.skipped) == (5, [], [])
    assert events.phases(APP) == [("start", "create"), ("done", "create")]


def test_wait_ready_after_create_and_update_but_not_delete():
    journal, events = Journal(), Events()
    provs = providers(journal)
    plan = plan_of((DB, Action.CREATE), (APP, Action.UPDATE), (CACHE, Action.DELETE), graph=None)
    Executor(provs, 2, events).run(plan)
    assert sorted(provs["containers"].ready) == sorted([DB, APP])


def test_parallelism_limit_is_never_exceeded():
    # Six independent creates, parallelism 2: each waits at a 2-party barrier, so pairs must run together.
    barrier = threading.Barrier(2, timeout=GUARD)
    addresses = [Address("containers", f"c{i}") for i in range(6)]
    hooks = {("create", a): barrier.wait for a in addresses}
    result, journal, _ = run(plan_of(*[(a, Action.CREATE) for a in addresses]), parallelism=2, hooks=hooks)
    assert result.errors == []
    assert result.added == 6
    assert journal.max_active == 2


def test_parallelism_one_runs_one_at_a_time():
    addresses = [Address("containers", f"c{i}") for i in range(5)]
    result, journal, _ = run(plan_of(*[(a, Action.CREATE) for a in addresses]), parallelism=1)
    assert journal.max_active == 1
    assert result.added == 5


def test_independent_operations_run_concurrently():
    # db and cache are independent: each waits until the other has started.
    barrier = threading.Barrier(2, timeout=GUARD)
    hooks = {("create", DB): barrier.wait, ("create", CACHE): barrier.wait}
    result, journal, _ = run(plan_of((DB, Action.CREATE), (CACHE, Action.CREATE), graph=STACK), 4, hooks)
    assert result.errors == []
    assert journal.max_active == 2


def test_a_dependent_does_not_start_while_its_dependency_runs():
    started_cache = threading.Event()

    def db_create():
        # cache (independent) starts while db is still running; app (dependent) must not.
        assert started_cache.wait(GUARD)

    hooks = {("create", DB): db_create, ("create", CACHE): started_cache.set}
    result, journal, _ = run(plan_of((DB, Action.CREATE), (APP, Action.CREATE), (CACHE, Action.CREATE),
                                     graph=stack_graph((DB, APP), nodes=(CACHE,))), 4, hooks)
    assert result.errors == []
    assert journal.finished_before_started(("create", DB), ("create", APP))
    assert journal.index("begin", "create", CACHE) < journal.index("end", "create", DB)


def test_a_failure_skips_its_dependents_and_independent_work_goes_on():
    hooks = {("create", DB): raiser(RuntimeError("boom"))}
    result, journal, events = run(plan_of(*EVERYTHING_NEW, graph=STACK), 2, hooks)
    assert result.errors == [(DB, "boom")]
    assert result.skipped == [APP]
    assert ("create", APP) not in journal.calls()
    assert ("create", CACHE) in journal.calls()
    assert result.added == 3  # network, volume, cache
    assert events.phases(DB) == [("start", "create"), ("failed", "create")]
    failed = [e for e in events.items if e.phase == "failed"][0]
    assert failed.message == "RuntimeError: boom"
    skipped = [e for e in events.items if e.phase == "skipped"]
    assert [(e.address, e.operation, e.message) for e in skipped] == [(APP, "create", "a change it depends on failed")]


def test_a_quayform_error_message_is_shown_as_is():
    hooks = {("create", CACHE): raiser(ApplyError("cannot start container s-cache"))}
    result, _, events = run(plan_of((CACHE, Action.CREATE)), 1, hooks)
    assert result.errors == [(CACHE, "cannot start container s-cache")]
    assert [e.message for e in events.items if e.phase == "failed"] == ["cannot start container s-cache"]


def test_skips_propagate_through_chains():
    hooks = {("create", NET): raiser(RuntimeError("no network"))}
    result, journal, _ = run(plan_of(*EVERYTHING_NEW, graph=STACK), 3, hooks)
    assert sorted(result.skipped) == sorted([DB, APP])
    assert journal.calls().count(("create", CACHE)) == 1
    assert result.added == 2  # volume, cache


def test_replace_deletes_before_it_creates():
    result, journal, events = run(plan_of((DB, Action.REPLACE)), 4)
    assert journal.calls() == [("delete", DB), ("create", DB)]
    assert journal.finished_before_started(("delete", DB), ("create", DB))
    assert (result.replaced, result.added, result.destroyed) == (1, 0, 0)
    assert events.phases(DB) == [("start", "delete"), ("done", "delete"), ("start", "create"), ("done", "create")]


def test_failed_replace_delete_skips_its_create():
    hooks = {("delete", DB): raiser(RuntimeError("busy"))}
    result, journal, _ = run(plan_of((DB, Action.REPLACE)), 4, hooks)
    assert journal.calls() == [("delete", DB)]
    assert result.errors == [(DB, "busy")] and result.skipped == [DB]
    assert result.replaced == 0


def test_replaced_network_order():
    """Containers leave before the network is recreated, and come back after it."""
    plan = plan_of((NET, Action.REPLACE), (DB, Action.REPLACE), (APP, Action.REPLACE), graph=STACK)
    result, journal, _ = run(plan, 4)
    for container in (DB, APP):
        assert journal.finished_before_started(("delete", container), ("delete", NET))
        assert journal.finished_before_started(("create", NET), ("create", container))
    assert journal.finished_before_started(("delete", APP), ("delete", DB))
    assert journal.finished_before_started(("create", DB), ("create", APP))
    assert result.replaced == 3


def test_container_deletes_come_before_network_and_volume_deletes_and_container_creates():
    old_net, old_vol = Address("networks", "old"), Address("volumes", "old")
    old = Address("containers", "old")
    live = {old: {"name": "s-old", "networks": {"s-old-net": []}, "mounts": ["volume:s-old-vol:/data:rw"]},
            old_net: {"name": "s-old-net"}, old_vol: {"name": "s-old-vol"}}
    plan = plan_of((old, Action.DELETE), (old_net, Action.DELETE), (old_vol, Action.DELETE), (WORKER, Action.CREATE),
                   (CACHE, Action.UPDATE), graph=None, live=live)
    result, journal, _ = run(plan, 8)
    for then in (("delete", old_net), ("delete", old_vol), ("create", WORKER), ("update", CACHE)):
        assert journal.finished_before_started(("delete", old), then)
    assert (result.destroyed, result.added, result.changed) == (3, 1, 1)


def test_destroy_walks_the_graph_backwards():
    plan = plan_of((APP, Action.DELETE), (DB, Action.DELETE), (CACHE, Action.DELETE), (NET, Action.DELETE),
                   (DATA, Action.DELETE), graph=STACK)
    result, journal, _ = run(plan, 8)
    for dependency, dependent in STACK.dag.edges:
        assert journal.finished_before_started(("delete", dependent), ("delete", dependency))
    assert result.destroyed == 5


@pytest.mark.parametrize("release", [frozenset(), frozenset({"volumes"})])
def test_deletes_get_the_destroy_flags(release):
    _, journal, _ = run(plan_of((DB, Action.DELETE), (NET, Action.DELETE)), 2, release=release)
    assert dict(journal.kwargs) == {DB: {"release": release}, NET: {"release": release}}


def test_result_counts():
    plan = plan_of((NET, Action.CREATE), (DATA, Action.CREATE), (DB, Action.UPDATE), (APP, Action.REPLACE),
                   (CACHE, Action.DELETE), (WORKER, Action.DELETE), graph=STACK)
    result, _, _ = run(plan, 3)
    assert (result.added, result.changed, result.replaced, result.destroyed) == (2, 1, 1, 2)
    assert (result.errors, result.skipped) == ([], [])


def test_empty_plan_does_nothing():
    result, journal, events = run(Plan("s", []), 4)
    assert journal.entries == [] and events.items == []
    assert (result.added, result.changed, result.replaced, result.destroyed) == (0, 0, 0, 0)


# --- operations_graph on its own --------------------------------------------------------------

def edges(plan: Plan) -> set[tuple[tuple[str, Address], tuple[str, Address]]]:
    ops = operations_graph(plan, providers(Journal()))
    return {((a.verb, a.address), (b.verb, b.address)) for a, b in ops.edges}


def test_operations_graph_for_creates_and_updates():
    plan = plan_of((NET, Action.NOOP), (DB, Action.UPDATE), (APP, Action.CREATE), graph=STACK)
    ops = operations_graph(plan, providers(Journal()))
    assert {(op.verb, op.address) for op in ops.nodes} == {("update", DB), ("create", APP)}
    assert edges(plan) == {(("update", DB), ("create", APP))}


def test_operations_graph_for_a_replace():
    assert edges(plan_of((DB, Action.REPLACE))) == {(("delete", DB), ("create", DB))}


def test_operations_graph_is_acyclic_for_a_whole_replaced_stack():
    plan = plan_of((NET, Action.REPLACE), (DATA, Action.REPLACE), (DB, Action.REPLACE), (APP, Action.REPLACE),
                   (CACHE, Action.REPLACE), graph=STACK)
    assert nx.is_directed_acyclic_graph(operations_graph(plan, providers(Journal())))


def test_destroy_operations_stay_acyclic_when_a_network_references_a_container(tmp_path):
    from quayform.graph import build_graph
    from quayform.plan import build_destroy_plan
    from quayform.spec import load_spec

    path = tmp_path / "quayform.yaml"
    path.write_text(
        "version: 1\nstack: s\n"
        "networks:\n  backend:\n    labels: {owner: \"${containers.db.name}\"}\n"
        "containers:\n  db: {image: busybox}\n  app: {image: busybox, networks: [backend]}\n")
    graph = build_graph(load_spec(str(path), environ={}))
    assert (DB, NET) in graph.dag.edges  # the network depends on the container it names
    from quayform.changes import LiveObject

    live = {a: LiveObject(a.kind, a, form["name"], oid, form) for a, (oid, form) in {
        NET: ("n1", {"name": "s-backend"}), DB: ("c1", {"name": "s-db"}),
        APP: ("c2", {"name": "s-app", "networks": {"s-backend": []}})}.items()}
    ops = operations_graph(build_destroy_plan("s", live, graph), providers(Journal()))
    assert nx.is_directed_acyclic_graph(ops)
