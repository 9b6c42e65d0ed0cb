"""The container options beyond the core ones (issue 11), one row each, like community.docker's option table.

A row says how the spec's parsed value shows in the compared form, how `docker inspect` reads
back into that form, what the engine has when nothing is set (the default), and which
`create_host_config` / `create_container` argument carries it. Only the options the spec sets
are compared: each row's `judge` reads a live value left out of the live form as the default,
so a container of a spec that is silent about an option never shows a difference (and one
whose spec writes the default explicitly compares equal to a container that never had it).
Leaving an option out therefore keeps what the container has, like Terraform's optional and
computed attributes. Pure: no Docker here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from quayform import labels as L
from quayform.spec.values import (GpuRequest, format_cpus, format_size, parse_capabilities,
                                  parse_cpuset, parse_security_opt)

PLATFORM_LABEL = L.PREFIX + "platform"  # the platform the container was created for (inspect tells only the OS)
DEFAULT_SHM = 64 * 1024 * 1024  # the engine's /dev/shm size when none is given
DEFAULT_SHARES = 1024  # CpuShares 0 means the kernel's default weight, 1024


def _same(value: Any) -> Any:
    return value


def _host(key: str, default: Any = None) -> Callable[[Mapping[str, Any]], Any]:
    return lambda raw: (raw.get("HostConfig") or {}).get(key, default)


def _config(key: str, default: Any = None) -> Callable[[Mapping[str, Any]], Any]:
    return lambda raw: (raw.get("Config") or {}).get(key, default)


def _size(value: Any) -> str | None:
    return format_size(value) if value else None


def _swap(value: Any) -> str | None:
    if value == -1:
        return "unlimited"
    return format_size(value) if value else None


def _pids(value: Any) -> int:
    return value if value and value > 0 else -1


def _tolerant(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A spec parser used on what the engine holds: a value quayform would not write stays as it is."""
    def read(value: Any) -> Any:
        try:
            return parse(value)
        except ValueError:
            return value
    return read


def _caps(value: Any) -> list[str]:
    return list(_tolerant(parse_capabilities)(list(value or [])))


def _tmpfs(value: Mapping[str, str] | None) -> dict[str, str]:
    return {path: ",".join(o for o in (opts or "").split(",") if o) for path, opts in (value or {}).items()}


def _ulimits(value: Any) -> dict[str, dict[str, int]]:
    return {u["Name"]: {"soft": u.get("Soft", 0), "hard": u.get("Hard", 0)} for u in value or []}


def _devices(value: Any) -> list[str]:
    return sorted(f"{d.get('PathOnHost')}:{d.get('PathInContainer')}:{d.get('CgroupPermissions')}" for d in value or [])


def _extra_hosts(value: Any) -> list[str]:
    out = set()
    for entry in value or []:
        host, _, ip = entry.partition(":")
        out.add(f"{host}:{ip.strip('[]')}")
    return sorted(out)


def gpu_form(request: GpuRequest) -> dict[str, Any]:
    return {"driver": request.driver, "count": request.count, "device_ids": list(request.device_ids),
            "capabilities": list(request.capabilities), "options": dict(request.options)}


def _gpus(value: Any) -> list[dict[str, Any]]:
    out = []
    for request in value or []:
        caps = [c for group in request.get("Capabilities") or [] for c in group]
        out.append(gpu_form(GpuRequest(request.get("Driver") or "", request.get("Count") or 0,
                                       tuple(request.get("DeviceIDs") or ()), tuple(caps),
                                       tuple(sorted((request.get("Options") or {}).items())))))
    return sorted(out, key=repr)


def _gpu_request(request: GpuRequest) -> dict[str, Any]:
    """A DeviceRequest as create_host_config takes it (a GPU of any vendor: Docker picks the driver)."""
    return {"driver": request.driver, "count": request.count, "device_ids": list(request.device_ids) or None,
            "capabilities": [list(request.capabilities)], "options": dict(request.options)}


@dataclass(frozen=True)
class Option:
    """One container option: spec value -> form, inspect -> form, the engine's default, the create argument."""

    name: str
    read: Callable[[Mapping[str, Any]], Any]  # raw inspect -> the value before `normal`
    default: Any  # the form value of a container that never had the option
    normal: Callable[[Any], Any] = _same  # what the engine holds -> form value
    show: Callable[[Any], Any] = _same  # the spec's parsed value -> form value
    host: str = ""  # create_host_config keyword
    config: str = ""  # create_container keyword
    send: Callable[[Any], Any] = _same  # the spec's parsed value -> that keyword's value
    mapping: bool = False  # compared and shown per key

    def live(self, raw: Mapping[str, Any]) -> Any:
        return self.normal(self.read(raw))

    def judge(self, desired: Any, form: Mapping[str, Any], payload: Any) -> Any:
        """The live value to compare: what the live form holds, or the default it leaves out."""
        return form.get(self.name, self.default)


