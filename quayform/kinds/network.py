"""Networks: user-defined Docker networks of a stack.

A changed definition is held until `--replace` asks for it (recreating a network cuts off
every container on it); a container on a replaced network is recreated with it. Delete
survives the stale endpoints dockerd 20.10 can leave behind. The options (driver_opts,
attachable, enable_ipv6, ipam) are compared only when the spec sets them: the engine picks a
subnet for a network that names none, and that choice is no difference.

The default network: a container that names no network (and no network_mode) joins
`networks.default`, named `<stack>-default` unless the spec declares its own `default`, with its
key as a DNS alias, so containers reach each other by key as under compose (`<project>_default`).
It exists only when some container needs it. External networks and imported ones: shared_object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping

from quayform import labels as L
from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.errors import EngineError
from quayform.kinds.base import Ctx, Rules, replace
from quayform.kinds.engine_kind import (forget_import, import_markers, is_bookkeeping, lifecycle_of, live_object,
                                       ownership_labels)
from quayform.kinds.shared_object import SharedObjectKind
from quayform.kinds.volume import list_volumes
from quayform.spec.models import Network

DELETE_ATTEMPTS = 5
DEFAULT = "default"  # the key of the network a container that names none joins
DOCKER_OWN = ("bridge", "host", "none")  # the engine's predefined networks: never the stack's


@dataclass(frozen=True)
class LiveNetwork:
    """What the engine says of a network beyond its form: its address management, always set."""

    ipam: dict[str, Any] = field(default_factory=dict)
    import_marker: str | None = None  # the marker volume of a network adopted with `quayform import`


def ipam_form(ipam: Any) -> dict[str, Any]:
    """The spec's ipam as compared: its driver and options when given, its subnets sorted."""
    form: dict[str, Any] = {"config": sorted((_pool(p.subnet, p.gateway, p.ip_range, p.aux_addresses)
                                              for p in ipam.config), key=lambda p: p["subnet"])}
    if ipam.driver is not None:
        form["driver"] = ipam.driver
    if ipam.options:
        form["options"] = dict(ipam.options)
    return form


def _pool(subnet: str, gateway: str | None, ip_range: str | None, aux: Mapping[str, str] | None) -> dict[str, Any]:
    pool: dict[str, Any] = {"subnet": subnet}
    for key, value in (("gateway", gateway), ("ip_range", ip_range), ("aux_addresses", dict(aux or {}) or None)):
        if value:
            pool[key] = value
    return pool


