"""The plan: the ordered changes for a stack, what is kept and why, and the summary line.

Built from diff's output and the graph's order; knows nothing of Docker or of output.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from quayform.address import KINDS, Address
from quayform.changes import Action, Change, Kept
from quayform.errors import PlanError
from quayform.graph import StackGraph


@dataclass
class Plan:
    """What apply will do, in the order it will be shown."""

    stack: str
    changes: list[Change]
    kept: list[Kept] = field(default_factory=list)
    unchanged: list[Address] = field(default_factory=list)
    images_to_pull: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    graph: StackGraph | None = None
    destroy: bool = False
    remove_volumes: bool = False
    targets: list[Address] = field(default_factory=list)
    # The compared forms behind the plan (not shown): saved plans digest them to detect staleness.
    desired_forms: dict[Address, dict[str, Any]] = field(default_factory=dict, repr=False)
    live_forms: dict[Address, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def summary(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "replace": 0, "destroy": 0}
        key = {Action.CREATE: "add", Action.UPDATE: "change", Action.REPLACE: "replace", Action.DELETE: "destroy"}
        for change in self.changes:
            counts[key[change.action]] += 1
        return counts


def _position(graph: StackGraph | None) -> dict[Address, int]:
    return {address: i for i, address in enumerate(graph.order())} if graph else {}


def order_changes(changes: list[Change], graph: StackGraph | None) -> list[Change]:
    """Spec resources in dependency order, then orphans by kind and key."""
    position = _position(graph)
    return sorted(changes, key=lambda c: (c.address not in position, position.get(c.address, 0),
                                          KINDS.index(c.address.kind), c.address.key))


def cascade_replacements(changes: list[Change], graph: StackGraph) -> list[Change]:
    """A container on a volume or network that is being recreated must be recreated too."""
    by_address = {c.address: c for c in changes}
    for change in list(changes):
        if change.action is not Action.REPLACE or change.address.kind not in ("volumes", "networks"):
            continue
        for dependent in graph.dependents_of(change.address):
            current = by_address.get(dependent)
            if current is None or dependent.kind != "containers" or current.action not in (Action.NOOP, Action.UPDATE):
                continue
            by_address[dependent] = replace(current, action=Action.REPLACE,
                                            reason=f"it uses {change.address}, which must be replaced")
    return [by_address[c.address] for c in changes]


def build_plan(stack: str, changes: list[Change], kept: list[Kept], graph: StackGraph | None,
               images_to_pull: list[str], outputs: dict[str, Any]) -> Plan:
    if graph is not None:
        changes = cascade_replacements(changes, graph)
    ordered = order_changes(changes, graph)
    return Plan(
        stack=stack,
        changes=[c for c in ordered if c.action is not Action.NOOP],
        kept=sorted(kept, key=lambda k: (KINDS.index(k.address.kind), k.address.key)),
        unchanged=[c.address for c in ordered if c.action is Action.NOOP],
        images_to_pull=images_to_pull,
        outputs=outputs,
        graph=graph,
    )


def build_destroy_plan(stack: str, live: dict[Address, tuple[str, dict[str, Any]]], graph: StackGraph | None,
                       remove_volumes: bool, remove_databases: bool = False) -> Plan:
    """Delete every object of the stack; named volumes and PostgreSQL objects are kept unless asked."""
    changes, kept = [], []
    for address, (live_id, have) in live.items():
        if address.kind == "volumes" and not remove_volumes:
            kept.append(Kept(address, "named volumes keep their data; add --volumes to delete them"))
            continue
        if address.kind in ("databases", "users") and not remove_databases:
            what = "their data" if address.kind == "databases" else "access to the kept databases"
            kept.append(Kept(address, f"PostgreSQL {address.kind} are kept with {what}; add --databases to drop them"))
            continue
        changes.append(Change(address, Action.DELETE, reason="destroy", before=have, live_id=live_id))
    position = _position(graph)
    # Destroy walks the graph backwards: dependents go first, then what they depend on.
    changes.sort(key=lambda c: (-KINDS.index(c.address.kind), -position.get(c.address, -1), c.address.key))
    return Plan(stack=stack, changes=changes, kept=sorted(kept, key=lambda k: (KINDS.index(k.address.kind), k.address.key)), graph=graph,
                destroy=True, remove_volumes=remove_volumes)


def check_prevent_destroy(plan: Plan, declared: dict[Address, bool]) -> None:
    """A plan that would delete or replace a guarded resource fails, naming each one.

    `declared` is the spec's own flag per address (the spec decides for what it declares,
    so a guard can be lifted); for objects no longer in the spec the flag recorded on the
    object itself decides.
    """
    blocked = []
    for change in plan.changes:
        if change.action not in (Action.DELETE, Action.REPLACE):
            continue
        guarded = declared.get(change.address, (change.before or {}).get("_prevent_destroy", False))
        if guarded:
            verb = "replace" if change.action is Action.REPLACE else "destroy"
            blocked.append(f"{change.address} has lifecycle.prevent_destroy set, but this plan would {verb} it")
    if blocked:
        raise PlanError("\n".join(blocked) + "\n(remove prevent_destroy from the spec first, or leave it out with --target)")


def select_targets(plan: Plan, targets: set[Address]) -> Plan:
    """Keep only the targeted resources and what they depend on (destroy: what depends on them)."""
    if not targets:
        return plan
    graph = plan.graph
    wanted = set(targets)
    for target in targets:
        if graph is not None:
            wanted |= graph.all_dependents_of(target) if plan.destroy else graph.all_dependencies_of(target)
    return replace(plan, changes=[c for c in plan.changes if c.address in wanted],
                   kept=[k for k in plan.kept if k.address in wanted],
                   unchanged=[a for a in plan.unchanged if a in wanted], targets=sorted(targets))
