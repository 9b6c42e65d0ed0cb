"""The stages composed: spec -> graph -> observe -> diff -> plan, and plan -> apply.

The CLI calls these and renders what they return; nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from quayform.address import Address
from quayform.apply import EventSink, Executor
from quayform.changes import ApplyEvent, ApplyResult
from quayform.diff import diff_stack
from quayform.docker_client import connect
from quayform.errors import PlanError, SpecError, SpecProblem
from quayform.graph import StackGraph, build_graph
from quayform.observe import LiveState, PgServerState, observe_postgres, observe_stack
from quayform.plan import Plan, build_destroy_plan, build_plan, check_prevent_destroy, select_targets
from quayform.resources import POLICIES, providers_for
from quayform.resources.container_form import desired_container
from quayform.resources.image import pull_image
from quayform.resources.network import desired_network
from quayform.resources.pg_forms import desired_database, desired_user, server_ref
from quayform.resources.volume import desired_volume
from quayform.spec import Spec, load_spec


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
        if address not in graph.dag:
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


def _check_ignore_changes(spec: Spec) -> None:
    problems = []
    for kind, policy in POLICIES.items():
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
            problems.append(f"{address}: a {kind} named {want['name']!r} already exists and is not managed by "
                            f"stack {spec.stack!r} (remove or rename it, or set another name in the spec)")
    if problems:
        raise PlanError("\n".join(problems))


def make_plan(options: Options) -> Plan:
    """Everything `quayform plan` shows, computed against the live engine."""
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
    changes, kept = diff_stack(desired, live_forms, POLICIES, replace)
    changes = _explain_unreadable_servers(changes, pg_states, spec)
    missing = sorted(ref for ref, info in live.images.items() if info is None)
    plan = build_plan(spec.stack, changes, kept, graph, missing, dict(spec.outputs))
    plan = select_targets(plan, _addresses(options.target, "--target", graph, spec))
    check_prevent_destroy(plan)
    return plan


def _observe_postgres(api: Any, spec: Spec, live: LiveState, desired: dict[Address, dict[str, Any]]
                      ) -> tuple[dict[Address, Any], dict[str, PgServerState]]:
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


def make_destroy_plan(options: Options) -> Plan:
    """Delete everything labelled with the spec's stack; needs no secrets."""
    spec, graph = _load(options, read_secrets=False)
    api = connect()
    live = observe_stack(api, spec.stack, ())
    desired = {a: d for a, d in desired_state(spec, live).items() if a.kind in ("users", "databases")}
    pg_objects, _ = _observe_postgres(api, spec, live, desired)
    live_forms = {a: (obj.id, obj.state) for a, obj in {**live.objects, **pg_objects}.items()}
    plan = build_destroy_plan(spec.stack, live_forms, graph, options.remove_volumes, options.remove_databases)
    plan = select_targets(plan, _addresses(options.target, "--target", graph, spec))
    check_prevent_destroy(plan)
    return plan


def run_apply(plan: Plan, options: Options, emit: EventSink) -> ApplyResult:
    """Pull what is missing (before changing anything), then carry out the plan."""
    api = connect()
    needed = {(c.after or {}).get("image") for c in plan.changes if c.action.value in ("+", "-/+")}
    for ref in (r for r in plan.images_to_pull if r in needed):
        address = next((c.address for c in plan.changes if (c.after or {}).get("image") == ref), None)
        emit(ApplyEvent(address or Address("containers", "?"), "start", "pull", message=ref))
        pull_image(api, ref, lambda line, a=address: emit(ApplyEvent(a, "info", "pull", message=line)))
    executor = Executor(providers_for(api), options.parallelism, emit, remove_volumes=options.remove_volumes)
    return executor.run(plan)


def outputs_of(plan: Plan) -> dict[str, Any]:
    return dict(plan.outputs)


Progress = Callable[[ApplyEvent], None]