OPTIONS: tuple[Option, ...] = (
    # resources: changed in place by `docker update` (see updates.update_resources)
    Option("mem_limit", _host("Memory"), None, _size, format_size, host="mem_limit"),
    Option("mem_reservation", _host("MemoryReservation"), None, _size, format_size, host="mem_reservation"),
    Option("memswap_limit", _host("MemorySwap"), None, _swap, _swap, host="memswap_limit"),
    Option("cpus", _host("NanoCpus"), None, lambda v: format_cpus(v) if v else None, format_cpus, host="nano_cpus"),
    Option("cpu_shares", _host("CpuShares"), DEFAULT_SHARES, lambda v: v or DEFAULT_SHARES, host="cpu_shares"),
    Option("cpuset", _host("CpusetCpus"), None, lambda v: _tolerant(parse_cpuset)(v) if v else None,
           host="cpuset_cpus"),
    Option("pids_limit", _host("PidsLimit"), -1, _pids, _pids, host="pids_limit"),
    # the rest replace the container
    Option("cap_add", _host("CapAdd"), [], _caps, list, host="cap_add", send=list),
    Option("cap_drop", _host("CapDrop"), [], _caps, list, host="cap_drop", send=list),
    Option("security_opt", _host("SecurityOpt"), [], lambda v: sorted(_tolerant(parse_security_opt)(o) for o in v or []),
           sorted, host="security_opt"),
    Option("read_only", _host("ReadonlyRootfs"), False, bool, host="read_only"),
    Option("group_add", _host("GroupAdd"), [], lambda v: sorted(set(v or [])), lambda v: sorted(set(v)),
           host="group_add"),
    Option("tmpfs", _host("Tmpfs"), {}, _tmpfs, dict, host="tmpfs", send=dict, mapping=True),
    Option("init", _host("Init"), False, bool, host="init"),
    Option("domainname", _config("Domainname"), "", lambda v: v or "", config="domainname"),
    Option("dns", _host("Dns"), [], lambda v: list(v or []), list, host="dns"),
    Option("dns_search", _host("DnsSearch"), [], lambda v: list(v or []), list, host="dns_search"),
    Option("dns_opt", _host("DnsOptions"), [], lambda v: list(v or []), list, host="dns_opt"),
    Option("extra_hosts", _host("ExtraHosts"), [], _extra_hosts, list, host="extra_hosts", send=list),
    Option("sysctls", _host("Sysctls"), {}, lambda v: dict(v or {}), dict, host="sysctls", mapping=True),
    Option("ulimits", _host("Ulimits"), {}, _ulimits, lambda v: {k: {"soft": s, "hard": h} for k, (s, h) in v.items()},
           host="ulimits", send=lambda v: [{"name": k, "soft": s, "hard": h} for k, (s, h) in sorted(v.items())],
           mapping=True),
    Option("shm_size", _host("ShmSize"), format_size(DEFAULT_SHM), lambda v: format_size(v or DEFAULT_SHM), format_size,
           host="shm_size"),
    Option("devices", _host("Devices"), [], _devices, sorted, host="devices", send=sorted),
    Option("gpus", _host("DeviceRequests"), [], _gpus, lambda v: sorted((gpu_form(r) for r in v), key=repr),
           host="device_requests", send=lambda v: [_gpu_request(r) for r in v]),
    Option("oom_score_adj", _host("OomScoreAdj"), 0, lambda v: v or 0, host="oom_score_adj"),
    Option("tty", _config("Tty"), False, bool, config="tty"),
    Option("stdin_open", _config("OpenStdin"), False, bool, config="stdin_open"),
    Option("platform", lambda raw: ((raw.get("Config") or {}).get("Labels") or {}).get(PLATFORM_LABEL), "",
           lambda v: v or "", config="platform"),
)
BY_NAME = {option.name: option for option in OPTIONS}
RESOURCES = ("mem_limit", "mem_reservation", "memswap_limit", "cpus", "cpu_shares", "cpuset", "pids_limit")


def declared(container: Any) -> dict[str, Any]:
    """The options the spec sets, as parsed (what create sends)."""
    return {o.name: getattr(container, o.name) for o in OPTIONS if getattr(container, o.name) is not None}


def desired_forms(options: Mapping[str, Any]) -> dict[str, Any]:
    return {name: BY_NAME[name].show(value) for name, value in options.items()}


