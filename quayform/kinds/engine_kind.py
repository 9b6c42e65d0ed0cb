"""What the kinds that live on a Docker engine share: targets, ownership labels, reading labels back.

Ownership is recorded on the object itself: `io.quayform.stack`, `io.quayform.address`, and
`io.quayform.prevent-destroy` when the spec guards it. quayform's own bookkeeping objects
(the stack lock, import markers) are not resources and are skipped when reading.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable, Mapping

from quayform import labels as L
from quayform.address import Address
from quayform.changes import Lifecycle, LiveObject
from quayform.errors import EngineError, PlanError
from quayform.kinds.base import Ctx, Kind
from quayform.targets import EngineTarget, engine_target, engine_targets


def lifecycle_of(item: Any) -> Lifecycle:
    """The spec's lifecycle block as the value every stage reads."""
    block = item.lifecycle
    return Lifecycle(block.prevent_destroy, tuple(block.ignore_changes), block.create_before_destroy)


def ownership_labels(stack: str, address: Address, lifecycle: Lifecycle) -> dict[str, str]:
    """The labels that make an object the stack's, and keep its guard after it leaves the spec."""
    labels = {L.STACK: stack, L.ADDRESS: str(address)}
    if lifecycle.prevent_destroy:
        labels[L.PREVENT_DESTROY] = "true"
    return labels


