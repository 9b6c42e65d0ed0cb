"""Volumes: named Docker volumes, where a stack keeps its data.

Never deleted implicitly: a volume no longer in the spec is kept (and the plan says how to
delete it), `destroy` keeps volumes unless `--volumes` is given, and a changed definition
is held until `--replace` asks for it. A container on a replaced volume is recreated too.
External volumes and imported ones: shared_object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from quayform import labels as L
from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.errors import EngineError
from quayform.kinds.base import Ctx, Rules, replace
from quayform.kinds.engine_kind import forget_import, import_markers, is_bookkeeping, lifecycle_of, live_object, \
    ownership_labels
from quayform.kinds.shared_object import SharedObjectKind


@dataclass(frozen=True)
class LiveVolume:
    """What apply needs of a volume beyond its form: the marker of one adopted with `quayform import`."""

    import_marker: str | None = None


class VolumeKind(SharedObjectKind):
    section = "volumes"
    noun = "volume"
    attributes = (replace("name"), replace("driver"), replace("driver_opts", mapping=True),
                  replace("labels", mapping=True))
    rules = Rules(on_replace="hold", hold_reason="its definition changed, but recreating it would delete the data "
                                                 "in it; run with --replace {address} to recreate it",
                  orphan="keep", destroy_flag="volumes",
                  destroy_keep_reason="named volumes keep their data; add --volumes to delete them")

    def orphan_reason(self, live: LiveObject) -> str:
        if "container" in live.form:
            return (f"an anonymous volume {live.form['container']} used at {live.form['target']}, mounted by no "
                    f"container now; the next container there reuses it (delete it with `docker volume rm "
                    f"{live.name}`, or destroy --volumes)")
        return (f"it is no longer in the spec but may hold data; delete it with `docker volume rm {live.name}` "
                "if it is no longer needed")

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        volume = spec.volumes[key]
        lifecycle = lifecycle_of(volume)
        form = {"name": self.name_of(spec, key), "driver": volume.driver, "driver_opts": dict(volume.driver_opts),
                "labels": dict(volume.labels)}
        labels = {**volume.labels, **ownership_labels(spec.stack, Address(self.section, key), lifecycle)}
        return Desired(form, labels, lifecycle, self.engine_of(spec, key))

    def list_live(self, engine: Any, stack: str, detail: bool) -> Iterable[Any]:
        loose = {v["Name"] for v in loose_anonymous(engine, stack)}
        volumes = list_volumes(engine)
        markers = import_markers(volumes, stack, self.section)
        return [(v, v["Name"] in loose, markers.get(v["Name"])) for v in volumes]

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        raw, loose, marker = raw
        labels = raw.get("Labels") or {}
        if loose:
            owner = labels.get(L.ADDRESS, "containers.?").partition(".")[2]
            form = {"name": raw["Name"], "container": labels.get(L.ADDRESS), "target": labels.get(L.PREFIX + "target")}
            return LiveObject(self.section, Address(self.section, f"{owner}@{form['target']}"), raw["Name"],
                              raw["Name"], form, None, stack, False, target)
        if is_bookkeeping(raw.get("Labels")):
            return None
        form = {"name": raw["Name"], "driver": raw.get("Driver") or "local",
                "driver_opts": dict(raw.get("Options") or {}), "labels": L.ours(raw.get("Labels"))}
        if marker is not None:  # adopted: the marker says what its labels cannot
            labels = {**labels, L.STACK: stack, L.ADDRESS: marker[0]}
        return live_object(self.section, stack, target, raw["Name"], raw["Name"], labels, form,
                           LiveVolume(marker[1]) if marker else None)

    def create(self, change: Change, engine: Any) -> None:
        form = change.after or {}
        with engine.errors(f"creating volume {form['name']}"):
            engine.api.create_volume(name=form["name"], driver=form["driver"], driver_opts=form["driver_opts"] or None,
                                     labels=change.payload)

    def delete(self, change: Change, engine: Any, release: frozenset[str]) -> None:
        try:
            engine.api.remove_volume(change.name)
        except engine.NotFound:
            pass
        except engine.Failure as exc:
            raise EngineError(f"removing volume {change.name}: {engine.describe(exc)}") from None
        forget_import(engine, getattr(change.live_payload, "import_marker", None))

    # -- quayform import ---------------------------------------------------------------------------
    def inspect(self, engine: Any, name: str) -> dict[str, Any] | None:
        try:
            raw = engine.api.inspect_volume(name)
        except engine.NotFound:
            return None
        return {**raw, "Id": raw["Name"]}  # a volume's name is its id

    def managed(self, engine: Any, stack: str, address: Address) -> str:
        found = (engine.api.volumes(filters={"label": [f"{L.STACK}={stack}", f"{L.ADDRESS}={address}"]})
                 or {}).get("Volumes") or []
        return found[0]["Name"] if found else ""


def list_containers(engine: Any) -> list[dict[str, Any]]:
    """Every container on the engine, listed once per run (the volume kind reads their mounts)."""
    with engine.errors("listing containers"):
        return engine.memo("containers", lambda: engine.api.containers(all=True)) or []


def loose_anonymous(engine: Any, stack: str) -> list[dict[str, Any]]:
    """The stack's anonymous volumes that no container mounts any more (their container was
    destroyed, or removed from the spec): kept, shown, reused by the next container at that place."""
    mounted = {m.get("Name") for c in list_containers(engine) for m in c.get("Mounts") or []}
    return [v for v in list_volumes(engine) if (v.get("Labels") or {}).get(L.MARKER) == "anonymous"
            and (v.get("Labels") or {}).get(L.STACK) == stack and v["Name"] not in mounted]


def list_volumes(engine: Any) -> list[dict[str, Any]]:
    """Every volume on the engine, listed once per run (containers read their import markers from it)."""
    with engine.errors("listing volumes"):
        return (engine.memo("volumes", engine.api.volumes) or {}).get("Volumes") or []


KIND = VolumeKind()
