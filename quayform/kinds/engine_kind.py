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
from quayform.targets import DEFAULT_ENGINE, EngineTarget


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
        return DEFAULT_ENGINE

    def targets(self, spec: Any, ctx: Ctx) -> Iterable[Hashable]:
        return [DEFAULT_ENGINE]

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
