"""Checks across a validated spec: references between resources and clashes found before anything runs."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

from quayform.errors import SpecProblem
from quayform.spec.models import Spec
from quayform.spec.yaml_loader import LoadedYaml, Path, format_path

Report = Callable[[Path, str], None]


def _references(spec: Spec, report: Report) -> None:
    for key, container in spec.containers.items():
        for i, dep in enumerate(container.depends_on):
            if dep == key:
                report(("containers", key, "depends_on", i), f"containers.{key} cannot depend on itself")
            elif dep not in spec.containers:
                report(("containers", key, "depends_on", i), f"depends on containers.{dep}, which is not in the spec")
        for i, net in enumerate(container.networks):
            if net not in spec.networks:
                report(("containers", key, "networks", i), f"uses networks.{net}, which is not in the spec")
        for i, mount in enumerate(container.volumes):
            if mount.kind == "volume" and mount.source not in spec.volumes:
                report(("containers", key, "volumes", i),
                       f"mounts volumes.{mount.source}, which is not in the spec (declare it under volumes:)")


def _postgres_references(spec: Spec, report: Report) -> None:
    for key, server in spec.postgres.items():
        if server.container not in spec.containers:
            report(("postgres", key, "container"), f"runs in containers.{server.container}, which is not in the spec")
    for section in ("databases", "users"):
        for key, item in getattr(spec, section).items():
            if item.server not in spec.postgres:
                report((section, key, "server"), f"names postgres.{item.server}, which is not in the spec")
    for key, database in spec.databases.items():
        owner = spec.users.get(database.owner) if database.owner else None
        if database.owner and owner is None:
            report(("databases", key, "owner"), f"is owned by users.{database.owner}, which is not in the spec")
        elif owner is not None and owner.server != database.server:
            report(("databases", key, "owner"), f"users.{database.owner} is on server {owner.server!r}, "
                                                f"not {database.server!r}")
    for key, user in spec.users.items():
        for target in user.grants:
            database = spec.databases.get(target)
            if database is None:
                report(("users", key, "grants", target), f"grants on databases.{target}, which is not in the spec")
            elif database.server != user.server:
                report(("users", key, "grants", target), f"databases.{target} is on server {database.server!r}, "
                                                         f"not {user.server!r}")


def _name_clashes(spec: Spec, report: Report) -> None:
    for section, namer in (("containers", spec.container_name), ("volumes", spec.volume_name),
                           ("networks", spec.network_name)):
        owners: dict[str, str] = {}
        for key in getattr(spec, section):
            name = namer(key)
            if name in owners:
                report((section, key), f"{section}.{key} and {section}.{owners[name]} both use the name {name!r}")
            else:
                owners[name] = key
    for section, namer in (("databases", spec.database_name), ("users", spec.user_name)):
        seen: dict[tuple[str, str], str] = {}
        for key, item in getattr(spec, section).items():
            name = (item.server, namer(key))
            if name in seen:
                report((section, key), f"{section}.{key} and {section}.{seen[name]} both use the name {name[1]!r} "
                                       f"on server {item.server!r}")
            else:
                seen[name] = key


def _port_clashes(spec: Spec, report: Report) -> None:
    published: dict[tuple[str, str], list[tuple[str, str, int]]] = defaultdict(list)
    for key, container in spec.containers.items():
        for i, group in enumerate(container.ports):
            for binding in group:
                if binding.host_port:
                    published[(binding.host_port, binding.protocol)].append((binding.host_ip, key, i))
    for (port, proto), users in published.items():
        for n, (ip, key, i) in enumerate(users):
            for other_ip, other_key, other_i in users[:n]:
                if ip == other_ip or not ip or not other_ip or ip == "0.0.0.0" or other_ip == "0.0.0.0":
                    first = f"containers.{other_key}.ports[{other_i}]"
                    report(("containers", key, "ports", i), f"host port {port}/{proto} is already published by {first}")
                    break


def _mount_clashes(spec: Spec, report: Report) -> None:
    for key, container in spec.containers.items():
        seen: dict[str, str] = {}
        places = [(("containers", key, "volumes", i), m.target) for i, m in enumerate(container.volumes)]
        places += [(("containers", key, "files", path), path) for path in container.files]
        for path, target in places:
            if target in seen:
                report(path, f"{target} is already mounted or written by {seen[target]}")
            else:
                seen[target] = format_path(path)


def _lifecycles(spec: Spec, report: Report) -> None:
    for section in ("networks", "volumes", "users", "databases"):
        for key, item in getattr(spec, section).items():
            if item.lifecycle.create_before_destroy:
                report((section, key, "lifecycle", "create_before_destroy"),
                       "create_before_destroy works for containers only")
    for key, container in spec.containers.items():
        if not container.lifecycle.create_before_destroy:
            continue
        fixed = [b for b in container.port_bindings if b.host_port]
        if fixed:
            report(("containers", key, "lifecycle", "create_before_destroy"),
                   f"cannot work: the new container could not publish host port {fixed[0].host_port} "
                   "while the old one holds it (publish a random port, e.g. \"127.0.0.1::80\", or drop the flag)")


def check_spec(spec: Spec, loaded: LoadedYaml, file: str) -> list[SpecProblem]:
    """Every cross-resource problem in `spec`, located in the YAML."""
    problems: list[SpecProblem] = []

    def report(path: Path, message: str) -> None:
        problems.append(SpecProblem(file, loaded.line_of(path), format_path(path), message))

    for check in (_references, _postgres_references, _name_clashes, _port_clashes, _mount_clashes,
                  _lifecycles):
        check(spec, report)
    return problems
