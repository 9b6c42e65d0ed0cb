"""Parsers for the compact strings a spec is written in: ports, mounts, durations, modes.

Each parser takes what the user typed and either returns a typed value or raises
ValueError with a message that quotes the input and says what is expected.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from decimal import Decimal
import shlex
from dataclasses import dataclass
from typing import Any

_PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True, order=True)
class PortBinding:
    """One published port: container_port/protocol -> host_ip:host_port ('' = any / random)."""

    container_port: int
    protocol: str
    host_ip: str
    host_port: str

    def key(self) -> str:
        return f"{self.container_port}/{self.protocol}"

    def __str__(self) -> str:
        host = f"{self.host_ip}:{self.host_port}" if self.host_ip else self.host_port
        return f"{host}->{self.key()}" if host else self.key()


def _port_range(text: str, original: str) -> tuple[int, int]:
    start, dash, end = text.partition("-")
    if not start.isdigit() or (dash and not end.isdigit()):
        raise ValueError(f"{original!r} is not a valid port mapping")
    low, high = int(start), int(end) if dash else int(start)
    if not (1 <= low <= high <= 65535):
        raise ValueError(f"{original!r} is not a valid port mapping (ports are 1-65535)")
    return low, high


def parse_ports(value: Any) -> list[PortBinding]:
    """Parse compose short syntax: 80, "8080:80", "127.0.0.1:8080:80/udp", "[::1]:53:53", ranges."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{value!r} is not a valid port mapping (write it as a string, e.g. \"8080:80\")")
    original = str(value)
    text, slash, protocol = original.partition("/")
    protocol = protocol if slash else "tcp"
    if protocol not in _PROTOCOLS:
        raise ValueError(f"{original!r} is not a valid port mapping (protocol must be tcp, udp or sctp)")
    host_ip = ""
    if text.startswith("["):
        ip, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"{original!r} is not a valid port mapping")
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError(f"{original!r} is not a valid port mapping ({ip!r} is not an IP address)") from None
        host_ip, text = ip, rest[1:]
        parts = text.split(":")
        if len(parts) != 2:
            raise ValueError(f"{original!r} is not a valid port mapping")
        host_part, container_part = parts
    else:
        parts = text.split(":")
        if len(parts) == 1:
            host_part, container_part = "", parts[0]
        elif len(parts) == 2:
            host_part, container_part = parts
        elif len(parts) == 3:
            host_ip, host_part, container_part = parts
            try:
                ipaddress.IPv4Address(host_ip)
            except ValueError:
                raise ValueError(f"{original!r} is not a valid port mapping ({host_ip!r} is not an IP address)") from None
        else:
            raise ValueError(f"{original!r} is not a valid port mapping")
    c_low, c_high = _port_range(container_part, original)
    if not host_part:
        return [PortBinding(p, protocol, host_ip, "") for p in range(c_low, c_high + 1)]
    h_low, h_high = _port_range(host_part, original)
    if h_high - h_low != c_high - c_low:
        raise ValueError(f"{original!r} is not a valid port mapping (host and container ranges differ in size)")
    return [PortBinding(c, protocol, host_ip, str(h)) for c, h in zip(range(c_low, c_high + 1), range(h_low, h_high + 1))]


@dataclass(frozen=True, order=True)
class Mount:
    """A mount in a container: a named volume (source = volume key), a bind (absolute host path) or anonymous."""

    kind: str  # "volume" | "bind" | "anonymous"
    source: str
    target: str
    read_only: bool = False
    options: tuple[str, ...] = ()


_MOUNT_OPTIONS = {"ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated"}


