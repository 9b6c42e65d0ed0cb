"""Volumes: named Docker volumes, where a stack keeps its data.

Never deleted implicitly: a volume no longer in the spec is kept (and the plan says how to
delete it), `destroy` keeps volumes unless `--volumes` is given, and a changed definition
is held until `--replace` asks for it. A container on a replaced volume is recreated too.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from quayform import labels as L
from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.errors import EngineError
from quayform.kinds.base import Ctx, Rules, replace
from quayform.kinds.engine_kind import EngineKind, is_bookkeeping, lifecycle_of, live_object, ownership_labels


class VolumeKind(EngineKind):
    section = "volumes"
    noun = "volume"
    attributes = (replace("name"), replace("driver"), replace("driver_opts", mapping=True),
                  replace("labels", mapping=True))
    rules = Rules(on_replace="hold", hold_reason="its definition changed, but recreating it would delete the data "
                                                 "in it; run with --replace {address} to recreate it",
                  orphan="keep", destroy_flag="volumes",
                  destroy_keep_reason="named volumes keep their data; add --volumes to delete them")

    def orphan_reason(self, live: LiveObject) -> str:
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
        return list_volumes(engine)

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        if is_bookkeeping(raw.get("Labels")):
            return None
        form = {"name": raw["Name"], "driver": raw.get("Driver") or "local",
                "driver_opts": dict(raw.get("Options") or {}), "labels": L.ours(raw.get("Labels"))}
        return live_object(self.section, stack, target, raw["Name"], raw["Name"], raw.get("Labels"), form)

    def create(self, change: Change, engine: Any) -> None:
        form = change.after or {}
        with engine.errors(f"creating volume {form['name']}"):
            engine.api.create_volume(name=form["name"], driver=form["driver"], driver_opts=form["driver_opts"] or None,
                                     labels=change.payload)

    def delete(self, change: Change, engine: Any, release: frozenset[str]) -> None:
        try:
            engine.api.remove_volume(change.name)
        except engine.NotFound:
            return
        except engine.Failure as exc:
            raise EngineError(f"removing volume {change.name}: {engine.describe(exc)}") from None


def list_volumes(engine: Any) -> list[dict[str, Any]]:
    """Every volume on the engine, listed once per run (containers read their import markers from it)."""
    with engine.errors("listing volumes"):
        return (engine.memo("volumes", engine.api.volumes) or {}).get("Volumes") or []


KIND = VolumeKind()
