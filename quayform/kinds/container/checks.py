"""The spec rules of containers that span resources: references, host ports, mount paths, network modes,
memory limits, fixed addresses; and, at plan time, what the engine's state forbids."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any, Callable

from quayform.address import Address
from quayform.changes import UNKNOWN
from quayform.spec.yaml_loader import format_path

Report = Callable[[tuple, str], None]


def check_containers(spec: Any, report: Report) -> None:
    _references(spec, report)
    _port_clashes(spec, report)
    _mount_clashes(spec, report)
    _create_before_destroy(spec, report)
    _network_modes(spec, report)
    _memory(spec, report)
    _fixed_addresses(spec, report)
    _one_shots(spec, report)
    _conditions(spec, report)


def _references(spec: Any, report: Report) -> None:
    for key, container in spec.containers.items():
        for dep, at, dependency in container.dependencies:
            if dep == key:
                report(("containers", key, "depends_on", at), f"containers.{key} cannot depend on itself")
            elif dep not in spec.containers and dependency.required:
                report(("containers", key, "depends_on", at), f"depends on containers.{dep}, which is not in the spec")
        for i, net in enumerate(container.networks):
            if net not in spec.networks:  # a list item by its position, a mapping entry by its key
                report(("containers", key, "networks", net if isinstance(container.networks, dict) else i),
                       f"uses networks.{net}, which is not in the spec")
        for i, mount in enumerate(container.volumes):
            if mount.kind == "volume" and mount.source not in spec.volumes:
                report(("containers", key, "volumes", i),
                       f"mounts volumes.{mount.source}, which is not in the spec (declare it under volumes:)")


def reachable_port(key: str, ports: Any) -> str:
    """The first host port containers.KEY publishes on an address other engines can reach (not loopback)."""
    from quayform.spec.values import parse_ports

    for item in ports if isinstance(ports, list) else []:
        try:
            bindings = parse_ports(item)
        except ValueError:
            continue  # the model reports it
        for binding in bindings:
            if binding.host_port and not binding.host_ip.startswith("127.") and binding.host_ip != "::1":
                return str(binding.host_port)
    raise LookupError(f"${{containers.{key}.port}}: containers.{key} publishes no port beyond 127.0.0.1 (publish "
                      "one on an address the other engines reach, e.g. \"10.0.0.5:5432:5432\")")


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
        places += [(("containers", key, "tmpfs", target), target) for target in container.tmpfs or {}]
        places += [(("containers", key, "files", path), path) for path in container.files]
        for path, target in places:
            if target in seen:
                report(path, f"{target} is already mounted or written by {seen[target]}")
            else:
                seen[target] = format_path(path)
        _files_hidden(key, container, report)


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def _files_hidden(key: str, container: Any, report: Report) -> None:
    """A file written before start lands under a tmpfs that start then mounts over it, and cannot be
    written at all into a read-only root filesystem (only into a volume)."""
    mounts = [m.target for m in container.volumes]
    for path in container.files:
        tmpfs = next((t for t in container.tmpfs or {} if _under(path, t)), None)
        if tmpfs:
            report(("containers", key, "files", path), f"would be hidden by the tmpfs mounted at {tmpfs} when the "
                                                       "container starts (write it elsewhere, or mount a volume)")
        elif container.read_only and not any(_under(path, m) for m in mounts):
            report(("containers", key, "files", path), "cannot be written: the container's root filesystem is "
                                                       "read_only (write it under one of its volumes)")


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


# What a network mode other than the container's own networks rules out (Docker refuses these).
_SHARED_NETWORK_KEYS = ("hostname", "domainname", "dns", "dns_search", "dns_opt", "extra_hosts", "expose")


def _network_modes(spec: Any, report: Report) -> None:
    for key, container in spec.containers.items():
        mode = container.network_mode
        if mode is None:
            continue
        at = ("containers", key, "network_mode")
        if container.networks:
            report(at, f"network_mode {mode} and networks exclude each other: give one of them")
        if mode.startswith("container:"):
            _shares_network(spec, key, container, mode.partition(":")[2], report)
        elif mode != "bridge" and container.ports:
            why = "it uses the host's ports directly" if mode == "host" else "it has no network"
            report(("containers", key, "ports"), f"cannot publish ports with network_mode {mode}: {why}")
        if mode == "host":
            for name in container.sysctls or {}:
                if name.startswith("net."):
                    report(("containers", key, "sysctls", name), f"{name} cannot be set with network_mode host: "
                                                                 "it would change the host's network stack")


def _shares_network(spec: Any, key: str, container: Any, other: str, report: Report) -> None:
    at = ("containers", key, "network_mode")
    if other == key:
        report(at, "a container cannot share its own network")
    elif other not in spec.containers:
        report(at, f"shares the network of containers.{other}, which is not in the spec")
    if container.ports:
        report(("containers", key, "ports"), f"cannot publish ports on a shared network: publish them on "
                                             f"containers.{other}")
    for name in _SHARED_NETWORK_KEYS:
        if getattr(container, name) is not None:
            report(("containers", key, name), f"{name} cannot be set: the container shares the network of "
                                              f"containers.{other}, which sets it")


def _memory(spec: Any, report: Report) -> None:
    for key, c in spec.containers.items():
        if c.memswap_limit is not None and c.mem_limit is None:
            report(("containers", key, "memswap_limit"), "memswap_limit needs mem_limit (it counts memory and swap "
                                                         "together)")
        elif c.memswap_limit not in (None, -1) and c.memswap_limit < c.mem_limit:
            report(("containers", key, "memswap_limit"), "memswap_limit is memory plus swap: it cannot be below "
                                                         "mem_limit")
        if c.mem_reservation is not None and c.mem_limit is not None and c.mem_reservation > c.mem_limit:
            report(("containers", key, "mem_reservation"), "mem_reservation is a soft limit below mem_limit: it "
                                                           "cannot be above it")


def _fixed_addresses(spec: Any, report: Report) -> None:
    taken: dict[tuple[str, str], str] = {}
    for key, container in spec.containers.items():
        if not isinstance(container.networks, dict):
            continue
        for net, attached in container.networks.items():
            network = spec.networks.get(net)
            for field, version in (("ipv4_address", 4), ("ipv6_address", 6)):
                address = getattr(attached, field)
                if address is None or network is None:
                    continue
                at = ("containers", key, "networks", net, field)
                problem = _address_problem(network, net, address, version)
                if problem:
                    report(at, problem)
                elif (net, address) in taken:
                    report(at, f"{address} is already the address of containers.{taken[(net, address)]} on "
                               f"networks.{net}")
                taken.setdefault((net, address), key)


def _address_problem(network: Any, net: str, address: str, version: int) -> str:
    if version == 6 and not network.enable_ipv6:
        return f"networks.{net} does not enable_ipv6"
    pools = [p for p in (network.ipam.config if network.ipam else ()) if p.network.version == version]
    if not pools:
        return (f"a fixed address needs a subnet declared on networks.{net} "
                f"(ipam: {{config: [{{subnet: ...}}]}})")
    ip = ipaddress.ip_address(address)
    pool = next((p for p in pools if ip in p.network), None)
    if pool is None:
        return f"{address} is outside the subnets of networks.{net} ({', '.join(p.subnet for p in pools)})"
    if pool.gateway == address or ip in (pool.network.network_address, pool.network.broadcast_address):
        return f"{address} is the gateway or a reserved address of {pool.subnet}"
    return ""


def _one_shots(spec: Any, report: Report) -> None:
    """A container that runs once is not restarted, and no container can live in its network."""
    for key, container in spec.containers.items():
        if container.run == "once" and container.restart[0] != "no":
            report(("containers", key, "restart"), "a container that runs once (run: once) is not restarted: "
                                                   "leave restart out (or give restart: no)")
        mode = container.network_mode or ""
        shared = mode.partition(":")[2] if mode.startswith("container:") else ""
        if shared in spec.containers and spec.containers[shared].run == "once":
            report(("containers", key, "network_mode"), f"shares the network of containers.{shared}, which runs "
                                                        "once (run: once): that network is gone once it exits")


def _conditions(spec: Any, report: Report) -> None:
    """compose's conditions each need something of the container waited for."""
    for key, container in spec.containers.items():
        for dep, at, dependency in container.dependencies:
            other = spec.containers.get(dep)
            if other is None or at != dep:  # the list form: no condition
                continue
            path = ("containers", key, "depends_on", dep, "condition")
            if dependency.condition == "service_completed_successfully" and other.run != "once":
                report(path, f"service_completed_successfully waits for containers.{dep} to exit with 0, but it "
                             f"is a service that keeps running: add run: once to containers.{dep} if it is a job")
            elif dependency.condition == "service_healthy" and other.run == "once":
                report(path, f"containers.{dep} runs once (run: once) and is never healthy: wait for it with "
                             "condition: service_completed_successfully")
            elif dependency.condition == "service_healthy" and other.healthcheck \
                    and other.healthcheck.command == ["NONE"]:
                report(path, f"service_healthy needs a healthcheck, and containers.{dep} turns its healthcheck "
                             "off: give it a test, or wait with condition: service_started")


