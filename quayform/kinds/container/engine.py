"""Containers on the engine: create (files written before start), update in place, delete, wait, pull.

Everything here goes through the `DockerEngine` connection the executor hands over, and
builds only from the change's typed payload (`ContainerPayload`): the very values the
compared form was made from.
"""

from __future__ import annotations

import io
import secrets
import tarfile
import time
from typing import Any, Callable

from quayform.changes import Change
from quayform.errors import ApplyError, EngineError, ReadinessError
from quayform.kinds.container.form import ContainerPayload, FileWrite, LiveContainer
from quayform.sensitive import reveal
from quayform.spec.values import parse_duration

LOG_TAIL = 8


def files_tar(files: tuple[FileWrite, ...]) -> bytes:
    """A tar of the files with full paths; Docker creates missing parent folders."""
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for write in files:
            data = reveal(write.content).encode()
            info = tarfile.TarInfo(write.path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), write.mode, now
            if write.owner:
                uid, _, gid = write.owner.partition(":")
                info.uid, info.gid = int(uid), int(gid or uid)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def binds(payload: ContainerPayload, keep_anonymous: dict[str, str]) -> tuple[list[str], list[str]]:
    """(Binds for HostConfig, anonymous volume targets for Config.Volumes)."""
    out, anonymous = [], []
    for mount in payload.mounts:
        options = ",".join(("ro" if mount.read_only else "rw",) + mount.options)
        if mount.kind in ("volume", "bind"):
            out.append(f"{mount.source}:{mount.target}:{options}")
        elif mount.target in keep_anonymous:
            out.append(f"{keep_anonymous[mount.target]}:{mount.target}:{options}")
        else:
            anonymous.append(mount.target)
    # Anonymous volumes the image declares: keep the old data too, as compose does.
    declared = {m.target for m in payload.mounts}
    for target, volume in keep_anonymous.items():
        if target not in declared:
            out.append(f"{volume}:{target}:rw")
    return out, anonymous


def restart_policy(restart: tuple[str, int]) -> dict[str, Any]:
    name, retries = restart
    return {"Name": "" if name == "no" else name, "MaximumRetryCount": retries}


def port_bindings(payload: ContainerPayload) -> dict[str, list[dict[str, str]]]:
    bindings: dict[str, list[dict[str, str]]] = {}
    for binding in payload.ports:
        bindings.setdefault(binding.key(), []).append({"HostIp": binding.host_ip, "HostPort": binding.host_port})
    return bindings


def create(change: Change, engine: Any) -> None:
    """Create under a staging name, configure, start, then take the real name.

    A container that holds its real name is therefore always complete: one left behind
    by an interrupted apply still has its staging name, and the next plan replaces it.
    """
    live: LiveContainer = change.live_payload or LiveContainer()
    keep = live.anonymous_volumes if change.action.is_replace else {}
    cid = create_started(change.payload, engine, keep)
    take_name(engine, cid, change.payload.name)


def create_before_destroy(change: Change, engine: Any) -> None:
    """Start the new container (staging name) and wait for it before removing the old one."""
    payload: ContainerPayload = change.payload
    cid = create_started(payload, engine, {})
    try:
        wait_ready(change, engine, name=cid)
    except BaseException:
        remove(engine, cid, remove_volumes=True)
        raise
    delete(change, engine, frozenset())
    take_name(engine, cid, payload.name)


def take_name(engine: Any, cid: str, name: str) -> None:
    try:
        engine.api.rename(cid, name)
    except engine.Failure as exc:
        remove(engine, cid, remove_volumes=False)
        raise ApplyError(f"cannot name the new container {name}: {engine.describe(exc)}") from None


