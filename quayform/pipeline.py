"""The stages composed: spec -> graph -> observe -> diff -> plan, and plan -> apply.

The CLI calls these and renders what they return; nothing here prints. The stages that
talk to the engine (and import the Docker SDK and networkx) are imported inside the
functions that use them, so `validate` and `--help` never pay for them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from quayform.address import Address
from quayform.changes import ApplyEvent, ApplyResult
from quayform.diff import diff_stack
from quayform.errors import PlanError, SpecError, SpecProblem
from quayform.graph import StackGraph, build_graph
from quayform.plan import Plan, build_destroy_plan, build_plan, check_prevent_destroy, select_targets
from quayform.spec import Spec, load_spec

if TYPE_CHECKING:
    from quayform.apply import EventSink
    from quayform.observe import LiveState, PgServerState


def connect() -> Any:
    from quayform.docker_client import connect as docker_connect

    return docker_connect()


def _policies() -> dict[str, Any]:
    from quayform.resources import POLICIES

    return POLICIES


@dataclass
class Options:
    """What the user asked for on the command line."""

    spec_path: str = "quayform.yaml"
    variables: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] | None = None
    replace: tuple[str, ...] = ()
    target: tuple[str, ...] = ()
    parallelism: int = 10
    remove_volumes: bool = False
    remove_databases: bool = False
    lock_timeout: float = 0.0


def validate(options: Options) -> tuple[Spec, StackGraph]:
    """Load and check the spec and its graph without an engine (secrets are not read)."""
    spec = load_spec(options.spec_path, options.variables, options.environ, read_secrets=False)
    return spec, build_graph(spec)


def _load(options: Options, read_secrets: bool = True) -> tuple[Spec, StackGraph]:
    spec = load_spec(options.spec_path, options.variables, options.environ, read_secrets=read_secrets)
    return spec, build_graph(spec)


def _addresses(texts: tuple[str, ...], flag: str, graph: StackGraph, spec: Spec) -> set[Address]:
    addresses, problems = set(), []
    for text in texts:
        try:
            address = Address.parse(text)
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
    databases = [a for a in addresses if a.kind == "databases"]
    if databases:
        raise SpecError([SpecProblem("--replace", None, "", f"{a}: quayform never drops a database to recreate it; "
                                                            "do that by hand if you must") for a in databases])
    return addresses


def desired_state(spec: Spec, live: LiveState) -> dict[Address, dict[str, Any]]:
    from quayform.resources.container_form import desired_container
    from quayform.resources.network import desired_network
    from quayform.resources.pg_forms import desired_database, desired_user
    from quayform.resources.volume import desired_volume

    desired: dict[Address, dict[str, Any]] = {}
    for key in spec.users:
        desired[Address("users", key)] = desired_user(key, spec)
    for key in spec.databases:
        desired[Address("databases", key)] = desired_database(key, spec)
    for key in spec.networks:
        desired[Address("networks", key)] = desired_network(key, spec)
    for key in spec.volumes:
        desired[Address("volumes", key)] = desired_volume(key, spec)
    for key, container in spec.containers.items():
        desired[Address("containers", key)] = desired_container(key, container, spec, live.images.get(container.image))
    for address, form in desired.items():
        lifecycle = getattr(spec, address.kind)[address.key].lifecycle
        form["_prevent_destroy"] = lifecycle.prevent_destroy
        form["_ignore"] = tuple(lifecycle.ignore_changes)
        form["_cbd"] = lifecycle.create_before_destroy
    return desired


def _guards(spec: Spec) -> dict[Address, bool]:
    return {Address(kind, key): item.lifecycle.prevent_destroy
            for kind in _policies() for key, item in getattr(spec, kind).items()}


def _check_ignore_changes(spec: Spec) -> None:
    problems = []
    for kind, policy in _policies().items():
        known = policy.replace_on | policy.update_in_place
        for key, item in getattr(spec, kind).items():
            for i, name in enumerate(item.lifecycle.ignore_changes):
                if name.split(".")[0] not in known:
                    path = f"{kind}.{key}.lifecycle.ignore_changes[{i}]"
                    problems.append(SpecProblem(spec.path, spec.line_of(kind, key, "lifecycle", "ignore_changes", i),
                                                path, f"{name!r} is not an attribute of {kind} "
                                                      f"(one of {', '.join(sorted(known))})"))
    if problems:
        raise SpecError(problems)


def _check_foreign_names(spec: Spec, desired: dict[Address, dict[str, Any]], live: LiveState) -> None:
    """A name held by something quayform does not manage in this stack stops the plan early."""
    problems = []
    for address, want in desired.items():
        if address in live.objects or address.kind in ("users", "databases"):
            continue
        taken = live.foreign.get(address.kind, {}).get(want["name"])
        if taken:
            kind = address.kind.rstrip("s")
            hint = (f", or adopt it with `quayform import {address} {want['name']}`" if address.kind == "containers"
                    else "")
            problems.append(f"{address}: a {kind} named {want['name']!r} already exists and is not managed by "
                            f"stack {spec.stack!r} (remove or rename it, or set another name in the spec{hint})")
    if problems:
        raise PlanError("\n".join(problems))


def make_plan(options: Options) -> Plan:
    """Everything `quayform plan` shows, computed against the live engine."""
    from quayform.observe import observe_stack

    spec, graph = _load(options)
    _check_ignore_changes(spec)
    replace = _replace_addresses(options, graph, spec)
    api = connect()
    live = observe_stack(api, spec.stack, (c.image for c in spec.containers.values()),
                         lambda a: _expected_name(spec, a))
    desired = desired_state(spec, live)
    _check_foreign_names(spec, desired, live)
    pg_objects, pg_states = _observe_postgres(api, spec, live, desired)
    live_forms = {a: (obj.id, obj.state) for a, obj in {**live.objects, **pg_objects}.items()}
    imported = {a for a, (_, form) in live_forms.items() if form.get("_import_marker") and a in desired}
    changes, kept = diff_stack(desired, live_forms, _policies(), replace | imported)
    changes = [with_reason(c, "imported: replaced by a managed container that keeps its volumes")
               if c.address in imported else c for c in changes]
    changes = _explain_unreadable_servers(changes, pg_states, spec)
    missing = sorted(ref for ref, info in live.images.items() if info is None)
    plan = build_plan(spec.stack, changes, kept, graph, missing, dict(spec.outputs))
    plan.desired_forms = desired
    plan.live_forms = {a: form for a, (_, form) in live_forms.items()}
    plan = select_targets(plan, _addresses(options.target, "--target", graph, spec))
    check_prevent_destroy(plan, _guards(spec))
    return plan


def with_reason(change: Any, reason: str) -> Any:
    from dataclasses import replace as with_fields

    return with_fields(change, reason=reason)


def _observe_postgres(api: Any, spec: Spec, live: LiveState, desired: dict[Address, dict[str, Any]]
                      ) -> tuple[dict[Address, Any], dict[str, PgServerState]]:
    from quayform.observe import PgServerState, observe_postgres
    from quayform.resources.pg_forms import server_ref

    servers = {key: server_ref(spec, key) for key in spec.postgres}
    running = {key for key, server in spec.postgres.items()
               if (obj := live.objects.get(Address("containers", server.container))) and obj.state.get("running")}
    objects, states = observe_postgres(api, spec.stack, servers, running, desired)
    for key, server in spec.postgres.items():
        if Address("containers", server.container) not in live.objects:
            states[key] = PgServerState(False, "")  # a fresh server: nothing to explain
    return objects, states


def _explain_unreadable_servers(changes: list, states: dict[str, PgServerState], spec: Spec) -> list:
    """Objects on a server that is not running are planned as creates; say why."""
    from dataclasses import replace as with_fields

    out = []
    for change in changes:
        server = (change.after or {}).get("_server")
        state = states.get(server.key) if server is not None else None
        if state is not None and not state.readable and state.reason and change.reason is None:
            change = with_fields(change, reason=f"{state.reason}; created if missing once it is")
        out.append(change)
    return out


def _expected_name(spec: Spec, address: Address) -> str | None:
    names = {"containers": spec.container_name, "volumes": spec.volume_name, "networks": spec.network_name}
    if address.key in getattr(spec, address.kind, {}):
        return names[address.kind](address.key)
    return None


def _stack_objects(spec: Spec, inspect: bool) -> dict[Address, Any]:
    """Every object of the stack on the engine and on its PostgreSQL servers (destroy, show)."""
    from quayform.observe import observe_stack

    api = connect()
    live = observe_stack(api, spec.stack, (), inspect=inspect)
    desired = {a: d for a, d in desired_state(spec, live).items() if a.kind in ("users", "databases")}
    pg_objects, _ = _observe_postgres(api, spec, live, desired)
    return {**live.objects, **pg_objects}


def make_destroy_plan(options: Options) -> Plan:
    """Delete everything labelled with the spec's stack; needs no secrets."""
    spec, graph = _load(options, read_secrets=False)
    objects = _stack_objects(spec, inspect=False)
    live_forms = {a: (obj.id, obj.state) for a, obj in objects.items()}
    plan = build_destroy_plan(spec.stack, live_forms, graph, options.remove_volumes, options.remove_databases)
    plan = select_targets(plan, _addresses(options.target, "--target", graph, spec))
    check_prevent_destroy(plan, _guards(spec))
    return plan


