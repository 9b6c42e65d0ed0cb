"""What the kinds that live on a Docker engine share: targets, ownership labels, reading labels back.

Ownership is recorded on the object itself: `io.quayform.stack`, `io.quayform.address`, and
`io.quayform.prevent-destroy` when the spec guards it. quayform's own bookkeeping objects
(the stack lock, import markers) are not resources and are skipped when reading.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping

from quayform import labels as L
from quayform.address import Address
from quayform.changes import Lifecycle, LiveObject
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
