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
