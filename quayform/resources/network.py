"""User-defined networks: desired/live forms, create, and a delete that survives stale endpoints."""

from __future__ import annotations

import time
from typing import Any, Mapping

import docker

from quayform import labels as L
from quayform.changes import Change
from quayform.docker_client import describe, engine_errors, is_not_found
from quayform.errors import EngineError
from quayform.resources.base import FieldPolicy, ProviderBase
from quayform.spec.models import Spec

FIELDS = FieldPolicy(replace_on=frozenset({"name", "driver", "internal", "labels"}), mappings=frozenset({"labels"}))
DELETE_ATTEMPTS = 5


def desired_network(key: str, spec: Spec) -> dict[str, Any]:
    network = spec.networks[key]
    return {
        "name": spec.network_name(key),
        "driver": network.driver,
        "internal": network.internal,
        "labels": dict(network.labels),
        "_address": f"networks.{key}",
        "_stack": spec.stack,
    }


def live_network(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": raw["Name"],
        "driver": raw.get("Driver") or "bridge",
        "internal": bool(raw.get("Internal")),
        "labels": L.ours(raw.get("Labels")),
        "_prevent_destroy": (raw.get("Labels") or {}).get(L.PREVENT_DESTROY) == "true",
    }


class NetworkProvider(ProviderBase):
    kind = "networks"
    fields = FIELDS

    def create(self, change: Change) -> None:
        desired = change.after or {}
        with engine_errors(f"creating network {desired['name']}"):
            self.api.create_network(
                desired["name"],
                driver=desired["driver"],
                internal=desired["internal"],
                labels={**desired["labels"], L.STACK: desired["_stack"], L.ADDRESS: desired["_address"],
                        **L.lifecycle_labels(desired)},
                check_duplicate=True,
            )

    def delete(self, change: Change) -> None:
        """Remove the network; disconnect leftover endpoints and retry, since dockerd 20.10 can miscount them."""
        last = ""
        for attempt in range(DELETE_ATTEMPTS):
            try:
                self.api.remove_network(change.live_id or change.name)
                return
            except docker.errors.APIError as exc:
                if is_not_found(exc):
                    return
                last = describe(exc)
            self._disconnect_all(change.live_id or change.name)
            time.sleep(0.2 * (attempt + 1))
        raise EngineError(f"the engine refuses to remove network {change.name}: {last}. "
                          "If no container uses it, restarting dockerd clears the stale endpoint; "
                          "then run the same command again.")

    def _disconnect_all(self, network: str) -> None:
        try:
            containers = (self.api.inspect_network(network).get("Containers") or {}).keys()
        except docker.errors.APIError:
            return
        for container in containers:
            try:
                self.api.disconnect_container_from_network(container, network, force=True)
            except docker.errors.APIError:
                pass
