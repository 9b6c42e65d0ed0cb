"""One provider per kind of resource, behind one small interface (resources/base.py)."""

from __future__ import annotations

import docker

from quayform.resources.base import FieldPolicy, Provider
from quayform.resources.container import ContainerProvider
from quayform.resources.container_form import FIELDS as CONTAINER_FIELDS
from quayform.resources.network import FIELDS as NETWORK_FIELDS
from quayform.resources.network import NetworkProvider
from quayform.resources.pg_forms import DATABASE_FIELDS, USER_FIELDS
from quayform.resources.pg_objects import DatabaseProvider, UserProvider
from quayform.resources.volume import FIELDS as VOLUME_FIELDS
from quayform.resources.volume import VolumeProvider

POLICIES: dict[str, FieldPolicy] = {
    "containers": CONTAINER_FIELDS,
    "volumes": VOLUME_FIELDS,
    "networks": NETWORK_FIELDS,
    "users": USER_FIELDS,
    "databases": DATABASE_FIELDS,
}


def providers_for(api: docker.APIClient) -> dict[str, Provider]:
    """A provider per kind, sharing one API client."""
    return {
        "containers": ContainerProvider(api),
        "volumes": VolumeProvider(api),
        "networks": NetworkProvider(api),
        "users": UserProvider(api),
        "databases": DatabaseProvider(api),
    }
