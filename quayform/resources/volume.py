"""Named volumes: desired/live forms, create and delete (delete only when explicitly asked)."""

from __future__ import annotations

from typing import Any, Mapping

import docker

from quayform import labels as L
from quayform.changes import Change
from quayform.docker_client import describe, engine_errors, is_not_found
from quayform.errors import EngineError
from quayform.resources.base import FieldPolicy, ProviderBase
from quayform.spec.models import Spec

FIELDS = FieldPolicy(replace_on=frozenset({"name", "driver", "driver_opts", "labels"}),
                     mappings=frozenset({"driver_opts", "labels"}))


def desired_volume(key: str, spec: Spec) -> dict[str, Any]:
    volume = spec.volumes[key]
    return {
        "name": spec.volume_name(key),
        "driver": volume.driver,
        "driver_opts": dict(volume.driver_opts),
        "labels": dict(volume.labels),
        "_address": f"volumes.{key}",
        "_stack": spec.stack,
    }


def live_volume(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": raw["Name"],
        "driver": raw.get("Driver") or "local",
        "driver_opts": dict(raw.get("Options") or {}),
        "labels": L.ours(raw.get("Labels")),
        "_prevent_destroy": (raw.get("Labels") or {}).get(L.PREVENT_DESTROY) == "true",
    }


class VolumeProvider(ProviderBase):
    kind = "volumes"
    fields = FIELDS

    def create(self, change: Change) -> None:
        desired = change.after or {}
        with engine_errors(f"creating volume {desired['name']}"):
            self.api.create_volume(
                name=desired["name"],
                driver=desired["driver"],
                driver_opts=desired["driver_opts"] or None,
                labels={**desired["labels"], L.STACK: desired["_stack"], L.ADDRESS: desired["_address"],
                        **L.lifecycle_labels(desired)},
            )

    def delete(self, change: Change) -> None:
        try:
            self.api.remove_volume(change.name)
        except docker.errors.APIError as exc:
            if is_not_found(exc):
                return
            raise EngineError(f"removing volume {change.name}: {describe(exc)}") from None
