"""The stages composed: spec -> graph -> observe -> identify -> diff -> plan, and plan -> apply.

The CLI calls these and renders what they return; nothing here prints, talks to an engine
itself, or names a kind. The stages that talk to engines (and import the Docker SDK and
networkx) are imported inside the functions that use them, so `validate` and `--help`
never pay for them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from quayform.address import Address
from quayform.changes import ApplyEvent, ApplyResult, Desired
from quayform.diff import diff_stack
from quayform.errors import PlanError, SpecError, SpecProblem
from quayform.graph import StackGraph, build_graph
from quayform.kinds import REGISTRY
from quayform.kinds.base import Ctx
from quayform.plan import Plan, build_destroy_plan, build_plan, check_prevent_destroy, select_targets
from quayform.sensitive import Masker
from quayform.spec import Spec, load_spec
from quayform.targets import Connections, engine_targets

if TYPE_CHECKING:
    from quayform.apply import EventSink
    from quayform.observe import LiveState


@dataclass
class Options:
    """What the user asked for on the command line."""

    spec_path: str = "quayform.yaml"
    variables: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] | None = None
    replace: tuple[str, ...] = ()
    target: tuple[str, ...] = ()
    parallelism: int = 10
    release: frozenset[str] = frozenset()  # destroy flags: "volumes", "databases"
    lock_timeout: float = 0.0
    # Every secret value this command came to know: what it prints is masked with it.
    masker: Masker = field(default_factory=Masker, repr=False)


def validate(options: Options) -> tuple[Spec, StackGraph]:
    """Load and check the spec and its graph without an engine (secrets are not read)."""
    return _load(options, read_secrets=False)


def _load(options: Options, read_secrets: bool = True, generate: bool = True) -> tuple[Spec, StackGraph]:
    spec = load_spec(options.spec_path, options.variables, options.environ, read_secrets=read_secrets,
                     generate=generate)
    options.masker.add(*spec.secret_values)
    return spec, build_graph(spec)


def _load_readable(options: Options) -> tuple[Spec, StackGraph]:
    """Destroy and show read the secrets they can (a Quay admin signs in with one; relayed text is
    masked with them) and go on without them when some are missing (what needs them then fails
    clearly). They never generate one: a new admin password would only lock quayform out."""
    try:
        return _load(options, generate=False)
    except SpecError:
        return _load(options, read_secrets=False)


def context(spec: Spec) -> Ctx:
    return Ctx(spec, lambda address: REGISTRY.name_of(spec, address))


def _addresses(texts: tuple[str, ...], flag: str, graph: StackGraph, spec: Spec) -> set[Address]:
    addresses, problems = set(), []
    for text in texts:
        try:
            address = REGISTRY.parse_address(text)
        except ValueError as exc:
            problems.append(SpecProblem(flag, None, "", str(exc)))
            continue
        if address not in graph:
            problems.append(SpecProblem(flag, None, "", f"{address} is not in {spec.path}"))
        addresses.add(address)
    if problems:
        raise SpecError(problems)
    return addresses


def _replace_addresses(options: Options, graph: StackGraph, spec: Spec) -> set[Address]:
    addresses = _addresses(options.replace, "--replace", graph, spec)
    refused = [SpecProblem("--replace", None, "", f"{a}: {REGISTRY[a.kind].rules.replace_refusal}")
               for a in sorted(addresses) if REGISTRY[a.kind].rules.replace_refusal]
    if refused:
        raise SpecError(refused)
    return addresses


def desired_state(spec: Spec, ctx: Ctx) -> dict[Address, Desired]:
    """Every resource of the spec as its kind builds it (pure, given the facts read)."""
    return {Address(kind.section, key): kind.desired(spec, key, ctx) for kind in REGISTRY for key in kind.items(spec)}


def settled(desired: dict[Address, Desired], matched: Mapping[Address, Any],
            remade: frozenset[Address] = frozenset()) -> dict[Address, Desired]:
    """Fill in the values known only once other resources exist (a robot's token) from what was read
    back; what is still to be created, or is to be `remade` (replaced: a new robot has a new token),
    stays unknown in the forms, and is settled by apply."""
    from dataclasses import replace

    from quayform.later import settle

    values = {k: v for k, v in _values(matched).items() if k[0] not in remade}
    lookup = lambda ref: values.get((ref.address, ref.attr))  # noqa: E731
    return {a: replace(d, form=settle(d.form, lookup), payload=settle(d.payload, lookup, unknown=None))
            for a, d in desired.items()}


def settled_outputs(outputs: Mapping[str, Any], matched: Mapping[Address, Any],
                    remade: frozenset[Address] = frozenset()) -> dict[str, Any]:
    from quayform.later import settle

    values = {k: v for k, v in _values(matched).items() if k[0] not in remade}
    return dict(settle(dict(outputs), lambda ref: values.get((ref.address, ref.attr))))


def _values(matched: Mapping[Address, Any]) -> dict[tuple[Address, str], Any]:
    return {(address, attr): value for address, live in matched.items() if address.kind in REGISTRY
            for attr, value in REGISTRY[address.kind].values_of(live).items()}


def policies() -> dict[str, Any]:
    return {kind.section: kind.policy for kind in REGISTRY}


def _observe(spec: Spec, ctx: Ctx, connections: Connections, detail: bool = True) -> LiveState:
    from quayform.observe import observe_stack

    live = observe_stack(REGISTRY, spec, ctx, connections, detail=detail, facts=detail)
    ctx.facts = live.facts
    return live


def make_plan(options: Options) -> Plan:
    """Everything `quayform plan` shows, computed against the live engine."""
    from quayform.identify import identify

    spec, graph = _load(options)
    replace = _replace_addresses(options, graph, spec)
    targets = _addresses(options.target, "--target", graph, spec)
    ctx = context(spec)
    live = _observe(spec, ctx, Connections())
    desired = desired_state(spec, ctx)
    matched = identify(desired, live.objects, REGISTRY, spec.stack)
    unsettled, remade = desired, frozenset()
    while True:  # a replaced resource's values are unknown until apply: what uses them is compared again
        desired = settled(unsettled, matched, remade)
        options.masker.add_from(list(desired.values()))
        options.masker.add_from([o.form for o in live.ours()])
        conflicts = [p for kind in REGISTRY for p in kind.conflicts(spec, desired, live.objects, spec.stack)]
        if conflicts:
            raise PlanError("\n".join(conflicts))
        unreadable = {where: exc.reason for where, exc in live.unavailable.items() if not exc.quiet}
        changes, kept = diff_stack(desired, matched, policies(), replace, unreadable)
        replaced = frozenset(c.address for c in changes if c.action.is_replace)
        if replaced <= remade:
            break
        remade = remade | replaced
    prerequisites = [p for d in desired.values() for p in d.prerequisites]
    plan = build_plan(spec.stack, changes, kept, graph, prerequisites, settled_outputs(spec.outputs, matched, remade))
    plan.desired_forms = {a: d.form for a, d in desired.items()}
    plan.live_forms = {c.address: c.before for c in changes if c.before is not None}
    plan.live_forms.update({a: o.form for a, o in matched.items() if a not in plan.live_forms})
    plan = select_targets(plan, targets)
    plan.engine_names = _engine_names(spec)
    check_prevent_destroy(plan, {a: d.lifecycle.prevent_destroy for a, d in desired.items()})
    return plan


def _engine_names(spec: Spec) -> list[str]:
    return [target.name for target in engine_targets(spec)]


def _stack_objects(spec: Spec, detail: bool, connections: Connections | None = None,
                   kinds: Any = None) -> tuple[dict[Address, Any], list[str]]:
    """Every object of the stack where it lives (destroy, show, ps), and where it could not be read."""
    from quayform.identify import identify
    from quayform.observe import observe_stack

    connections = connections or Connections()
    if kinds is None:
        live = _observe(spec, context(spec), connections, detail=detail)
    else:
        live = observe_stack(kinds, spec, context(spec), connections, detail=detail, facts=False)
    unread = sorted({f"{target}: {exc.reason}; what lives there is left as it is"
                     for (_, target), exc in live.unavailable.items() if not exc.quiet})
    return identify({}, live.objects, REGISTRY, spec.stack), unread


def make_destroy_plan(options: Options) -> Plan:
    """Delete every object labelled with the spec's stack; needs no secrets."""
    spec, graph = _load_readable(options)
    objects, unread = _stack_objects(spec, detail=False)
    plan = build_destroy_plan(spec.stack, objects, graph, options.release)
    plan.notes = unread
    plan = select_targets(plan, _addresses(options.target, "--target", graph, spec))
    plan.engine_names = _engine_names(spec)
    declared = {Address(k.section, key): item.lifecycle.prevent_destroy for k in REGISTRY
                for key, item in k.items(spec).items()}
    check_prevent_destroy(plan, declared)
    return plan


def run_apply(plan: Plan, options: Options, emit: EventSink) -> ApplyResult:
    """Do what must come first (pull missing images) before changing anything, then carry out the plan."""
    from quayform.apply import Executor

    connections = Connections()
    creating = {c.address for c in plan.changes if c.action.creates}
    for item in plan.prerequisites:
        needed = [a for a in item.addresses if a in creating]
        if not needed:
            continue
        emit(ApplyEvent(needed[0], "start", item.action, message=item.value))
        REGISTRY[item.kind].prepare(item, connections.get(item.target),
                                    lambda line, a=needed[0], act=item.action: emit(ApplyEvent(a, "info", act,
                                                                                               message=line)))
    executor = Executor({k.section: k for k in REGISTRY}, options.parallelism, emit, connections, options.release,
                        learn=options.masker.add)
    return executor.run(plan)


# -- locking, saved plans, import, show ---------------------------------------------------------

def stack_of(options: Options) -> str:
    return load_spec(options.spec_path, options.variables, options.environ, read_secrets=False).stack


def _spec_of(options: Options) -> Spec:
    return load_spec(options.spec_path, options.variables, options.environ, read_secrets=False)


@contextmanager
def locked(options: Options, operation: str, warn: Callable[[str], None]) -> Iterator[None]:
    """Hold the stack's engine-side lock on every engine of the spec for the whole command (plan, confirm,
    apply), taken in a fixed order and all released however the command ends."""
    from quayform.lock import EngineLocks

    spec, connections = _spec_of(options), Connections()
    places = [(target.sort_key, connections.get(target)) for target in engine_targets(spec)]
    with EngineLocks(places, spec.stack, operation, options.lock_timeout, warn):
        yield


def force_unlock(options: Options) -> Any:
    """Remove the stack's lock on every engine of the spec; returns who held the first one found."""
    from quayform.lock import force_unlock as remove_lock

    spec, connections = _spec_of(options), Connections()
    holders = [remove_lock(connections.get(target), spec.stack) for target in engine_targets(spec)]
    return next((h for h in holders if h is not None), None)


def save_plan_file(path: str, plan: Plan, document: dict[str, Any], options: Options) -> None:
    from quayform.planfile import save_plan

    save_plan(path, plan, document, {
        "spec_path": os.path.abspath(options.spec_path), "variables": dict(options.variables),
        "replace": list(options.replace), "target": list(options.target)})


def load_plan_file(path: str) -> dict[str, Any]:
    from quayform.planfile import load_plan

    return load_plan(path)


def plan_from_file(path: str, options: Options) -> Plan:
    """The saved plan, made again and checked: refused with PlanStaleError if anything moved."""
    from quayform.planfile import check_fresh, load_plan

    saved = load_plan(path)
    stored = saved["options"]
    again = Options(spec_path=stored["spec_path"], variables=stored.get("variables", {}), environ=options.environ,
                    replace=tuple(stored.get("replace", ())), target=tuple(stored.get("target", ())),
                    parallelism=options.parallelism, lock_timeout=options.lock_timeout)
    fresh = make_plan(again)
    check_fresh(saved, fresh)
    return fresh


def import_resource(options: Options, address_text: str, name: str) -> str:
    """Adopt an object made by hand as ADDRESS, the way its kind records adoption; returns its id."""
    spec = load_spec(options.spec_path, options.variables, options.environ, read_secrets=False)
    try:
        address = REGISTRY.parse_address(address_text)
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    kind = REGISTRY[address.kind]
    problem = kind.import_problem(spec, address.key, name)
    if problem:
        raise PlanError(f"{address}: {problem}")
    if address.key not in kind.items(spec):
        raise PlanError(f"{address} is not in {spec.path}")
    ctx = context(spec)
    target = kind.desired(spec, address.key, ctx).target
    try:
        return kind.adopt(Connections().get(target), spec.stack, address, name)
    except NotImplementedError as exc:
        raise PlanError(f"{address}: {exc}") from None


def live_resources(options: Options) -> tuple[str, list[Any]]:
    """Every object of the stack as the engine (PostgreSQL, Quay) has it, for `show`."""
    spec, _ = _load_readable(options)
    objects, _ = _stack_objects(spec, detail=True)
    return spec.stack, [objects[a] for a in sorted(objects)]


def stack_status(options: Options) -> dict[str, Any]:
    """`ps`: every resource of the spec and every object of the stack, each with how it runs (its kind's
    status: state, health, ports, image) or that it is not created yet."""
    spec, graph = _load_readable(options)
    connections = Connections()
    objects, unread = _stack_objects(spec, detail=False, connections=connections)
    groups: dict[tuple[str, Any], list[Any]] = {}
    for live in objects.values():
        groups.setdefault((live.kind, live.target), []).append(live)
    columns: dict[str, dict[str, str]] = {}
    for (kind, target), lives in groups.items():
        columns.update(REGISTRY[kind].status(connections.get(target), lives))
    declared = [a for a in graph.order() if a.kind in REGISTRY]
    rows = []
    for address in dict.fromkeys([*declared, *sorted(objects)]):
        live = objects.get(address)
        row = {"address": str(address), "type": REGISTRY[address.kind].noun, "in_spec": address in graph,
               "name": live.name if live else REGISTRY.name_of(spec, address), "state": "not created",
               "health": "", "ports": "", "image": "", "status": ""}
        if live is not None:
            row.update(columns.get(live.id, {"state": "exists"}))
        rows.append(row)
    return {"stack": spec.stack, "resources": rows, "notes": unread}


def running_object(options: Options, address_text: str) -> tuple[Any, Any, Any]:
    """The live object `logs`, `exec` and `restart` act on: (its kind, its connection, the object). A bare
    KEY names the one resource of that key whose kind runs commands (`web` for `containers.web`)."""
    from quayform.kinds.base import Kind

    spec, graph = _load_readable(options)
    runnable = [k for k in REGISTRY if type(k).run is not Kind.run]
    if "." in address_text:
        try:
            address = REGISTRY.parse_address(address_text)
        except ValueError as exc:
            raise PlanError(str(exc)) from None
    else:
        found = [Address(k.section, address_text) for k in runnable if address_text in k.items(spec)]
        if len(found) != 1:
            sections = ", ".join(k.section for k in runnable)
            raise PlanError(f"{address_text!r} is not the key of one resource in {sections} of {spec.path}"
                            if not found else f"{address_text!r} is ambiguous: {', '.join(map(str, found))}")
        address = found[0]
    kind = REGISTRY[address.kind]
    if kind not in runnable:
        raise PlanError(f"{address}: {kind.section} do not run; logs, exec and restart are for "
                        f"{', '.join(k.section for k in runnable)}")
    if address not in graph:
        raise PlanError(f"{address} is not in {spec.path}")
    connections = Connections()
    objects, _ = _stack_objects(spec, detail=True, connections=connections, kinds=[kind])
    live = objects.get(address)
    if live is None:
        raise PlanError(f"{address} does not exist yet: run `quayform apply` first")
    options.masker.add_from(live.form)
    return kind, connections.get(live.target), live


def spec_outputs(options: Options, settle: bool = False) -> dict[str, Any]:
    """The spec's outputs; those made from secrets stay Sensitive (and are never shown). With `settle`,
    secrets are read and values known only once a resource exists (a robot's token) are read back."""
    if not settle:
        return dict(load_spec(options.spec_path, options.variables, options.environ, read_secrets=False).outputs)
    return dict(make_plan(options).outputs)