def parse_mount(value: Any) -> Mount:
    """Parse compose short syntax: "data:/var/lib/x", "./conf:/conf:ro", "/abs:/x", "/anonymous"."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a valid volume mount (expected \"SOURCE:TARGET[:ro]\")")
    parts = value.split(":")
    if len(parts) == 1:
        source, target, opts = "", parts[0], ""
    elif len(parts) == 2:
        source, target, opts = parts[0], parts[1], ""
    elif len(parts) == 3:
        source, target, opts = parts
    else:
        raise ValueError(f"{value!r} is not a valid volume mount (expected \"SOURCE:TARGET[:OPTIONS]\")")
    if not target.startswith("/"):
        raise ValueError(f"{value!r} is not a valid volume mount (the target {target!r} must be an absolute path)")
    problem = container_path_problem(target)
    if problem:
        raise ValueError(f"{value!r} is not a valid volume mount: the target {problem}")
    options = tuple(o for o in opts.split(",") if o) if opts else ()
    unknown = [o for o in options if o not in _MOUNT_OPTIONS]
    if unknown:
        raise ValueError(f"{value!r}: unknown mount option {unknown[0]!r} (expected ro, rw, z, Z or nocopy)")
    read_only = "ro" in options
    rest = tuple(o for o in options if o not in ("ro", "rw"))
    target = target.rstrip("/") or "/"
    if not source:
        return Mount("anonymous", "", target, read_only, rest)
    if source.startswith(("/", "./", "../", "~")) or source in (".", ".."):
        return Mount("bind", source, target, read_only, rest)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", source):
        raise ValueError(f"{value!r}: {source!r} is neither a volume name nor a path (start paths with / or ./)")
    return Mount("volume", source, target, read_only, rest)


def container_path_problem(path: str) -> str | None:
    """Why `path` cannot be a place in a container (mount target, file): not absolute, `/`, not normalised."""
    if "\0" in path:
        return f"{path!r} contains a NUL character"
    if not path.startswith("/"):
        return f"{path!r} must be an absolute path"
    trimmed = path.rstrip("/") or "/"
    if trimmed == "/":
        return "'/' is the container's root: name a folder or file inside it"
    normal = posixpath.normpath(trimmed)
    if normal != trimmed or any(part in ("..", ".") for part in trimmed.split("/")):
        return f"{path!r} is not a normalised path (write {normal!r})"
    return None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration(value: Any) -> int:
    """Parse "2s", "1m30s", "500ms" or a number of seconds into nanoseconds (Docker's unit)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (e.g. \"2s\", \"1m30s\")")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{value!r} is not a duration: it is negative")
        return int(Decimal(getattr(value, "text", None) or str(value)) * 1_000_000_000)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a duration (e.g. \"2s\", \"1m30s\")")
    pos, total = 0, 0
    for match in _DURATION_PART.finditer(value):
        if match.start() != pos:
            break
        total += int(Decimal(match.group(1)) * _UNIT_NS[match.group(2)])
        pos = match.end()
    if pos != len(value):
        raise ValueError(f"{value!r} is not a duration (e.g. \"2s\", \"1m30s\", \"500ms\")")
    return total


def format_duration(ns: int) -> str:
    """Nanoseconds -> the shortest of "500ms", "2s", "1m30s" for display."""
    if ns % 1_000_000_000:
        return f"{ns // 1_000_000}ms"
    seconds = ns // 1_000_000_000
    minutes, seconds = divmod(seconds, 60)
    if minutes and seconds:
        return f"{minutes}m{seconds}s"
    return f"{minutes}m" if minutes else f"{seconds}s"


def parse_file_mode(value: Any) -> int:
    """Parse "0600", "600" or 0o600 into an int; a bare YAML number like 600 is ambiguous and refused."""
    text = getattr(value, "text", None)
    if isinstance(value, int) and not isinstance(value, bool):
        if text is not None and not text.startswith("0o"):
            raise ValueError(f"mode {text} is ambiguous: quote it as an octal string, e.g. \"0{text}\"")
        mode = value
    elif isinstance(value, str) and re.fullmatch(r"(0o)?[0-7]{3,4}", value):
        mode = int(value.removeprefix("0o"), 8)
    else:
        raise ValueError(f"{value!r} is not a file mode (write it as a quoted octal string, e.g. \"0640\")")
    if not 0 <= mode <= 0o7777:
        raise ValueError(f"{value!r} is not a file mode (at most \"7777\")")
    return mode


def parse_command(value: Any) -> list[str] | None:
    """A command as a list of arguments; a string is split the way a shell would (no expansion)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} cannot be split into arguments: {exc}") from None
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return [getattr(v, "text", None) or str(v) for v in value]
    raise ValueError(f"{value!r} is not a command (a string or a list of strings)")


_RESTART = re.compile(r"^(no|always|unless-stopped|on-failure)(?::(\d+))?$")


def parse_restart(value: Any) -> tuple[str, int]:
    """"no" | "always" | "unless-stopped" | "on-failure[:N]" -> (name, max_retries)."""
    if value is False:
        raise ValueError("restart: no was read as a boolean; quote it: \"no\"")
    match = _RESTART.match(value) if isinstance(value, str) else None
    if not match or (match.group(2) and match.group(1) != "on-failure"):
        raise ValueError(f"{value!r} is not a restart policy (no, always, unless-stopped, on-failure[:N])")
    return match.group(1), int(match.group(2) or 0)


# -- container options (issue 11): sizes, CPUs, capabilities, and compose's list-or-map spellings --

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def _number_text(value: Any) -> str | None:
    """The digits a YAML number was written with (1.50 stays "1.50"), or None if it is no number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return getattr(value, "text", None) or str(value)


def parse_size(value: Any) -> int:
    """Docker's sizes: 512m, "1g", "1.5g", "64k", or a bare number of bytes -> bytes."""
    text = _number_text(value) if not isinstance(value, str) else value.strip()
    match = _SIZE.match(text) if text is not None else None
    if not match:
        raise ValueError(f"{value!r} is not a size (a number of bytes, or with a unit: \"512m\", \"1g\", \"64k\")")
    return int(Decimal(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def format_size(size: int) -> str:
    """Bytes -> the largest exact unit, as the form shows it: 67108864 -> "64m"."""
    for unit in ("t", "g", "m", "k"):
        if size and size % _SIZE_UNITS[unit] == 0:
            return f"{size // _SIZE_UNITS[unit]}{unit}"
    return str(size)


def parse_swap(value: Any) -> int:
    """memswap_limit: a size, or -1 for unlimited swap."""
    if _number_text(value) == "-1" or value == "-1":
        return -1
    return parse_size(value)


def parse_cpus(value: Any) -> int:
    """`cpus: 1.5` -> nano CPUs (Docker's unit), at least 0.01."""
    text = _number_text(value) if not isinstance(value, str) else value.strip()
    try:
        number = Decimal(text) if text is not None else None
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite() or number < Decimal("0.01"):
        raise ValueError(f"{value!r} is not a number of CPUs (a number of at least 0.01, e.g. 1.5)")
    if number * 1_000_000_000 != int(number * 1_000_000_000):
        raise ValueError(f"{value!r}: CPUs are counted to 9 decimal places at most")
    return int(number * 1_000_000_000)


def format_cpus(nano: int) -> str:
    """Nano CPUs -> "1.5" (no trailing zeros)."""
    text = f"{Decimal(nano) / 1_000_000_000:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_CPUSET_PART = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_cpuset(value: Any) -> str:
    """"0-2,4" or "0,1,2,4" (or a bare 0) -> the canonical ranges "0-2,4"."""
    text = _number_text(value) if not isinstance(value, str) else value
    cpus: set[int] = set()
    for part in (text or "").replace(" ", "").split(","):
        match = _CPUSET_PART.match(part)
        if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
            raise ValueError(f"{value!r} is not a CPU set (CPU numbers and ranges, e.g. \"0-2,4\")")
        cpus.update(range(int(match.group(1)), int(match.group(2) or match.group(1)) + 1))
    return format_cpuset(cpus)


def format_cpuset(cpus: set[int]) -> str:
    ranges: list[str] = []
    for cpu in sorted(cpus):
        if ranges and cpu - 1 == int(ranges[-1].split("-")[-1]):
            ranges[-1] = f"{ranges[-1].split('-')[0]}-{cpu}"
        else:
            ranges.append(str(cpu))
    return ",".join(ranges)


# The Linux capabilities Docker knows (capabilities(7)), without the CAP_ prefix.
CAPABILITIES = frozenset("""
    AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN DAC_OVERRIDE
    DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE
    MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON SETFCAP SETGID SETPCAP SETUID
    SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_RESOURCE
    SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM""".split())


def parse_capabilities(value: Any) -> tuple[str, ...]:
    """["NET_ADMIN", "cap_sys_time", "ALL"] -> ("NET_ADMIN", "SYS_TIME", "ALL"): upper case, no CAP_, sorted, once."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError("give a list of capabilities, e.g. [NET_ADMIN, SYS_TIME] or [ALL]")
    names = set()
    for item in value:
        name = item.strip().upper() if isinstance(item, str) else ""
        name = name.removeprefix("CAP_")
        if name != "ALL" and name not in CAPABILITIES:
            raise ValueError(f"{item!r} is not a Linux capability (e.g. NET_ADMIN or CAP_NET_ADMIN, or ALL; "
                             "see capabilities(7))")
        names.add(name)
    return tuple(sorted(names))


_SECURITY_KEYS = ("apparmor", "label", "seccomp", "systempaths")


def parse_security_opt(value: Any) -> str:
    """"no-new-privileges[:true|false]", "seccomp=unconfined", "apparmor=PROFILE", "label=...",
    "systempaths=unconfined"; compose's "key:value" spelling is accepted and written "key=value"."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a security option (e.g. no-new-privileges, seccomp=unconfined)")
    if value in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
        return "no-new-privileges:true"
    if value in ("no-new-privileges:false", "no-new-privileges=false"):
        return "no-new-privileges:false"
    key, sep, option = value.partition("=") if "=" in value else value.partition(":")
    if key not in _SECURITY_KEYS or not option:
        raise ValueError(f"{value!r} is not a security option (no-new-privileges, or "
                         f"{', '.join(k + '=...' for k in _SECURITY_KEYS)})")
    if key == "seccomp" and option not in ("unconfined", "builtin") and not option.lstrip().startswith("{"):
        raise ValueError(f"{value!r}: a seccomp profile is given inline as JSON, or as seccomp=unconfined; "
                         "quayform does not read profile files")
    if key == "systempaths" and option != "unconfined":
        raise ValueError(f"{value!r}: systempaths takes only 'unconfined'")
    return f"{key}={option}"


def as_mapping(value: Any, what: str, sep: str = "=") -> dict[str, Any]:
    """Compose's two spellings of a mapping: {k: v} as it is, or ["k=v", ...] split at the first `sep`."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, list):
        raise ValueError(f"give {what} as a mapping or a list of \"KEY{sep}VALUE\" strings")
    out: dict[str, Any] = {}
    for item in value:
        if not isinstance(item, str) or not item.partition(sep)[0]:
            raise ValueError(f"{item!r} is not \"KEY{sep}VALUE\" ({what})")
        key, _, text = item.partition(sep)
        out[key.strip()] = text.strip()
    return out


def parse_tmpfs(value: Any) -> dict[str, str]:
    """["/run", "/tmp:size=64m,mode=1777"] or {/run: "", /tmp: "size=64m"} (or one string) -> path -> options."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        pairs = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"{item!r} is not a tmpfs mount (\"/path\" or \"/path:options\")")
            pairs.append(item.partition(":")[::2])
    elif isinstance(value, dict):
        pairs = [(path, "" if options is None else options) for path, options in value.items()]
    else:
        raise ValueError("give tmpfs as a path, a list of \"/path[:options]\", or a mapping of path to options")
    out: dict[str, str] = {}
    for path, options in pairs:
        problem = container_path_problem(path) if isinstance(path, str) else f"{path!r} is not a path"
        if problem:
            raise ValueError(f"tmpfs: {problem}")
        if not isinstance(options, str):
            raise ValueError(f"tmpfs {path}: options are a string such as \"size=64m,mode=1777\"")
        if path in out:
            raise ValueError(f"tmpfs {path} is given twice")
        out[path] = ",".join(o.strip() for o in options.split(",") if o.strip())
    return out


def parse_extra_hosts(value: Any) -> tuple[str, ...]:
    """["db:10.0.0.5", "gw=host-gateway"] or {db: 10.0.0.5} -> sorted ("db:10.0.0.5", ...)."""
    if isinstance(value, dict):
        pairs = [(host, ip) for host, ips in value.items()
                 for ip in (ips if isinstance(ips, list) else [ips])]
    elif isinstance(value, list):
        pairs = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"{item!r} is not \"HOST:IP\"")
            sep = "=" if "=" in item else ":"
            pairs.append(tuple(item.split(sep, 1)) if sep in item else (item, ""))
    else:
        raise ValueError("give extra_hosts as a list of \"HOST:IP\" or a mapping of host to IP")
    out = set()
    for host, ip in pairs:
        ip = str(ip).strip().strip("[]")
        if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?", host):
            raise ValueError(f"{host!r} is not a host name (extra_hosts)")
        if ip != "host-gateway":
            try:
                ip = str(ipaddress.ip_address(ip))
            except ValueError:
                raise ValueError(f"extra_hosts {host}: {ip!r} is not an IP address (or host-gateway)") from None
        out.add(f"{host}:{ip}")
    return tuple(sorted(out))


_SYSCTL = re.compile(r"^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$")
# The sysctls Docker lets a container set: those of the namespaces it has of its own.
_SYSCTL_NAMESPACED = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                      "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def parse_sysctls(value: Any) -> dict[str, str]:
    """{net.core.somaxconn: 1024} or ["net.core.somaxconn=1024"] -> name -> text; namespaced ones only."""
    out = {}
    for name, setting in as_mapping(value, "sysctls").items():
        text = _number_text(setting) if not isinstance(setting, str) else setting
        if not isinstance(name, str) or not _SYSCTL.match(name):
            raise ValueError(f"{name!r} is not a sysctl name (e.g. net.core.somaxconn)")
        if text is None or text == "":
            raise ValueError(f"sysctl {name}: give a value")
        if not (name.startswith(("net.", "fs.mqueue.")) or name in _SYSCTL_NAMESPACED):
            raise ValueError(f"sysctl {name} is not namespaced, so a container cannot set it (net.*, fs.mqueue.*, "
                             "kernel.msg*/sem/shm*)")
        out[name] = text
    return out


ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
           "rtprio", "rttime", "sigpending", "stack")


def parse_ulimits(value: Any) -> dict[str, tuple[int, int]]:
    """{nofile: 1024} or {nofile: {soft: 1024, hard: 4096}} -> name -> (soft, hard); -1 is unlimited."""
    if not isinstance(value, dict):
        raise ValueError("give ulimits as a mapping, e.g. {nofile: {soft: 1024, hard: 4096}, nproc: 512}")
    out = {}
    for name, limit in value.items():
        if name not in ULIMITS:
            raise ValueError(f"{name!r} is not a ulimit ({', '.join(ULIMITS)})")
        if isinstance(limit, dict) and set(limit) == {"soft", "hard"}:
            soft, hard = limit["soft"], limit["hard"]
        elif isinstance(limit, dict):
            raise ValueError(f"ulimit {name}: give both soft and hard, e.g. {{soft: 1024, hard: 4096}}")
        else:
            soft = hard = limit
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= -1 for n in (soft, hard)):
            raise ValueError(f"ulimit {name}: limits are whole numbers (-1: unlimited)")
        if hard != -1 and (soft == -1 or soft > hard):
            raise ValueError(f"ulimit {name}: the soft limit {soft} is above the hard limit {hard}")
        out[name] = (int(soft), int(hard))
    return out