def run_apply(plan: Plan, options: Options, emit: EventSink) -> ApplyResult:
    """Pull what is missing (before changing anything), then carry out the plan."""
    from quayform.apply import Executor
    from quayform.resources import providers_for
    from quayform.resources.image import pull_image

    api = connect()
    needed = {(c.after or {}).get("image") for c in plan.changes if c.action.value in ("+", "-/+")}
    for ref in (r for r in plan.images_to_pull if r in needed):
        address = next((c.address for c in plan.changes if (c.after or {}).get("image") == ref), None)
        emit(ApplyEvent(address or Address("containers", "?"), "start", "pull", message=ref))
        pull_image(api, ref, lambda line, a=address: emit(ApplyEvent(a, "info", "pull", message=line)))
    executor = Executor(providers_for(api), options.parallelism, emit, remove_volumes=options.remove_volumes)
    return executor.run(plan)



# -- locking, saved plans, import, show ---------------------------------------------------------

def stack_of(options: Options) -> str:
    return load_spec(options.spec_path, options.variables, options.environ, read_secrets=False).stack


@contextmanager
def locked(options: Options, operation: str, warn: Callable[[str], None]) -> Iterator[None]:
    """Hold the stack's engine-side lock for the whole command (plan, confirm, apply)."""
    from quayform.lock import StackLock

    with StackLock(connect(), stack_of(options), operation, options.lock_timeout, warn):
        yield