def create_started(payload: ContainerPayload, engine: Any, keep: dict[str, str]) -> str:
    api = engine.api
    staging = f"{payload.name}-qf-{secrets.token_hex(4)}"
    (first_net, first_aliases), *other_networks = payload.networks
    bind_list, anonymous = binds(payload, keep)
    with engine.errors(f"creating container {payload.name}"):
        host_config = api.create_host_config(binds=bind_list or None, restart_policy=restart_policy(payload.restart),
                                             privileged=payload.privileged, network_mode=first_net)
        host_config["PortBindings"] = port_bindings(payload)
        endpoint = api.create_endpoint_config(aliases=list(first_aliases) or None)
        created = api.create_container(
            image=payload.image, name=staging, command=payload.command, entrypoint=payload.entrypoint,
            environment=[f"{k}={v}" for k, v in reveal(payload.env).items()], labels=payload.labels,
            ports=[(b.container_port, b.protocol) for b in payload.ports] or None, volumes=anonymous or None,
            user=payload.user, working_dir=payload.working_dir, healthcheck=payload.healthcheck,
            stop_signal=payload.stop_signal, stop_timeout=payload.stop_timeout, host_config=host_config,
            networking_config=api.create_networking_config({first_net: endpoint}), detach=True)
    cid = created["Id"]
    try:
        with engine.errors(f"configuring container {payload.name}"):
            for name, aliases in other_networks:
                api.connect_container_to_network(cid, name, aliases=list(aliases) or None)
            if payload.files:
                api.put_archive(cid, "/", files_tar(payload.files))
        start(engine, cid, payload.name)
    except BaseException:
        # Never leave a created-but-unstarted container behind: the next plan recreates it.
        remove(engine, cid, remove_volumes=not keep)
        raise
    return cid


def start(engine: Any, cid: str, name: str) -> None:
    try:
        engine.api.start(cid)
    except engine.Failure as exc:
        text = engine.describe(exc)
        if "port is already allocated" in text or "address already in use" in text:
            raise ApplyError(f"cannot start container {name}: a host port it publishes is already in use ({text})") from None
        raise ApplyError(f"cannot start container {name}: {text}") from None


# -- in-place updates, one function per updatable attribute -----------------------------------

def update_restart(kind: Any, change: Change, engine: Any) -> None:
    with engine.errors(f"updating container {change.name}"):
        engine.api.update_container(change.live_id, restart_policy=restart_policy(change.payload.restart))


def update_networks(kind: Any, change: Change, engine: Any) -> None:
    live: dict[str, list[str]] = (change.before or {}).get("networks") or {}
    desired: dict[str, list[str]] = (change.after or {}).get("networks") or {}
    with engine.errors(f"updating the networks of container {change.name}"):
        for net, aliases in live.items():
            if net not in desired or sorted(desired[net]) != aliases:
                engine.api.disconnect_container_from_network(change.live_id, net, force=True)
        for net, aliases in desired.items():
            if net not in live or sorted(aliases) != live[net]:
                engine.api.connect_container_to_network(change.live_id, net, aliases=aliases or None)


def update_running(kind: Any, change: Change, engine: Any) -> None:
    start(engine, change.live_id, change.name)


# -- delete ----------------------------------------------------------------------------------

def delete(change: Change, engine: Any, release: frozenset[str]) -> None:
    """Stop gracefully (databases flush), then remove; anonymous volumes go only with --volumes."""
    cid = change.live_id
    try:
        engine.api.stop(cid)  # the container's own stop_grace_period, else the engine's 10 s
    except engine.NotFound:
        pass
    except engine.Failure as exc:
        raise EngineError(f"stopping container {change.name}: {engine.describe(exc)}") from None
    remove(engine, cid, "volumes" in release)
    marker = getattr(change.live_payload, "import_marker", None)
    if marker:
        try:
            engine.api.remove_volume(marker)
        except engine.Failure:
            pass  # a leftover marker names a container that no longer exists: harmless