def parse_device(value: Any) -> str:
    """"/dev/x[:/dev/y[:rwm]]" -> "host:container:permissions" (permissions default rwm)."""
    parts = value.split(":") if isinstance(value, str) else []
    if not 1 <= len(parts) <= 3 or not parts[0]:
        raise ValueError(f"{value!r} is not a device (\"/dev/HOST[:/dev/CONTAINER[:rwm]]\")")
    if len(parts) == 2 and re.fullmatch(r"[rwm]{1,3}", parts[1]):
        parts = [parts[0], parts[0], parts[1]]
    host, container, perms = (parts + [parts[0], "rwm"][len(parts) - 1:])[:3]
    for path in (host, container):
        if not path.startswith("/") or container_path_problem(path):
            raise ValueError(f"{value!r} is not a device (\"/dev/HOST[:/dev/CONTAINER[:rwm]]\", absolute, "
                             "normalised paths)")
    if not re.fullmatch(r"(?!.*(.).*\1)[rwm]{1,3}", perms):
        raise ValueError(f"{value!r}: permissions are some of r, w and m (e.g. rwm)")
    return f"{host}:{container}:{''.join(p for p in 'rwm' if p in perms)}"


def parse_expose(value: Any) -> list[str]:
    """80, "80/udp", "8000-8001" -> ["80/tcp"], ["80/udp"], ["8000/tcp", "8001/tcp"]."""
    text = _number_text(value) if not isinstance(value, str) else value
    ports, slash, protocol = (text or "").partition("/")
    protocol = protocol if slash else "tcp"
    if text is None or protocol not in _PROTOCOLS:
        raise ValueError(f"{value!r} is not a port to expose (e.g. 80, \"53/udp\", \"8000-8010\")")
    low, high = _port_range(ports, text)
    return [f"{port}/{protocol}" for port in range(low, high + 1)]


