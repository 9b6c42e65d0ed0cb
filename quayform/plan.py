"""The plan: the ordered changes for a stack, what is kept and why, and the summary line.

Built from diff's output and the graph's order; knows nothing of Docker or of output. The
kinds' rules (which replacements cascade, which objects `destroy` keeps unless a flag
releases them) come from the registry; no kind is named here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from quayform.address import Address
from quayform.changes import Action, AttributeChange, Change, Kept, LiveObject, Prerequisite, Reason
from quayform.errors import PlanError
from quayform.graph import StackGraph
from quayform.kinds import REGISTRY

DESTROY = Reason("destroy", "destroy")


@dataclass
class Plan:
    """What apply will do, in the order it will be shown."""

    stack: str
    changes: list[Change]
    kept: list[Kept] = field(default_factory=list)
    unchanged: list[Address] = field(default_factory=list)
    prerequisites: list[Prerequisite] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    graph: StackGraph | None = None
    destroy: bool = False
    release: frozenset[str] = frozenset()  # destroy flags given: what destroy may delete after all
    targets: list[Address] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be read, and so is left as it is (destroy)
    engine_names: list[str] = field(default_factory=list)  # every engine the spec knows (shown when more than one)
    # The compared forms behind the plan (not shown): saved plans digest them to detect staleness.
    desired_forms: dict[Address, dict[str, Any]] = field(default_factory=dict, repr=False)
    live_forms: dict[Address, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def images_to_pull(self) -> list[str]:
        return [p.value for p in self.prerequisites if p.action == "pull"]

    @property
    def differs(self) -> bool:
        """Changes, or differences the plan holds back (the stack does not match the spec)."""
        return self.has_changes or any(k.attributes for k in self.kept)

    def summary(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "replace": 0, "destroy": 0}
        key = {Action.CREATE: "add", Action.UPDATE: "change", Action.REPLACE: "replace",
               Action.CREATE_THEN_DELETE: "replace", Action.DELETE: "destroy"}
        for change in self.changes:
            counts[key[change.action]] += 1
        return counts


def _position(graph: StackGraph | None) -> dict[Address, int]:
    return {address: i for i, address in enumerate(graph.order())} if graph else {}


def order_changes(changes: list[Change], graph: StackGraph | None, kinds: Any = REGISTRY) -> list[Change]:
    """Spec resources in dependency order, then orphans by kind and key."""
    position = _position(graph)
    return sorted(changes, key=lambda c: (c.address not in position, position.get(c.address, 0),
                                          kinds.index(c.address.kind), c.address.key))


def _replacement(change: Change) -> Action:
    return Action.CREATE_THEN_DELETE if change.lifecycle.create_before_destroy else Action.REPLACE


def cascade_replacements(changes: list[Change], graph: StackGraph, kinds: Any = REGISTRY) -> list[Change]:
    """A resource on something that is being recreated is recreated too, where its kind says so, or has
    the attributes that point at it set again."""
    by_address = {c.address: c for c in changes}
    for change in list(changes):
        if not change.action.is_replace:
            continue
        for dependent in graph.dependents_of(change.address):
            current = by_address.get(dependent)
            if current is None or current.action not in (Action.NOOP, Action.UPDATE) or dependent.kind not in kinds:
                continue
            rules = kinds[dependent.kind].rules
            if change.address.kind in rules.recreated_with:
                by_address[dependent] = replace(current, action=_replacement(current), reason=Reason(
                    "dependency_replaced", f"it uses {change.address}, which must be replaced"))
            refresh = dict(rules.refreshed_with).get(change.address.kind, ())
            if refresh:
                by_address[dependent] = _refreshed(current, refresh, change.address)
    return [by_address[c.address] for c in changes]


def _refreshed(change: Change, names: tuple[str, ...], replaced: Address) -> Change:
    have = {a.path.split(".")[0] for a in change.attributes}
    extra = tuple(AttributeChange(name, (change.before or {}).get(name), (change.after or {}).get(name))
                  for name in names if name not in have)
    return replace(change, action=Action.UPDATE, attributes=change.attributes + extra, reason=change.reason or Reason(
        "dependency_replaced", f"{replaced} is replaced: {', '.join(names)} set again"))


def _kept_order(kept: Iterable[Kept], kinds: Any) -> list[Kept]:
    return sorted(kept, key=lambda k: (kinds.index(k.address.kind), k.address.key))


def keep_data(changes: list[Change], kinds: Any, release: frozenset[str]) -> tuple[list[Change], list[Kept]]:
    """Deletes that would lose data become kept: an object that holds data (a repository with
    images) unless its destroy flag releases it, then, until nothing moves, an object that
    contains something that stays (an organization with a repository that is kept or not the stack's)."""
    out, kept = [], []
    for change in changes:
        rules = kinds[change.address.kind].rules if change.address.kind in kinds else None
        why = kinds[change.address.kind].holds_data(change) if change.action is Action.DELETE and rules else ""
        if why and rules.data_flag not in release:
            kept.append(Kept(change.address, Reason("holds_data", f"{why}; it is kept (destroy --{rules.data_flag} "
                                                                  "deletes it)")))
        else:
            out.append(change)
    while True:
        going = {(c.address.kind, c.name, c.live_target) for c in out if c.action is Action.DELETE}
        stays = {}
        for change in out:
            if change.action is Action.DELETE and change.address.kind in kinds:
                inside = [name for kind, name in kinds[change.address.kind].contains(change)
                          if (kind, name, change.live_target) not in going]
                if inside:
                    stays[change.address] = inside
        if not stays:
            return out, kept
        out = [c for c in out if c.address not in stays]
        kept += [Kept(a, Reason("holds_data", f"it still holds {', '.join(sorted(n)[:5])}"
                                              f"{' and more' if len(n) > 5 else ''}; it is kept")) for a, n in stays.items()]


def build_plan(stack: str, changes: list[Change], kept: list[Kept], graph: StackGraph | None,
               prerequisites: list[Prerequisite], outputs: dict[str, Any], kinds: Any = REGISTRY) -> Plan:
    if graph is not None:
        changes = cascade_replacements(changes, graph, kinds)
    changes, holding = keep_data(changes, kinds, frozenset())
    kept = [*kept, *holding]
    ordered = order_changes(changes, graph, kinds)
    return Plan(
        stack=stack,
        changes=[c for c in ordered if c.action is not Action.NOOP],
        kept=_kept_order(kept, kinds),
        unchanged=[c.address for c in ordered if c.action is Action.NOOP],
        prerequisites=merge_prerequisites(prerequisites),
        outputs=outputs,
        graph=graph,
    )


def merge_prerequisites(prerequisites: Iterable[Prerequisite]) -> list[Prerequisite]:
    """One entry per thing to do, listing every resource that needs it."""
    merged: dict[tuple, Prerequisite] = {}
    for item in prerequisites:
        merged[item.key] = merged[item.key].merged(item) if item.key in merged else item
    return list(merged.values())


def build_destroy_plan(stack: str, live: Mapping[Address, LiveObject], graph: StackGraph | None,
                       release: frozenset[str] = frozenset(), kinds: Any = REGISTRY) -> Plan:
    """Delete every object of the stack; kinds with a destroy flag are kept unless it is given."""
    changes, kept = [], []
    for address, have in live.items():
        rules = kinds[address.kind].rules
        if rules.destroy_flag and rules.destroy_flag not in release:
            kept.append(Kept(address, Reason("destroy_kept", rules.destroy_keep_reason)))
            continue
        note = kinds[address.kind].delete_note(have, release)
        reason = Reason(DESTROY.code, f"{DESTROY}; {note}") if note else DESTROY
        changes.append(Change(address, Action.DELETE, reason=reason, before=have.form, live_id=have.id,
                              live_payload=have.payload, live_target=have.target, guarded=have.guarded))
    changes, holding = keep_data(changes, kinds, release)
    kept += holding
    position = _position(graph)
    # Destroy walks the graph backwards: dependents go first, then what they depend on.
    changes.sort(key=lambda c: (-kinds.index(c.address.kind), -position.get(c.address, -1), c.address.key))
    return Plan(stack=stack, changes=changes, kept=_kept_order(kept, kinds), graph=graph, destroy=True,
                release=release)


def check_prevent_destroy(plan: Plan, declared: dict[Address, bool]) -> None:
    """A plan that would delete or replace a guarded resource fails, naming each one.

    `declared` is the spec's own flag per address (the spec decides for what it declares,
    so a guard can be lifted); for objects no longer in the spec the guard recorded on the
    object itself decides.
    """
    blocked = []
    for change in plan.changes:
        if change.action not in (Action.DELETE, Action.REPLACE, Action.CREATE_THEN_DELETE):
            continue
        if declared.get(change.address, change.guarded):
            verb = "destroy" if change.action is Action.DELETE else "replace"
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