def live_forms(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every option whose live value differs from the engine's default (a container made without it shows none)."""
    out = {}
    for option in OPTIONS:
        value = option.live(raw)
        if value != option.default:
            out[option.name] = value
    return out


def host_arguments(options: Mapping[str, Any]) -> dict[str, Any]:
    return {BY_NAME[n].host: BY_NAME[n].send(v) for n, v in options.items() if BY_NAME[n].host}


def config_arguments(options: Mapping[str, Any]) -> dict[str, Any]:
    return {BY_NAME[n].config: BY_NAME[n].send(v) for n, v in options.items() if BY_NAME[n].config}


# -- the options whose comparison needs more than a default ------------------------------------------

def hostname_of(raw: Mapping[str, Any]) -> str:
    """The hostname the container was given; "" for Docker's own (its short id), and for one that shares
    another container's network (it has that one's hostname, and cannot be given one)."""
    hostname = (raw.get("Config") or {}).get("Hostname") or ""
    shared = ((raw.get("HostConfig") or {}).get("NetworkMode") or "").startswith("container:")
    return "" if shared or hostname == raw.get("Id", "")[:12] else hostname


def network_mode_of(raw: Mapping[str, Any]) -> str:
    """host, none or container:NAME (list_live turns the engine's container id into its name); bridge otherwise."""
    mode = (raw.get("HostConfig") or {}).get("NetworkMode") or ""
    return mode if mode in ("host", "none") or mode.startswith("container:") else "bridge"


def logging_of(raw: Mapping[str, Any]) -> dict[str, Any]:
    config = (raw.get("HostConfig") or {}).get("LogConfig") or {}
    return {"driver": config.get("Type") or "json-file", "options": dict(config.get("Config") or {})}


def judge_logging(desired: Any, form: Mapping[str, Any], payload: Any) -> Any:
    """The live log settings, on what the spec names: the engine merges the daemon's default options
    into a container of the default driver, so options the spec does not name are not compared."""
    live = form.get("logging") or {"driver": "json-file", "options": {}}
    if not isinstance(desired, dict):
        return live
    judged = {"options": {k: v for k, v in live["options"].items() if k in desired.get("options", {})}}
    if "driver" in desired:
        judged["driver"] = live["driver"]
    return judged


def addresses_of(raw: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The fixed addresses a container was given per network (IPAMConfig), not the ones the engine picked."""
    out = {}
    for name, endpoint in ((raw.get("NetworkSettings") or {}).get("Networks") or {}).items():
        config = (endpoint or {}).get("IPAMConfig") or {}
        fixed = {k: config[d] for k, d in (("ipv4_address", "IPv4Address"), ("ipv6_address", "IPv6Address"))
                 if config.get(d)}
        if fixed:
            out[name] = fixed
    return out


def judge_exposed(desired: Any, form: Mapping[str, Any], payload: Any) -> Any:
    """The ports the container exposes, among those the spec names: the image's own are exposed too."""
    live = getattr(payload, "exposed", ())
    return [p for p in desired if p in live] if isinstance(desired, list) else sorted(live)


def judge_default(name: str, default: Any) -> Callable[[Any, Mapping[str, Any], Any], Any]:
    return lambda desired, form, payload: form.get(name, default)


# -- the whole of it, as form.py folds it into the container's forms -----------------------------------

def option_forms(declared: Any) -> dict[str, Any]:
    """The options the spec sets, as compared (options.py); those it leaves out are not in the form."""
    forms = desired_forms(declared.options)
    if declared.hostname is not None:
        forms["hostname"] = declared.hostname
    if declared.network_mode is not None:
        forms["network_mode"] = declared.network_mode
    if declared.addresses:
        forms["addresses"] = {net: dict(fixed) for net, fixed in declared.addresses.items()}
    if declared.exposed is not None:
        forms["expose"] = sorted({*declared.exposed, *(p.key() for p in declared.ports)})
    if declared.logging is not None:
        forms["logging"] = {k: v for k, v in declared.logging.items() if v is not None}
    return forms


def live_options(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The options a container has beyond the engine's defaults, in the shape option_forms() gives."""
    forms = live_forms(raw)
    extra = {"hostname": hostname_of(raw), "network_mode": network_mode_of(raw), "logging": logging_of(raw),
             "addresses": addresses_of(raw)}
    defaults = {"hostname": "", "network_mode": "bridge", "logging": {"driver": "json-file", "options": {}},
                "addresses": {}}
    forms.update({k: v for k, v in extra.items() if v != defaults[k]})
    return forms