def force_unlock(options: Options) -> Any:
    from quayform.lock import force_unlock as remove_lock

    return remove_lock(connect(), stack_of(options))


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


def import_container(options: Options, address_text: str, name: str) -> str:
    """Adopt an unmanaged container: the next plan replaces it with a managed one that keeps its volumes."""
    spec = load_spec(options.spec_path, options.variables, options.environ, read_secrets=False)
    try:
        address = Address.parse(address_text)
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    if address.kind != "containers" or address.key not in spec.containers:
        raise PlanError(f"{address}: only containers in {spec.path} can be imported")
    api = connect()
    from quayform import labels as L
    from quayform.docker_client import engine_errors, is_not_found

    with engine_errors(f"importing {name}"):
        try:
            raw = api.inspect_container(name)
        except Exception as exc:  # noqa: BLE001 - NotFound and friends become one message
            if is_not_found(exc):
                raise PlanError(f"there is no container named {name!r} to import") from None
            raise
        owner = (raw["Config"].get("Labels") or {}).get(L.STACK)
        if owner:
            raise PlanError(f"container {name!r} is already managed by stack {owner!r}")
        managed = api.containers(all=True, filters={"label": [f"{L.STACK}={spec.stack}", f"{L.ADDRESS}={address}"]})
        if managed:
            raise PlanError(f"{address} already exists ({managed[0]['Names'][0].lstrip('/')}); "
                            "only an address with no container can be imported into")
        marker = f"quayform-import-{spec.stack}-{address.key}"
        if (api.volumes(filters={"name": marker}) or {}).get("Volumes"):
            raise PlanError(f"{address} is already being imported; run `quayform apply` to finish that first")
        api.create_volume(name=f"quayform-import-{spec.stack}-{address.key}", labels={
            L.STACK: spec.stack, L.MARKER: "import", L.ADDRESS: str(address), L.IMPORT_ID: raw["Id"]})
    return raw["Id"]


def live_resources(options: Options) -> tuple[str, list[Any]]:
    """Every object of the stack as the engine (and PostgreSQL) has it, for `show`."""
    spec = load_spec(options.spec_path, options.variables, options.environ, read_secrets=False)
    objects = _stack_objects(spec, inspect=True)
    return spec.stack, [objects[a] for a in sorted(objects)]


def spec_outputs(options: Options) -> dict[str, Any]:
    """The spec's outputs; those made from secrets stay Sensitive (and are never shown)."""
    return dict(load_spec(options.spec_path, options.variables, options.environ, read_secrets=False).outputs)