NETWORK_MODES = ("bridge", "host", "none")


def parse_network_mode(value: Any) -> str:
    if isinstance(value, str) and (value in NETWORK_MODES or re.fullmatch(r"container:[A-Za-z0-9][A-Za-z0-9_-]*", value)):
        return value
    if isinstance(value, str) and value.startswith("service:"):
        raise ValueError(f"{value!r}: write container:KEY, naming a container of this spec")
    raise ValueError(f"{value!r} is not a network mode (bridge, host, none, or container:KEY for a container of "
                     "this spec)")


_PLATFORM = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+(/[a-z0-9_]+)?)?$")


def parse_platform(value: Any) -> str:
    """"linux/amd64", "linux/arm64/v8", "linux" -> lower case, as Docker spells it."""
    if not isinstance(value, str) or not _PLATFORM.match(value.lower()):
        raise ValueError(f"{value!r} is not a platform (OS[/ARCH[/VARIANT]], e.g. linux/amd64)")
    return value.lower()


@dataclass(frozen=True, order=True)
class GpuRequest:
    """One of compose's `gpus` entries: Docker's DeviceRequest (count -1: all)."""

    driver: str = ""
    count: int = 0
    device_ids: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ("gpu",)
    options: tuple[tuple[str, str], ...] = ()


_GPU_KEYS = {"driver", "count", "device_ids", "capabilities", "options"}


