"""The comparable form of a container, built from the spec (desired) or from `docker inspect` (live).

Both sides produce the same dict shape. Image defaults (env, cmd, entrypoint, user,
working dir, labels, healthcheck, volumes) are folded into the desired side, so a
container that was just created compares equal and never shows a perpetual diff.
Pure: no Docker calls here.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Mapping

from quayform import labels as L
from quayform.changes import UNKNOWN
from quayform.resources.base import FieldPolicy, ImageInfo, split_env
from quayform.sensitive import Sensitive
from quayform.spec.models import Container, Healthcheck, Spec
from quayform.spec.values import Mount, format_duration

FIELDS = FieldPolicy(
    replace_on=frozenset({"name", "image", "image_id", "command", "entrypoint", "env", "ports", "mounts",
                          "privileged", "user", "working_dir", "labels", "healthcheck", "files",
                          "stop_signal", "stop_grace_period"}),
    update_in_place=frozenset({"restart", "networks", "running"}),
    mappings=frozenset({"env", "labels", "networks", "files"}),
)

_ANONYMOUS_VOLUME = re.compile(r"^[0-9a-f]{64}$")


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
        healthcheck=_healthcheck_form(config.get("Healthcheck")),
        volumes=tuple(sorted((config.get("Volumes") or {}).keys())),
        stop_signal=config.get("StopSignal") or "",
    )


def _healthcheck_form(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
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
    out: dict[str, Any] = {"Test": list(check.test)}
    for key, docker_key in (("interval", "Interval"), ("timeout", "Timeout"), ("retries", "Retries"),
                            ("start_period", "StartPeriod")):
        value = getattr(check, key)
        if value:
            out[docker_key] = value
    return out


def _desired_healthcheck(container: Container, image: ImageInfo | None) -> Any:
    """The spec's healthcheck; fields it leaves out come from the image's, as Docker merges them."""
    if container.healthcheck is None:
        return image.healthcheck if image is not None else UNKNOWN
    spec_form = _healthcheck_form(healthcheck_to_docker(container.healthcheck)) or {}
    return {**((image.healthcheck or {}) if image is not None else {}), **spec_form}


def _mount_form(mount: Mount, spec: Spec) -> str:
    mode = "ro" if mount.read_only else "rw"
    if mount.kind == "volume":
        return f"volume:{spec.volume_name(mount.source)}:{mount.target}:{mode}"
    if mount.kind == "bind":
        return f"bind:{bind_source(mount, spec)}:{mount.target}:{mode}"
    return f"anonymous:{mount.target}"


def bind_source(mount: Mount, spec: Spec) -> str:
    """A bind mount's host path, made absolute relative to the spec's folder."""
    path = os.path.expanduser(mount.source)
    return os.path.normpath(os.path.join(spec.base_dir, path))


def file_form(address: str, path: str, content: Any, mode: int, owner: str | None) -> str:
    text = content.reveal() if isinstance(content, Sensitive) else str(content)
    return f"{mode:04o} {owner or '0:0'} {L.content_digest(address, path, text)}"


def desired_container(key: str, container: Container, spec: Spec, image: ImageInfo | None) -> dict[str, Any]:
    """The container as the spec wants it, image defaults folded in; "_" keys are apply's payload."""
    address = f"containers.{key}"
    known = image is not None
    env: dict[str, Any] = dict(image.env) if known else {}
    env.update(container.env)
    entrypoint = container.entrypoint if container.entrypoint is not None else (image.entrypoint if known else UNKNOWN)
    if container.command:
        command: Any = container.command
    elif container.entrypoint:
        command = None  # Docker drops the image's CMD when the entrypoint is overridden (not when emptied)
    else:
        command = image.cmd if known else UNKNOWN
    mounts = {m.target: _mount_form(m, spec) for m in container.volumes}
    for target in image.volumes if known else ():
        mounts.setdefault(target.rstrip("/") or "/", f"anonymous:{target.rstrip('/') or '/'}")
    restart, retries = container.restart
    desired: dict[str, Any] = {
        "name": spec.container_name(key),
        "image": container.image,
        "image_id": image.id if known else UNKNOWN,
        "command": command,
        "entrypoint": entrypoint,
        "env": env,
        "ports": sorted(str(p) for p in container.port_bindings),
        "mounts": sorted(mounts.values()),
        "networks": ({spec.network_name(n): [key] for n in container.networks} or {"bridge": []}),
        "restart": f"{restart}:{retries}" if retries else restart,
        "privileged": container.privileged,
        "user": container.user if container.user is not None else (image.user if known else UNKNOWN),
        "working_dir": container.working_dir if container.working_dir is not None else (image.working_dir if known else UNKNOWN),
        "labels": {**(image.labels if known else {}), **container.labels},
        "healthcheck": _desired_healthcheck(container, image),
        "stop_signal": container.stop_signal or (image.stop_signal if known else UNKNOWN),
        "stop_grace_period": (container.stop_grace_period // 1_000_000_000) if container.stop_grace_period is not None else None,
        "files": {path: file_form(address, path, f.content, f.mode, f.owner) for path, f in container.files.items()},
        "running": True,
    }
    if not known:
        # Without the image we only know what the spec adds; diff compares just that part.
        desired["_partial"] = ("env", "labels", "mounts")
    desired["_spec"] = container
    desired["_address"] = address
    desired["_stack"] = spec.stack
    desired["_sensitive_env"] = sorted(k for k, v in container.env.items() if isinstance(v, Sensitive))
    desired["_volume_names"] = {m.target: spec.volume_name(m.source) for m in container.volumes if m.kind == "volume"}
    desired["_binds"] = {m.target: bind_source(m, spec) for m in container.volumes if m.kind == "bind"}
    desired["_config_hash"] = L.config_hash(desired)
    return desired


def listed_container(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What `GET /containers/json` alone tells: enough to delete in the right order (destroy)."""
    mounts = []
    for mount in raw.get("Mounts") or []:
        if mount.get("Type") == "volume" and not _ANONYMOUS_VOLUME.match(mount.get("Name") or ""):
            mounts.append(f"volume:{mount.get('Name')}:{mount.get('Destination')}:rw")
    networks = ((raw.get("NetworkSettings") or {}).get("Networks") or {})
    labels = raw.get("Labels") or {}
    return {
        "name": (raw.get("Names") or ["/" + raw["Id"][:12]])[0].lstrip("/"),
        "image": raw.get("Image"),
        "mounts": sorted(mounts),
        "networks": {name: [] for name in networks},
        "running": raw.get("State") == "running",
        "_prevent_destroy": labels.get(L.PREVENT_DESTROY) == "true",
    }


def live_container(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`docker inspect` of a container -> the same shape as desired_container()."""
    config = raw.get("Config") or {}
    host = raw.get("HostConfig") or {}
    short_id = raw["Id"][:12]
    ports = []
    for container_port, bindings in sorted((host.get("PortBindings") or {}).items()):
        port, _, proto = container_port.partition("/")
        for binding in bindings or []:
            host_ip, host_port = binding.get("HostIp") or "", binding.get("HostPort") or ""
            where = f"{host_ip}:{host_port}" if host_ip else host_port
            ports.append(f"{where}->{port}/{proto}" if where else f"{port}/{proto}")
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
    networks = {}
    for name, endpoint in ((raw.get("NetworkSettings") or {}).get("Networks") or {}).items():
        aliases = [a for a in (endpoint or {}).get("Aliases") or [] if a not in (short_id, raw["Id"])]
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
    return {
        "name": raw.get("Name", "").lstrip("/"),
        "image": config.get("Image"),
        "image_id": raw.get("Image"),
        "command": config.get("Cmd"),
        "entrypoint": config.get("Entrypoint"),
        "env": env,
        "ports": sorted(ports),
        "mounts": sorted(mounts),
        "networks": networks,
        "restart": restart,
        "privileged": bool(host.get("Privileged")),
        "user": config.get("User") or "",
        "working_dir": config.get("WorkingDir") or "",
        "labels": L.ours(container_labels),
        "healthcheck": _healthcheck_form(config.get("Healthcheck")),
        "stop_signal": config.get("StopSignal") or "",
        "stop_grace_period": config.get("StopTimeout"),
        "files": files,
        "running": bool((raw.get("State") or {}).get("Running")),
        "_anonymous_volumes": anonymous,
        "_prevent_destroy": container_labels.get(L.PREVENT_DESTROY) == "true",
    }