def healthchecks_missing(spec: Any, desired: Any) -> list[str]:
    """`service_healthy` on a container whose spec gives no healthcheck and whose image has none either
    (known once the image is on the engine; validate cannot tell)."""
    problems = []
    for key, container in spec.containers.items():
        for dep, at, dependency in container.dependencies:
            want = desired.get(Address("containers", dep))
            if dependency.condition != "service_healthy" or want is None or want.form.get("healthcheck") is not None:
                continue
            image = getattr(want.payload, "image", "")
            problems.append(f"{spec.path}:{spec.line_of('containers', key, 'depends_on', dep, 'condition')}: "
                            f"containers.{key}.depends_on.{dep}.condition: service_healthy needs a healthcheck, and "
                            f"neither containers.{dep} nor its image {image} declares one (add healthcheck: to "
                            f"containers.{dep}, or wait with condition: service_started)")
    return problems


def images_not_pulled(spec: Any, desired: Any) -> list[str]:
    """Containers whose image is missing while their pull_policy forbids pulling it."""
    problems = []
    for address, want in sorted(desired.items()):
        if address.kind != "containers" or getattr(want.payload, "pull_policy", "") != "never":
            continue
        if want.form.get("image_id") == UNKNOWN:
            problems.append(f"{address}: image {want.payload.image} is not on the engine and its pull_policy is "
                            "never (load or build it there first, or set pull_policy: missing)")
    return problems


def network_modes_left(desired: Any, objects: Any, stack: str) -> list[str]:
    """The stack's containers on the host's network (or none, or another container's) whose spec no
    longer says so: Docker cannot move them to networks in place, and the spec must say what it wants."""
    problems = []
    for live in objects:
        want = desired.get(live.address) if live.kind == "containers" and live.owner == stack else None
        mode = live.form.get("network_mode", "bridge")
        if want is None or "network_mode" in want.form or mode == "bridge":
            continue
        problems.append(f"{live.address}: it runs with network_mode {mode}, which the spec no longer sets, and "
                        "Docker cannot change a network mode in place; write the mode it should have (e.g. "
                        "network_mode: bridge) and the plan replaces it")
    return problems
