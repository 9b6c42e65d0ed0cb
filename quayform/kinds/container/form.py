"""A container's declaration (what create sends) and its compared form, desired and live.

`declare()` turns the spec's container into a typed `ContainerPayload`; `desired_form()`
folds the image's defaults (env, cmd, entrypoint, user, working dir, labels, healthcheck,
volumes, stop signal) into that same declaration, so a container that was just created
compares equal and never shows a perpetual diff, and compare and create read the same
values. `live_form()` reads `docker inspect` into the same shape. Pure: no Docker here.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from quayform import labels as L
from quayform.address import Address
from quayform.changes import UNKNOWN, Lifecycle
from quayform.kinds.container import options as O
from quayform.kinds.engine_kind import ownership_labels
from quayform.sensitive import Sensitive
from quayform.spec.models import Container, Healthcheck
from quayform.spec.values import UNSET, PortBinding, format_duration

_ANONYMOUS_VOLUME = re.compile(r"^[0-9a-f]{64}$")
RUN_LABEL = L.PREFIX + "run"  # "once" on a container that runs to completion; absent on a service
FINISHED = ("exited", "dead")  # Docker's states of a container whose process is over


@dataclass(frozen=True)
class ImageInfo:
    """What an image contributes to a container's configuration when the spec is silent."""

    id: str
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    user: str = ""
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    healthcheck: dict[str, Any] | None = None
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    upstream: str = ""  # pull_policy always: "repo@digest" the registry serves now, when this image is not it


@dataclass(frozen=True)
class MountSpec:
    """One mount as create sends it: a named volume (by its Docker name), a host path, or anonymous."""

    kind: str  # "volume" | "bind" | "anonymous"
    source: str  # Docker volume name or absolute host path; "" for anonymous
    target: str
    read_only: bool = False
    options: tuple[str, ...] = ()

    def form(self) -> str:
        mode = "ro" if self.read_only else "rw"
        if self.kind == "anonymous":
            return f"anonymous:{self.target}"
        return f"{self.kind}:{self.source}:{self.target}:{mode}"


@dataclass(frozen=True)
class FileWrite:
    """A file written into the container before it starts."""

    path: str
    content: Any  # str or Sensitive
    mode: int
    owner: str | None


@dataclass(frozen=True)
class ContainerPayload:
    """Everything create sends to the engine, exactly as the spec declares it (no image defaults)."""

    name: str
    image: str
    command: list[str] | None
    entrypoint: list[str] | None
    env: dict[str, Any]  # values are str or Sensitive
    ports: tuple[PortBinding, ...]
    mounts: tuple[MountSpec, ...]
    networks: tuple[tuple[str, tuple[str, ...]], ...]  # (Docker network name, aliases); first is joined at create
    restart: tuple[str, int]
    privileged: bool
    user: str | None
    working_dir: str | None
    labels: dict[str, str]  # the spec's labels and quayform's own
    healthcheck: dict[str, Any] | None  # Docker's form
    stop_signal: str | None
    stop_timeout: int | None  # seconds
    files: tuple[FileWrite, ...]
    image_volumes: tuple[str, ...] | None = None  # the targets the image declares as VOLUME; None: not known yet
    options: dict[str, Any] = field(default_factory=dict)  # the table options the spec sets (options.py), parsed
    hostname: str | None = None
    network_mode: str | None = None  # as the spec sets it: bridge, host, none, container:<Docker name>
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)  # network name -> fixed ipv4/ipv6 address
    exposed: tuple[str, ...] | None = None  # the spec's `expose`, e.g. ("80/tcp",)
    logging: dict[str, Any] | None = None  # compose's {driver, options}
    pull_policy: str = "missing"
    run: str = "always"  # "once": a job, waited for until it exits (0 is success)