def remove(engine: Any, cid: str, remove_volumes: bool) -> None:
    try:
        engine.api.remove_container(cid, v=remove_volumes, force=True)
    except engine.NotFound:
        return
    except engine.Failure as exc:
        if "already in progress" not in engine.describe(exc):
            raise EngineError(f"removing container {cid[:12]}: {engine.describe(exc)}") from None


# -- readiness -------------------------------------------------------------------------------

def wait_ready(change: Change, engine: Any, timeout: float | None = None,
               sleep: Callable[[float], None] = time.sleep, name: str | None = None) -> None:
    """Return once the container runs and, if it has a healthcheck, is healthy."""
    shown = change.payload.name + (" (the new one)" if name else "")
    name = name or change.payload.name
    deadline = time.monotonic() + (timeout or default_timeout(change))
    while True:
        with engine.errors(f"inspecting container {shown}"):
            state = engine.api.inspect_container(name)["State"]
        health = state.get("Health")
        if not state.get("Running") or state.get("Restarting"):
            how = "keeps restarting" if state.get("Restarting") else f"exited with code {state.get('ExitCode')}"
            raise ReadinessError(f"container {shown} {how}; last log lines:\n{logs(engine, name)}")
        if not health or health.get("Status") == "healthy":
            return
        if health.get("Status") == "unhealthy" or time.monotonic() > deadline:
            log = (health.get("Log") or [{}])[-1]
            output = (log.get("Output") or "").strip() or "(no output)"
            raise ReadinessError(f"container {shown} did not become healthy in time (health: "
                                 f"{health.get('Status')}); last health check output: {output}")
        sleep(0.2)


def default_timeout(change: Change) -> float:
    check = (change.after or {}).get("healthcheck") or {}
    if not isinstance(check, dict):
        return 60.0
    seconds = {k: parse_duration(check.get(k, default)) / 1e9
               for k, default in (("interval", "30s"), ("timeout", "30s"), ("start_period", "0s"))}
    probes = check.get("retries", 3) + 1
    return max(30.0, seconds["start_period"] + (seconds["interval"] + seconds["timeout"]) * probes + 10)


def logs(engine: Any, name: str) -> str:
    try:
        text = engine.api.logs(name, tail=LOG_TAIL).decode(errors="replace").rstrip()
    except engine.Failure:
        return "  (logs unavailable)"
    return "\n".join("  " + line for line in text.splitlines()) or "  (no output)"


# -- images ----------------------------------------------------------------------------------

def split_reference(ref: str) -> tuple[str, str]:
    """'reg:5000/a/b:tag' -> ('reg:5000/a/b', 'tag'); digests stay whole; default tag 'latest'."""
    if "@" in ref:
        return ref, ""
    name, _, tag = ref.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return ref, "latest"


def inspect_image(engine: Any, ref: str) -> dict[str, Any] | None:
    """`docker image inspect`, or None if the image is not on the engine yet."""
    try:
        return engine.api.inspect_image(ref)
    except engine.NotFound:
        return None
    except engine.Failure as exc:
        raise EngineError(f"inspecting image {ref}: {engine.describe(exc)}") from None


def pull(engine: Any, ref: str, progress: Callable[[str], None]) -> None:
    """Pull `ref`, reporting one line per layer status change; EngineError if it cannot be pulled."""
    repository, tag = split_reference(ref)
    last: dict[str, str] = {}
    try:
        for event in engine.api.pull(repository, tag=tag or None, stream=True, decode=True):
            if "error" in event:
                raise EngineError(f"image {ref} cannot be pulled: {event['error']}")
            layer, status = event.get("id", ""), event.get("status", "")
            if status and last.get(layer) != status and status not in ("Downloading", "Extracting"):
                last[layer] = status
                progress(f"{layer + ': ' if layer else ''}{status}")
    except engine.Failure as exc:
        raise EngineError(f"image {ref} is not on this engine and cannot be pulled: {engine.describe(exc)}") from None
    if inspect_image(engine, ref) is None:
        raise EngineError(f"image {ref} is still missing after the pull")