def parse_gpus(value: Any) -> tuple[GpuRequest, ...]:
    """`gpus: all`, `gpus: 2`, or compose's list of {driver, count, device_ids, capabilities, options}."""
    if value == "all":
        return (GpuRequest(count=-1),)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return (GpuRequest(count=int(value)),)
    if not isinstance(value, list) or not value:
        raise ValueError(f"{value!r} is not a GPU request (all, a number of GPUs, or a list of "
                         "{driver, count, device_ids, capabilities, options})")
    out = []
    for item in value:
        if not isinstance(item, dict) or not set(item) <= _GPU_KEYS:
            raise ValueError(f"{item!r} is not a GPU request (keys: {', '.join(sorted(_GPU_KEYS))})")
        count = -1 if item.get("count") == "all" else item.get("count", 0 if item.get("device_ids") else -1)
        ids, caps, opts = item.get("device_ids", []), item.get("capabilities", ["gpu"]), item.get("options", {})
        if isinstance(count, bool) or not isinstance(count, int) or count < -1:
            raise ValueError(f"GPU count {item.get('count')!r} is not a number or 'all'")
        if count and ids:
            raise ValueError("give a GPU count or device_ids, not both")
        if not (isinstance(ids, list) and isinstance(caps, list) and isinstance(opts, dict)):
            raise ValueError("device_ids and capabilities are lists, options a mapping")
        out.append(GpuRequest(str(item.get("driver", "")), int(count), tuple(str(i) for i in ids),
                              tuple(str(c) for c in caps), tuple(sorted((str(k), str(v)) for k, v in opts.items()))))
    return tuple(out)