def live_ipam(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = raw or {}
    return {"driver": raw.get("Driver") or "default", "options": dict(raw.get("Options") or {}),
            "config": sorted((_pool(p.get("Subnet", ""), p.get("Gateway"), p.get("IPRange"), p.get("AuxiliaryAddresses"))
                              for p in raw.get("Config") or []), key=lambda p: p["subnet"])}


def judge_ipam(desired: Any, form: Mapping[str, Any], payload: Any) -> Any:
    """The engine's address management, on what the spec names: a gateway the engine chose for a
    subnet given without one is no difference; a subnet the spec does not list is."""
    live = getattr(payload, "ipam", None) or live_ipam(None)
    if not isinstance(desired, dict):
        return live
    wanted = {p["subnet"]: p for p in desired.get("config", [])}
    judged: dict[str, Any] = {"config": [{k: v for k, v in pool.items() if k == "subnet" or k in wanted[pool["subnet"]]}
                                         if pool["subnet"] in wanted else pool for pool in live["config"]]}
    if "driver" in desired:
        judged["driver"] = live["driver"]
    if "options" in desired:
        judged["options"] = live["options"]
    return judged


def _judge_default(name: str, default: Any) -> Any:
    return lambda desired, form, payload: form.get(name, default)


def needs_default(container: Any) -> bool:
    """A container on no network of its own and in no network mode joins the default network."""
    return not container.networks and container.network_mode is None


class NetworkKind(SharedObjectKind):
    section = "networks"
    noun = "network"
    attributes = (replace("name"), replace("driver"), replace("internal"), replace("labels", mapping=True),
                  replace("driver_opts", mapping=True, judge=_judge_default("driver_opts", {})),
                  replace("attachable", judge=_judge_default("attachable", False)),
                  replace("enable_ipv6", judge=_judge_default("enable_ipv6", False)),
                  replace("ipam", judge=judge_ipam))
    rules = Rules(on_replace="hold", hold_reason="its definition changed, but recreating it would disconnect every "
                                                 "container on it; run with --replace {address} to recreate it",
                  destroy_keep_reason="")

    def implied(self, spec: Any) -> None:
        """compose's default network: declared (unless the spec has its own) and joined by every container
        that names no network, when there is one; a container on another engine E joins `default-E` there."""
        for key, container in list(spec.containers.items()):
            if not needs_default(container):
                continue
            engine = getattr(container, "engine", "default")
            network = DEFAULT if engine == "default" else f"{DEFAULT}-{engine}"  # one per engine: DNS stays on one
            if network not in spec.networks:
                spec.networks[network] = Network(engine=engine)
            spec.containers[key] = container.model_copy(update={"networks": [network]})

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        network = spec.networks[key]
        lifecycle = lifecycle_of(network)
        form = {"name": self.name_of(spec, key), "driver": network.driver, "internal": network.internal,
                "labels": dict(network.labels)}
        for name in ("driver_opts", "attachable", "enable_ipv6"):
            if getattr(network, name) is not None:
                form[name] = getattr(network, name)
        if network.ipam is not None:
            form["ipam"] = ipam_form(network.ipam)
        labels = {**network.labels, **ownership_labels(spec.stack, Address(self.section, key), lifecycle)}
        return Desired(form, labels, lifecycle, self.engine_of(spec, key))

    def list_live(self, engine: Any, stack: str, detail: bool) -> Iterable[Any]:
        with engine.errors("listing networks"):
            networks = engine.memo("networks", engine.api.networks) or []
        markers = import_markers(list_volumes(engine), stack, self.section)
        return [(raw, markers.get(raw["Id"])) for raw in networks]

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        raw, marker = raw
        labels = raw.get("Labels") or {}
        if is_bookkeeping(labels):
            return None
        if marker is not None:  # adopted: the marker says what its labels cannot
            labels = {**labels, L.STACK: stack, L.ADDRESS: marker[0]}
        form = {"name": raw["Name"], "driver": raw.get("Driver") or "bridge", "internal": bool(raw.get("Internal")),
                "labels": L.ours(raw.get("Labels"))}
        options = {"driver_opts": dict(raw.get("Options") or {}), "attachable": bool(raw.get("Attachable")),
                   "enable_ipv6": bool(raw.get("EnableIPv6"))}
        form.update({k: v for k, v in options.items() if v})  # the engine's defaults are left out, as the spec's are
        return live_object(self.section, stack, target, raw["Name"], raw["Id"], labels, form,
                           LiveNetwork(live_ipam(raw.get("IPAM")), marker[1] if marker else None))

    def create(self, change: Change, engine: Any) -> None:
        form = change.after or {}
        ipam = form.get("ipam")
        with engine.errors(f"creating network {form['name']}"):
            engine.api.create_network(form["name"], driver=form["driver"], internal=form["internal"],
                                      labels=change.payload, check_duplicate=True, options=form.get("driver_opts"),
                                      attachable=form.get("attachable"), enable_ipv6=bool(form.get("enable_ipv6")),
                                      ipam=engine_ipam(ipam) if ipam else None)

    def delete(self, change: Change, engine: Any, release: frozenset[str]) -> None:
        """Remove the network; disconnect leftover endpoints and retry, since dockerd 20.10 can miscount them."""
        network = change.live_id or change.name
        last = ""
        for attempt in range(DELETE_ATTEMPTS):
            try:
                engine.api.remove_network(network)
                return forget_import(engine, getattr(change.live_payload, "import_marker", None))
            except engine.NotFound:
                return forget_import(engine, getattr(change.live_payload, "import_marker", None))
            except engine.Failure as exc:
                last = engine.describe(exc)
            self._disconnect_all(engine, network)
            time.sleep(0.2 * (attempt + 1))
        raise EngineError(f"the engine refuses to remove network {change.name}: {last}. "
                          "If no container uses it, restarting dockerd clears the stale endpoint; "
                          "then run the same command again.")

    # -- quayform import ---------------------------------------------------------------------------
    def inspect(self, engine: Any, name: str) -> dict[str, Any] | None:
        try:
            return engine.api.inspect_network(name)
        except engine.NotFound:
            return None

    def refuse_import(self, raw: Mapping[str, Any]) -> str:
        if raw.get("Name") in DOCKER_OWN:
            return (f"network {raw['Name']!r} is one of Docker's own networks and cannot be the stack's "
                    "(a container joins bridge with network_mode: bridge)")
        return ""

    def managed(self, engine: Any, stack: str, address: Address) -> str:
        found = engine.api.networks(filters={"label": [f"{L.STACK}={stack}", f"{L.ADDRESS}={address}"]})
        return found[0]["Name"] if found else ""

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


def engine_ipam(form: Mapping[str, Any]) -> dict[str, Any]:
    """The ipam form in the engine's names (docker-py's IPAMConfig is this same dict)."""
    names = {"subnet": "Subnet", "gateway": "Gateway", "ip_range": "IPRange", "aux_addresses": "AuxiliaryAddresses"}
    return {"Driver": form.get("driver", "default"), "Options": form.get("options") or None,
            "Config": [{names[k]: v for k, v in pool.items()} for pool in form.get("config", [])]}


KIND = NetworkKind()
