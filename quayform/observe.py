"""Read the live state of one stack from the engine, in bulk.

One list call per kind (every object, so names taken by objects quayform does not
manage are seen too), then container and image inspects in parallel. The raw answers
are normalised by the providers' pure functions.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import docker

from quayform import labels as L
from quayform.address import Address
from quayform.docker_client import engine_errors
from quayform.resources.base import ImageInfo, LiveObject
from quayform.resources.container_form import listed_container, live_container
from quayform.resources.image import inspect_image
from quayform.resources.network import live_network
from quayform.resources.volume import live_volume

INSPECT_THREADS = 8


@dataclass
class LiveState:
    """Everything plan needs to know about the engine for one stack."""

    objects: dict[Address, LiveObject] = field(default_factory=dict)
    images: dict[str, ImageInfo | None] = field(default_factory=dict)
    # Names taken by objects of other stacks or of no stack: kind -> {name: id}.
    foreign: dict[str, dict[str, str]] = field(default_factory=dict)


def _address(kind: str, labels: dict[str, str], name: str) -> Address:
    try:
        address = Address.parse(labels.get(L.ADDRESS, ""))
        if address.kind == kind:
            return address
    except ValueError:
        pass
    return Address(kind, f"?{name}")


def _sort(state: LiveState, kind: str, stack: str, items: Iterable[tuple[str, str, dict[str, str]]]) -> list[tuple[str, str, Address]]:
    """Split (name, id, labels) into this stack's objects and foreign names."""
    mine = []
    state.foreign[kind] = {}
    for name, oid, labels in items:
        if (labels or {}).get(L.PREFIX + "lock") or (labels or {}).get(L.PREFIX + "marker"):
            continue  # quayform's own bookkeeping objects, not resources
        if (labels or {}).get(L.STACK) == stack:
            mine.append((name, oid, _address(kind, labels or {}, name)))
        else:
            state.foreign[kind][name] = oid
    return mine


def _import_markers(volumes: Iterable[dict[str, Any]], stack: str) -> dict[str, tuple[str, str]]:
    """Containers adopted with `quayform import`: container id -> (address, marker volume)."""
    markers = {}
    for volume in volumes:
        labels = volume.get("Labels") or {}
        if labels.get(L.MARKER) == "import" and labels.get(L.STACK) == stack and labels.get(L.IMPORT_ID):
            markers[labels[L.IMPORT_ID]] = (labels.get(L.ADDRESS, ""), volume["Name"])
    return markers


def _adopted_labels(container: dict[str, Any], imports: dict[str, tuple[str, str]], stack: str) -> dict[str, str]:
    labels = dict(container.get("Labels") or {})
    if container["Id"] in imports:
        labels.update({L.STACK: stack, L.ADDRESS: imports[container["Id"]][0]})
    return labels


def _add(state: LiveState, address: Address, name: str, oid: str, form: dict[str, Any], prefer: str | None) -> None:
    """Record one object; a second object claiming the same address becomes an orphan to delete."""
    existing = state.objects.get(address)
    if existing is not None:
        if prefer is not None and name == prefer:
            state.objects[Address(address.kind, f"{address.key}#{existing.id[:12]}")] = existing
        else:
            address = Address(address.kind, f"{address.key}#{oid[:12]}")
    state.objects[address] = LiveObject(address, name, oid, form)