def at_least(parse: Any, minimum: int, shown: str) -> Any:
    """`parse`, refusing values below `minimum` (Docker's own lower bounds, said in its units)."""
    def check(value: Any) -> int:
        number = parse(value)
        if number < minimum:
            raise ValueError(f"{value!r} is below the minimum of {shown}")
        return number
    return check


def ip_of(version: int | None) -> Any:
    """A parser for an IP address (of one version, or either), written as Docker prints it."""
    def parse(value: Any) -> str | None:
        if value is None:
            return None
        try:
            address = ipaddress.ip_address(value.strip("[]") if isinstance(value, str) else "")
        except ValueError:
            address = None
        if address is None or (version is not None and address.version != version):
            kind = f"an IPv{version}" if version else "an IP"
            raise ValueError(f"{value!r} is not {kind} address")
        return str(address)
    return parse


# -- environment: compose's list form, bare names, env files ---------------------------------------

class _Unset:
    """The value of a bare `NAME` in an env list: passed to Docker as just the name, so it is unset."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


def check_env_name(name: str) -> None:
    if not name or "=" in name or "\0" in name or any(ch.isspace() for ch in name):
        raise ValueError(f"{name!r} is not an environment variable name (it must be non-empty, without "
                         "'=', spaces or NUL)")


def env_value(value: Any) -> Any:
    """A value of the env mapping: text (numbers become text), a secret, or UNSET from the list form."""
    from quayform.sensitive import Sensitive

    if value is UNSET or isinstance(value, Sensitive):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number_text(value)
    if value is None:
        raise ValueError("a value is required (write \"\" for an empty string)")
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def parse_env_item(item: Any) -> tuple[str, Any]:
    """One "NAME=VALUE" of compose's env list (the value may hold a secret); a bare "NAME" is UNSET."""
    from quayform.later import Later, join
    from quayform.sensitive import Sensitive

    if isinstance(item, Later):  # "TOKEN=${robots.ci.token}": the name is in the leading text
        head = item.parts[0] if item.parts and isinstance(item.parts[0], str) else ""
        if "=" not in head:
            raise ValueError("write NAME=VALUE, with the name before any reference")
        name, _, rest = head.partition("=")
        return name, join([rest, *item.parts[1:]])
    if isinstance(item, Sensitive):
        name, sep, rest = item.reveal().partition("=")
        if not sep or "${" in name:
            raise ValueError("write NAME=VALUE, with the name before any reference")
        return name, Sensitive(rest)
    if not isinstance(item, str):
        raise ValueError(f"{item!r} is not \"NAME=VALUE\"")
    name, sep, rest = item.partition("=")
    return (name, rest) if sep else (name, UNSET)


def parse_label_item(item: Any) -> tuple[str, str]:
    """One "KEY=VALUE" of compose's label list; a bare "KEY" is an empty label."""
    if not isinstance(item, str) or not item.partition("=")[0]:
        raise ValueError(f"{item!r} is not \"KEY=VALUE\"")
    key, _, value = item.partition("=")
    return key, value


@dataclass(frozen=True)
class EnvFile:
    """An `env_file` as the spec's resolver read it: its path (relative to the spec) and its variables."""

    path: str
    values: tuple[tuple[str, Any], ...]


def env_files(value: Any) -> tuple[EnvFile, ...]:
    """env_file, read by the container kind's resolver; anything else is a path that could not be read."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if all(isinstance(item, EnvFile) for item in items):
        return tuple(items)
    raise ValueError("env_file is a path relative to the spec's folder, or a list of them")


def parse_subnet(value: Any) -> str:
    """"10.5.0.0/24" or "fd00::/64", as Docker prints it; host bits set are an error (10.5.0.1/24)."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a subnet (e.g. \"10.5.0.0/24\")")
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a subnet ({exc})") from None
