"""The spec rules of containers that span resources: references, host ports, mount paths."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

from quayform.spec.yaml_loader import format_path

Report = Callable[[tuple, str], None]


def check_containers(spec: Any, report: Report) -> None:
    _references(spec, report)
    _port_clashes(spec, report)
    _mount_clashes(spec, report)
    _create_before_destroy(spec, report)


def _references(spec: Any, report: Report) -> None:
    for key, container in spec.containers.items():
        for i, dep in enumerate(container.depends_on):
            if dep == key:
                report(("containers", key, "depends_on", i), f"containers.{key} cannot depend on itself")
            elif dep not in spec.containers:
                report(("containers", key, "depends_on", i), f"depends on containers.{dep}, which is not in the spec")
        for i, net in enumerate(container.networks):
            if net not in spec.networks:  # a list item by its position, a mapping entry by its key
                report(("containers", key, "networks", net if isinstance(container.networks, dict) else i),
                       f"uses networks.{net}, which is not in the spec")
        for i, mount in enumerate(container.volumes):
            if mount.kind == "volume" and mount.source not in spec.volumes:
                report(("containers", key, "volumes", i),
                       f"mounts volumes.{mount.source}, which is not in the spec (declare it under volumes:)")


def _port_clashes(spec: Any, report: Report) -> None:
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


def _mount_clashes(spec: Any, report: Report) -> None:
    for key, container in spec.containers.items():
        seen: dict[str, str] = {}
        places = [(("containers", key, "volumes", i), m.target) for i, m in enumerate(container.volumes)]
        places += [(("containers", key, "files", path), path) for path in container.files]
        for path, target in places:
            if target in seen:
                report(path, f"{target} is already mounted or written by {seen[target]}")
            else:
                seen[target] = format_path(path)


def _create_before_destroy(spec: Any, report: Report) -> None:
    for key, container in spec.containers.items():
        if not container.lifecycle.create_before_destroy:
            continue
        fixed = [b for b in container.port_bindings if b.host_port]
        if fixed:
            report(("containers", key, "lifecycle", "create_before_destroy"),
                   f"cannot work: the new container could not publish host port {fixed[0].host_port} "
                   "while the old one holds it (publish a random port, e.g. \"127.0.0.1::80\", or drop the flag)")


def host_ports_in_use(desired: Any, objects: Any, stack: str) -> list[str]:
    """Host ports the spec publishes that a container of no part of this stack already holds."""
    held: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)  # (port, proto) -> [(ip, name)]
    for live in objects:
        if live.kind != "containers" or live.owner == stack or not live.form.get("running"):
            continue
        for published in live.form.get("published") or []:
            where, _, proto = published.rpartition("/")
            ip, _, port = where.rpartition(":")
            held[(port, proto)].append((ip, live.name))
    problems = []
    for address, want in sorted(desired.items()):
        if address.kind != "containers":
            continue
        for binding in getattr(want.payload, "ports", ()):
            for ip, name in held.get((binding.host_port, binding.protocol), []) if binding.host_port else []:
                if _overlap(ip, binding.host_ip):
                    problems.append(f"{address}: host port {binding.host_port}/{binding.protocol} is already "
                                    f"published by container {name}, which is not part of stack {stack!r} "
                                    "(stop it, or publish another port)")
                    break
    return problems


def _overlap(one: str, other: str) -> bool:
    wildcard = ("", "0.0.0.0", "::")
    return one in wildcard or other in wildcard or one == other