def observe_stack(api: docker.APIClient, stack: str, image_refs: Iterable[str],
                  expected_names: Callable[[Address], str | None] = lambda a: None,
                  inspect: bool = True) -> LiveState:
    """Read every container, volume and network of `stack`, and the spec's images.

    With inspect=False (destroy) containers are known from the list call alone: enough to
    delete them in order, and N fewer requests.
    """
    state = LiveState()
    refs = sorted(set(image_refs))
    with engine_errors("reading the stack from the Docker engine"), ThreadPoolExecutor(INSPECT_THREADS) as pool:
        containers_f = pool.submit(api.containers, all=True)
        volumes_f = pool.submit(api.volumes)
        networks_f = pool.submit(api.networks)
        images_f = {ref: pool.submit(inspect_image, api, ref) for ref in refs}
        volumes = {v["Name"]: v for v in (volumes_f.result() or {}).get("Volumes") or []}
        imports = _import_markers(volumes.values(), stack)
        containers = _sort(state, "containers", stack,
                           ((c["Names"][0].lstrip("/") if c.get("Names") else c["Id"][:12], c["Id"],
                             _adopted_labels(c, imports, stack)) for c in containers_f.result()))
        listed = {c["Id"]: c for c in containers_f.result()}
        inspects = [pool.submit(api.inspect_container, cid) if inspect else None for _, cid, _ in containers]
        for (name, oid, address), future in zip(containers, inspects):
            form = live_container(future.result()) if future is not None else listed_container(listed[oid])
            if oid in imports:
                form["_import_marker"] = imports[oid][1]
            _add(state, address, name, oid, form, expected_names(address))
        for name, oid, address in _sort(state, "volumes", stack, ((n, n, v.get("Labels")) for n, v in volumes.items())):
            _add(state, address, name, oid, live_volume(volumes[oid]), expected_names(address))
        networks = {n["Id"]: n for n in networks_f.result() or []}
        for name, oid, address in _sort(state, "networks", stack, ((n["Name"], i, n.get("Labels")) for i, n in networks.items())):
            _add(state, address, name, oid, live_network(networks[oid]), expected_names(address))
        state.images = {ref: future.result() for ref, future in images_f.items()}
    return state



@dataclass
class PgServerState:
    """One server's catalog read, or why it could not be read."""

    readable: bool
    reason: str = ""


def observe_postgres(api: docker.APIClient, stack: str, servers: dict[str, Any], running: set[str],
                     desired: dict[Address, dict[str, Any]]) -> tuple[dict[Address, LiveObject], dict[str, PgServerState]]:
    """Read each running server's catalog (one psql run per server) into users and databases.

    Objects are matched by their COMMENT marker, or adopted by name when unmarked; a marked
    object whose name no longer matches the spec becomes an orphan under `key#oldname`.
    """
    from quayform.errors import PlanError
    from quayform.resources.pg_forms import live_database, live_user
    from quayform.resources.postgres import MARKER, PgSession

    objects: dict[Address, LiveObject] = {}
    states: dict[str, PgServerState] = {}
    prefix = f"{MARKER}{stack}:"
    for key, server in servers.items():
        if key not in running:
            states[key] = PgServerState(False, f"its server container {server.container} is not running")
            continue
        wanted = {a: d for a, d in desired.items() if a.kind in ("users", "databases") and d["_server"].key == key}
        names = {(a.kind, d["name"]): a for a, d in wanted.items()}
        catalog = PgSession(api, server).catalog(d["name"] for a, d in wanted.items() if a.kind == "databases")
        databases = catalog.get("databases") or []
        for kind, rows in (("users", catalog.get("roles") or []), ("databases", databases)):
            for raw in rows:
                comment = raw.get("comment") or ""
                if comment.startswith(prefix):
                    address = Address.parse(comment[len(prefix):].split(":")[0])
                elif (kind, raw["name"]) in names:
                    address = names[(kind, raw["name"])]
                    if comment.startswith(MARKER):
                        raise PlanError(f"{address}: {kind[:-1]} {raw['name']!r} on postgres.{key} is managed by "
                                        f"another stack ({comment[len(MARKER):].split(':')[0]})")
                else:
                    continue
                if address in wanted and wanted[address]["name"] != raw["name"]:
                    address = Address(kind, f"{address.key}#{raw['name']}")
                if kind == "users":
                    form = live_user(raw, databases, wanted.get(address))
                    form["_databases"] = [d["name"] for d in databases]
                else:
                    form = live_database(raw, catalog["extensions"].get(raw["name"]))
                form["_server"] = server
                form["_prevent_destroy"] = comment.endswith(":prevent_destroy")
                objects[address] = LiveObject(address, raw["name"], raw["name"], form)
        states[key] = PgServerState(True)
    return objects, states