def image_info(raw: Mapping[str, Any]) -> ImageInfo:
    """The parts of `docker image inspect` that a container inherits."""
    config = raw.get("Config") or {}
    return ImageInfo(
        id=raw["Id"],
        env=split_env(config.get("Env")),
        cmd=config.get("Cmd"),
        entrypoint=config.get("Entrypoint"),
        user=config.get("User") or "",
        working_dir=config.get("WorkingDir") or "",
        labels=dict(config.get("Labels") or {}),
        healthcheck=healthcheck_form(config.get("Healthcheck")),
        volumes=tuple(sorted((config.get("Volumes") or {}).keys())),
        stop_signal=config.get("StopSignal") or "",
    )


def split_env(entries: list[str] | None) -> dict[str, str | None]:
    """["A=1", "B="] -> {"A": "1", "B": ""}; a bare "C" (unset in the process) -> None; later entries win."""
    env: dict[str, str | None] = {}
    for entry in entries or []:
        key, sep, value = entry.partition("=")
        env[key] = value if sep else None
    return env


def healthcheck_form(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Docker's healthcheck with zero/absent fields dropped (Docker's own defaults apply)."""
    if not raw or not raw.get("Test"):
        return None
    form: dict[str, Any] = {"test": list(raw["Test"])}
    for key, docker_key in (("interval", "Interval"), ("timeout", "Timeout"), ("retries", "Retries"),
                            ("start_period", "StartPeriod")):
        if raw.get(docker_key):
            form[key] = raw[docker_key] if key == "retries" else format_duration(raw[docker_key])
    return form


def healthcheck_to_docker(check: Healthcheck) -> dict[str, Any]:
    out: dict[str, Any] = {"Test": check.command}
    for key, docker_key in (("interval", "Interval"), ("timeout", "Timeout"), ("retries", "Retries"),
                            ("start_period", "StartPeriod")):
        value = getattr(check, key)
        if value:
            out[docker_key] = value
    return out


def bind_source(source: str, base_dir: str) -> str:
    """A bind mount's host path, made absolute relative to the spec's folder."""
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(source)))


READ_BACK = "read back"  # in the files label: this file holds a secret and is compared by reading it back


def file_owner(owner: str | None) -> str:
    """`uid:gid` as the written file carries it (no gid means the uid's own number, as the tar says)."""
    uid, _, gid = (owner or "0").partition(":")
    return f"{uid}:{gid or uid}"


def file_form(address: Address, write: FileWrite) -> Any:
    """How a written file is compared. A file without secrets: mode, owner and a digest of its
    (public) content, recorded in a label. A file with a secret: never digested (a digest in a
    label would let anyone who can inspect the container test guesses); its mode, owner and
    content are compared as a secret, read back from the container."""
    if isinstance(write.content, Sensitive):  # a Later (a robot's token) stays one until it is settled
        from quayform.later import join

        return join([f"{write.mode:04o} {file_owner(write.owner)} ", write.content])
    return f"{write.mode:04o} {write.owner or '0:0'} {L.content_digest(str(address), write.path, str(write.content))}"


def file_label(address: Address, files: tuple[FileWrite, ...]) -> str:
    forms = {w.path: (f"{w.mode:04o} {file_owner(w.owner)} {READ_BACK}" if isinstance(w.content, Sensitive)
                      else file_form(address, w)) for w in files}
    return json.dumps(forms, sort_keys=True)


def read_back_paths(labels: Mapping[str, str]) -> list[str]:
    """The files of a container whose content must be read back to be compared."""
    try:
        forms = json.loads(labels.get(L.FILES, "{}"))
    except ValueError:
        return []
    return sorted(path for path, form in forms.items() if isinstance(form, str) and form.endswith(" " + READ_BACK))


def declare(address: Address, container: Container, spec: Any, name_of: Any, lifecycle: Lifecycle) -> ContainerPayload:
    """The container as create will send it, from the spec alone."""
    mounts = []
    for mount in container.volumes:
        if mount.kind == "volume":
            source = name_of(Address("volumes", mount.source))
        elif mount.kind == "bind":
            source = bind_source(mount.source, spec.base_dir)
        else:
            source = ""
        mounts.append(MountSpec(mount.kind, source, mount.target, mount.read_only, mount.options))
    files = tuple(FileWrite(path, f.content, f.mode, f.owner) for path, f in container.files.items())
    env = container.environment
    labels = {**container.labels, **ownership_labels(spec.stack, address, lifecycle),
              L.FILES: file_label(address, files),
              L.SENSITIVE_ENV: ",".join(sorted(k for k, v in env.items() if isinstance(v, Sensitive)))}
    if container.platform:
        labels[O.PLATFORM_LABEL] = container.platform
    if container.run == "once":
        labels[RUN_LABEL] = "once"
    networks, network_mode = _networks(address, container, name_of)
    addresses = {name_of(Address("networks", n)): {k: v for k, v in (("ipv4_address", a.ipv4_address),
                                                                       ("ipv6_address", a.ipv6_address)) if v}
                 for n, a in container.attachments.items() if a.ipv4_address or a.ipv6_address}
    logging = container.logging
    return ContainerPayload(
        name=name_of(address), image=container.image, command=container.command, entrypoint=container.entrypoint,
        env=env, ports=tuple(container.port_bindings), mounts=tuple(mounts),
        networks=networks, restart=container.restart, privileged=container.privileged,
        user=container.user, working_dir=container.working_dir, labels=labels,
        healthcheck=healthcheck_to_docker(container.healthcheck) if container.healthcheck else None,
        stop_signal=container.stop_signal,
        stop_timeout=container.stop_grace_period // 1_000_000_000 if container.stop_grace_period is not None else None,
        files=files, options=O.declared(container), hostname=container.hostname, network_mode=network_mode,
        addresses=addresses, exposed=tuple(container.exposed) if container.exposed is not None else None,
        logging={"driver": logging.driver, "options": dict(logging.options)} if logging else None,
        pull_policy=container.pull_policy, run=container.run)


def _networks(address: Address, container: Container, name_of: Any) -> tuple[tuple, str | None]:
    """(networks joined, with their aliases; the network mode when it is not the networks')."""
    mode = container.network_mode
    if mode in ("host", "none"):
        return ((mode, ()),), mode
    if mode and mode.startswith("container:"):
        return (), "container:" + name_of(Address("containers", mode.partition(":")[2]))
    networks = tuple((name_of(Address("networks", n)), tuple(sorted({address.key, *attached.aliases})))
                     for n, attached in container.attachments.items())
    return networks or (("bridge", ()),), mode


def restart_text(restart: tuple[str, int]) -> str:
    name, retries = restart
    return f"{name}:{retries}" if retries else name


def _desired_healthcheck(declared: ContainerPayload, image: ImageInfo | None) -> Any:
    """The spec's healthcheck; fields it leaves out come from the image's, as Docker merges them."""
    if declared.healthcheck is None:
        return image.healthcheck if image is not None else UNKNOWN
    return {**((image.healthcheck or {}) if image is not None else {}), **(healthcheck_form(declared.healthcheck) or {})}


def _default(value: Any, image: ImageInfo | None, attribute: str) -> Any:
    if value is not None:
        return value
    return getattr(image, attribute) if image is not None else UNKNOWN


def desired_form(address: Address, declared: ContainerPayload, image: ImageInfo | None) -> dict[str, Any]:
    """The declaration with the image's defaults folded in: what the engine will report once created."""
    known = image is not None
    env: dict[str, Any] = dict(image.env) if known else {}
    env.update({k: None if v is UNSET else v for k, v in declared.env.items()})
    if declared.command:
        command: Any = declared.command
    elif declared.entrypoint:
        command = None  # Docker drops the image's CMD when the entrypoint is overridden (not when emptied)
    else:
        command = image.cmd if known else UNKNOWN
    mounts = {m.target: m.form() for m in declared.mounts}
    for target in image.volumes if known else ():
        target = target.rstrip("/") or "/"
        mounts.setdefault(target, f"anonymous:{target}")
    user_labels = {k: v for k, v in declared.labels.items() if not k.startswith(L.PREFIX)}
    return {
        "name": declared.name,
        "image": declared.image,
        "image_id": (image.upstream or image.id) if known else UNKNOWN,
        "command": command,
        "entrypoint": _default(declared.entrypoint, image, "entrypoint"),
        "env": env,
        "ports": sorted(str(p) for p in declared.ports),
        "mounts": sorted(mounts.values()),
        "networks": {name: [a for a in aliases if a != declared.hostname] for name, aliases in declared.networks},
        "restart": restart_text(declared.restart),
        "privileged": declared.privileged,
        "user": _default(declared.user, image, "user"),
        "working_dir": _default(declared.working_dir, image, "working_dir"),
        "labels": {**(image.labels if known else {}), **user_labels},
        "healthcheck": _desired_healthcheck(declared, image),
        "stop_signal": declared.stop_signal or (image.stop_signal if known else UNKNOWN),
        "stop_grace_period": declared.stop_timeout,
        "files": {w.path: file_form(address, w) for w in declared.files},
        "run": "once" if declared.run == "once" else None,
        # a service runs for good; a job has run once, to its end, and exited with 0
        **({"finished": True, "exit_code": 0} if declared.run == "once" else {"running": True}),
        **O.option_forms(declared),
    }


@dataclass(frozen=True)
class LiveContainer:
    """What apply needs of a live container beyond its form."""

    anonymous_volumes: dict[str, str] = field(default_factory=dict)  # target -> volume name
    import_marker: str | None = None  # the marker volume of `quayform import`, removed once replaced
    paused: bool = False
    exposed: tuple[str, ...] = ()  # the ports it exposes (its image's among them: judged, not in the form)
    status: str = ""  # Docker's State.Status: created, running, paused, restarting, exited, dead
    exit_code: int | None = None  # State.ExitCode, once it has exited
    stack: str = ""  # the stack it belongs to (labels the marker written while it is deleted)


def listed_form(raw: Mapping[str, Any]) -> tuple[dict[str, Any], LiveContainer]:
    """What `GET /containers/json` alone tells: enough to delete in the right order, with its
    anonymous volumes and what quayform wrote into them (destroy)."""
    mounts, anonymous = [], {}
    for mount in raw.get("Mounts") or []:
        if mount.get("Type") == "volume" and _ANONYMOUS_VOLUME.match(mount.get("Name") or ""):
            anonymous[mount.get("Destination", "")] = mount["Name"]
        elif mount.get("Type") == "volume":
            mounts.append(f"volume:{mount.get('Name')}:{mount.get('Destination')}:rw")
    networks = ((raw.get("NetworkSettings") or {}).get("Networks") or {})
    published = sorted({f"{p.get('IP') or ''}:{p['PublicPort']}/{p.get('Type') or 'tcp'}"
                        for p in raw.get("Ports") or [] if p.get("PublicPort")})
    try:
        files = json.loads((raw.get("Labels") or {}).get(L.FILES, "{}"))
    except ValueError:
        files = {}
    form = {
        "name": listed_name(raw),
        "image": raw.get("Image"),
        "mounts": sorted(mounts),
        "networks": {name: [] for name in networks},
        "running": raw.get("State") == "running",
        "published": published,  # host ports in use (checked against what the spec wants to publish)
        "files": files,
    }
    return form, LiveContainer(anonymous)


def listed_name(raw: Mapping[str, Any]) -> str:
    return (raw.get("Names") or ["/" + raw["Id"][:12]])[0].lstrip("/")


def _ports(host: Mapping[str, Any]) -> list[str]:
    ports = []
    for container_port, bindings in sorted((host.get("PortBindings") or {}).items()):
        port, _, proto = container_port.partition("/")
        for binding in bindings or []:
            host_ip, host_port = binding.get("HostIp") or "", binding.get("HostPort") or ""
            where = f"{host_ip}:{host_port}" if host_ip else host_port
            ports.append(f"{where}->{port}/{proto}" if where else f"{port}/{proto}")
    return sorted(ports)


def _mounts(raw: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    mounts, anonymous = [], {}
    for mount in raw.get("Mounts") or []:
        mode = "rw" if mount.get("RW", True) else "ro"
        target = mount.get("Destination", "")
        if mount.get("Type") == "volume" and _ANONYMOUS_VOLUME.match(mount.get("Name") or ""):
            mounts.append(f"anonymous:{target}")
            anonymous[target] = mount["Name"]
        elif mount.get("Type") == "volume":
            mounts.append(f"volume:{mount.get('Name')}:{target}:{mode}")
        else:
            mounts.append(f"bind:{mount.get('Source')}:{target}:{mode}")
    return sorted(mounts), anonymous


def live_form(raw: Mapping[str, Any]) -> tuple[dict[str, Any], LiveContainer]:
    """`docker inspect` of a container -> the same shape as desired_form(), and what apply needs."""
    config = raw.get("Config") or {}
    host = raw.get("HostConfig") or {}
    short_id = raw["Id"][:12]
    mounts, anonymous = _mounts(raw)
    networks = {}
    engine_aliases = (short_id, raw["Id"], config.get("Hostname"))  # Docker adds its id and hostname on each network
    for name, endpoint in ((raw.get("NetworkSettings") or {}).get("Networks") or {}).items():
        aliases = [a for a in (endpoint or {}).get("Aliases") or [] if a not in engine_aliases]
        networks[name] = sorted(set(aliases))
    policy = host.get("RestartPolicy") or {}
    restart = policy.get("Name") or "no"
    if restart == "on-failure" and policy.get("MaximumRetryCount"):
        restart = f"on-failure:{policy['MaximumRetryCount']}"
    container_labels = config.get("Labels") or {}
    try:
        files = json.loads(container_labels.get(L.FILES, "{}"))
    except ValueError:
        files = {}
    env: dict[str, Any] = split_env(config.get("Env"))
    for key in filter(None, container_labels.get(L.SENSITIVE_ENV, "").split(",")):
        if key in env:
            env[key] = Sensitive(env[key])  # a secret the spec no longer names must stay hidden too
    form = {
        "name": raw.get("Name", "").lstrip("/"),
        "image": config.get("Image"),
        "image_id": raw.get("Image"),
        "command": config.get("Cmd"),
        "entrypoint": config.get("Entrypoint"),
        "env": env,
        "ports": _ports(host),
        "mounts": mounts,
        "networks": networks,
        "restart": restart,
        "privileged": bool(host.get("Privileged")),
        "user": config.get("User") or "",
        "working_dir": config.get("WorkingDir") or "",
        "labels": L.ours(container_labels),
        "healthcheck": healthcheck_form(config.get("Healthcheck")),
        "stop_signal": config.get("StopSignal") or "",
        "stop_grace_period": config.get("StopTimeout"),
        "files": files,
        "running": _running(raw.get("State") or {}),
        "run": container_labels.get(RUN_LABEL),
        **O.live_options(raw),
    }
    state = raw.get("State") or {}
    return form, LiveContainer(anonymous, paused=bool(state.get("Paused")),
                               exposed=tuple(sorted((config.get("ExposedPorts") or {}).keys())),
                               status=state.get("Status") or "", exit_code=state.get("ExitCode"))


def _running(state: Mapping[str, Any]) -> bool:
    """Running for good: not stopped, not between two restarts of a crash loop, not paused."""
    return bool(state.get("Running")) and not state.get("Restarting") and not state.get("Paused")


def judge_finished(desired: Any, form: Mapping[str, Any], payload: Any) -> bool:
    """Whether the container's process is over (a job that ran; a service that stopped)."""
    return getattr(payload, "status", "") in FINISHED


def judge_exit_code(desired: Any, form: Mapping[str, Any], payload: Any) -> Any:
    """The code it exited with; while it still runs there is none yet, so it is taken to be the desired one
    (`finished` differs then, and apply waits for it)."""
    if getattr(payload, "status", "") not in FINISHED:
        return desired
    return getattr(payload, "exit_code", None)