def is_bookkeeping(labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return bool(labels.get(L.PREFIX + "lock") or labels.get(L.MARKER))


def live_object(kind: str, stack: str, target: Hashable, name: str, oid: str, labels: Mapping[str, str] | None,
                form: dict[str, Any], payload: Any = None) -> LiveObject:
    """A read object, addressed from its labels when it is the stack's."""
    labels = labels or {}
    owner = labels.get(L.STACK) or None
    address = None
    if owner == stack:
        try:
            address = Address.parse(labels.get(L.ADDRESS, ""))
        except ValueError:
            address = None
        if address is None or address.kind != kind:
            address = Address(kind, f"?{name}")
    return LiveObject(kind, address, name, oid, form, payload, owner,
                      labels.get(L.PREVENT_DESTROY) == "true", target)


class EngineKind(Kind):
    """A kind whose objects are Docker objects on an engine (networks, volumes, containers)."""

    def engine_of(self, spec: Any, key: str) -> EngineTarget:
        return engine_target(spec, self.item(spec, key).engine)

    def targets(self, spec: Any, ctx: Ctx) -> Iterable[Hashable]:
        return engine_targets(spec)

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return self.engine_of(spec, key)


# -- adoption (quayform import): Docker labels cannot be added to an existing object, so a marker volume
# per adopted object records it: io.quayform.marker=import, the stack, the address and the object's id.

def import_markers(volumes: Iterable[dict[str, Any]], stack: str, section: str | None = None) -> dict[str, tuple[str, str]]:
    """Objects adopted with `quayform import` (of one kind, with `section`): object id -> (address, marker volume)."""
    markers = {}
    for volume in volumes:
        labels = volume.get("Labels") or {}
        if labels.get(L.MARKER) == "import" and labels.get(L.STACK) == stack and labels.get(L.IMPORT_ID) and \
                (section is None or labels.get(L.ADDRESS, "").partition(".")[0] == section):
            markers[labels[L.IMPORT_ID]] = (labels.get(L.ADDRESS, ""), volume["Name"])
    return markers


def claimed_by(volumes: Iterable[dict[str, Any]], object_id: str) -> tuple[str, str] | None:
    """(stack, address) of the import marker of any stack that names the object `object_id`."""
    for volume in volumes:
        labels = volume.get("Labels") or {}
        if labels.get(L.MARKER) == "import" and labels.get(L.IMPORT_ID) == object_id:
            return labels.get(L.STACK, "?"), labels.get(L.ADDRESS, "?")
    return None


def record_import(engine: Any, stack: str, address: Address, object_id: str, marker: str,
                  exists: Callable[[str], bool], refusal: str) -> None:
    """Write the marker that makes `object_id` the stack's `address`. A marker left by an earlier import
    whose object is gone blocks nothing and is replaced; one whose object still exists refuses (`refusal`)."""
    api = engine.api
    for volume in (api.volumes(filters={"name": marker}) or {}).get("Volumes") or []:
        if volume["Name"] != marker:
            continue
        pending = (volume.get("Labels") or {}).get(L.IMPORT_ID, "")
        if pending and exists(pending):
            raise PlanError(refusal)
        api.remove_volume(marker)
    api.create_volume(name=marker, labels={L.STACK: stack, L.MARKER: "import", L.ADDRESS: str(address),
                                           L.IMPORT_ID: object_id})


def forget_import(engine: Any, marker: str | None) -> None:
    """Remove an adopted object's marker once the object itself is gone (deleted, or replaced by a labelled one)."""
    if not marker:
        return
    try:
        engine.api.remove_volume(marker)
    except engine.NotFound:
        return
    except engine.Failure as exc:
        raise EngineError(f"removing import marker {marker}: {engine.describe(exc)}") from None


# -- the engines section: what lives where ------------------------------------------------------

ENGINE_SECTIONS = ("networks", "volumes", "containers")


def check_engines(spec: Any, report: Any) -> None:
    """Each object's engine exists; a container's networks, volumes and shared network are on its
    engine; TLS files are there; no reference crosses engines (Docker DNS stays on one engine)."""
    import os

    for name, declared in spec.engines.items():
        for field in ("ca", "cert", "key") if declared.tls else ():
            given = getattr(declared.tls, field)
            if not os.path.isfile(os.path.join(spec.base_dir, given)):
                report(("engines", name, "tls", field), f"{given}: no such file next to the spec")
    known = {"default", *spec.engines}
    for section in ENGINE_SECTIONS:
        for key, item in getattr(spec, section).items():
            if item.engine not in known:
                report((section, key, "engine"), f"engine {item.engine!r} is not in the engines section (one of "
                                                 f"{', '.join(sorted(known))})")
    for key, container in spec.containers.items():
        _same_engine(spec, key, container, report)
    _cross_engine_references(spec, report)


def _same_engine(spec: Any, key: str, container: Any, report: Any) -> None:
    here = container.engine
    uses = [(("networks", net if isinstance(container.networks, dict) else i), "networks", net)
            for i, net in enumerate(container.networks)]
    uses += [(("volumes", i), "volumes", m.source) for i, m in enumerate(container.volumes) if m.kind == "volume"]
    if (container.network_mode or "").startswith("container:"):
        uses.append((("network_mode",), "containers", container.network_mode.partition(":")[2]))
    for path, section, other in uses:
        item = getattr(spec, section).get(other)
        if item is not None and item.engine != here:
            report(("containers", key, *path), f"{section}.{other} is on engine {item.engine}, but containers.{key} "
                                               f"runs on engine {here}: a container can only use what its own engine "
                                               f"has (set engine: {here} on {section}.{other}, or move the container)")


def _cross_engine_references(spec: Any, report: Any) -> None:
    for dependency, dependent in spec.ref_edges:
        (dep_section, _, dep_key), (own_section, _, own_key) = dependency.partition("."), dependent.partition(".")
        if dep_section not in ENGINE_SECTIONS or own_section not in ENGINE_SECTIONS:
            continue
        dep, own = getattr(spec, dep_section).get(dep_key), getattr(spec, own_section).get(own_key)
        if dep is None or own is None or dep.engine == own.engine:
            continue
        if spec.ref_attrs(dependency, dependent) <= REACHABLE_ATTRS:
            continue  # ${containers.db.host}:${containers.db.port}: reached through the engine's host
        hint = (f"use ${{{dependency}.host}}:${{{dependency}.port}} (its engine's address and its published port)"
                if dep_section == "containers" else "it cannot be reached from there")
        report(spec.ref_path(dependency, dependent),
               f"it refers to {dependency}, which is on engine {dep.engine}, while {dependent} is on engine "
               f"{own.engine}: a container name resolves over Docker DNS only on its own engine's networks; {hint}")


REACHABLE_ATTRS = frozenset({"host", "port"})


def engine_address(raw_engines: Any, engine: str) -> str:
    """Where containers on other engines reach what `engine` publishes: its `address`, or the host of a
    tcp:// or ssh:// address. LookupError when the spec does not say (a unix socket has no host)."""
    declared = raw_engines.get(engine) if isinstance(raw_engines, dict) else None
    declared = declared if isinstance(declared, dict) else {}
    if isinstance(declared.get("address"), str):
        return declared["address"]
    host = str(declared.get("host") or "")
    scheme, _, rest = host.partition("://")
    if scheme in ("tcp", "ssh") and rest:
        return rest.rstrip("/").rpartition("@")[2].rpartition(":")[0] or rest.rstrip("/").rpartition("@")[2]
    raise LookupError(f"engine {engine} has no address that containers on other engines reach it at: set "
                      f"engines.{engine}.address (the host's name or IP address)")
