"""Networks: user-defined Docker networks of a stack.

A changed definition is held until `--replace` asks for it (recreating a network cuts off
every container on it); a container on a replaced network is recreated with it. Delete
survives the stale endpoints dockerd 20.10 can leave behind.
"""

from __future__ import annotations

import time
from typing import Any, Hashable, Iterable

from quayform import labels as L
from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.errors import EngineError
from quayform.kinds.base import Ctx, Rules, replace
from quayform.kinds.engine_kind import EngineKind, is_bookkeeping, lifecycle_of, live_object, ownership_labels

DELETE_ATTEMPTS = 5


class NetworkKind(EngineKind):
    section = "networks"
    noun = "network"
    attributes = (replace("name"), replace("driver"), replace("internal"), replace("labels", mapping=True))
    rules = Rules(on_replace="hold", hold_reason="its definition changed, but recreating it would disconnect every "
                                                 "container on it; run with --replace {address} to recreate it",
                  destroy_keep_reason="")

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        network = spec.networks[key]
        lifecycle = lifecycle_of(network)
        form = {"name": self.name_of(spec, key), "driver": network.driver, "internal": network.internal,
                "labels": dict(network.labels)}
        labels = {**network.labels, **ownership_labels(spec.stack, Address(self.section, key), lifecycle)}
        return Desired(form, labels, lifecycle, self.engine_of(spec, key))

    def list_live(self, engine: Any, stack: str, detail: bool) -> Iterable[Any]:
        with engine.errors("listing networks"):
            return engine.memo("networks", engine.api.networks) or []

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        if is_bookkeeping(raw.get("Labels")):
            return None
        form = {"name": raw["Name"], "driver": raw.get("Driver") or "bridge", "internal": bool(raw.get("Internal")),
                "labels": L.ours(raw.get("Labels"))}
        return live_object(self.section, stack, target, raw["Name"], raw["Id"], raw.get("Labels"), form)

    def create(self, change: Change, engine: Any) -> None:
        form = change.after or {}
        with engine.errors(f"creating network {form['name']}"):
            engine.api.create_network(form["name"], driver=form["driver"], internal=form["internal"],
                                      labels=change.payload, check_duplicate=True)

    def delete(self, change: Change, engine: Any, release: frozenset[str]) -> None:
        """Remove the network; disconnect leftover endpoints and retry, since dockerd 20.10 can miscount them."""
        network = change.live_id or change.name
        last = ""
        for attempt in range(DELETE_ATTEMPTS):
            try:
                engine.api.remove_network(network)
                return
            except engine.NotFound:
                return
            except engine.Failure as exc:
                last = engine.describe(exc)
            self._disconnect_all(engine, network)
            time.sleep(0.2 * (attempt + 1))
        raise EngineError(f"the engine refuses to remove network {change.name}: {last}. "
                          "If no container uses it, restarting dockerd clears the stale endpoint; "
                          "then run the same command again.")

    @staticmethod
    def _disconnect_all(engine: Any, network: str) -> None:
        try:
            containers = (engine.api.inspect_network(network).get("Containers") or {}).keys()
        except engine.Failure:
            return
        for container in containers:
            try:
                engine.api.disconnect_container_from_network(container, network, force=True)
            except engine.Failure:
                pass


KIND = NetworkKind()
