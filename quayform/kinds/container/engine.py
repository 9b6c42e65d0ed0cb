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

from quayform import labels as L
from quayform.changes import Change
from quayform.errors import ApplyError, EngineError, ReadinessError
from quayform.kinds.container import options as O
from quayform.kinds.container.form import ContainerPayload, FileWrite, LiveContainer
from quayform.kinds.volume import loose_anonymous
from quayform.sensitive import Sensitive, reveal
from quayform.spec.values import UNSET, parse_duration

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


def binds(payload: ContainerPayload, anonymous: dict[str, str]) -> list[str]:
    """Binds for HostConfig: named volumes, host paths, and the volumes quayform made for the
    anonymous mounts (the spec's and the image's), so that none is left untracked."""
    out = []
    for mount in payload.mounts:
        options = ",".join(("ro" if mount.read_only else "rw",) + mount.options)
        source = mount.source if mount.kind in ("volume", "bind") else anonymous[mount.target]
        out.append(f"{source}:{mount.target}:{options}")
    declared = {m.target for m in payload.mounts}
    out += [f"{volume}:{target}:rw" for target, volume in sorted(anonymous.items()) if target not in declared]
    return out


def anonymous_targets(payload: ContainerPayload, engine: Any) -> list[str]:
    """Every mount that would otherwise be an untracked anonymous volume: the spec's, and the image's VOLUMEs."""
    image_volumes = payload.image_volumes
    if image_volumes is None:  # the image was pulled after the plan: read what it declares now
        image_volumes = tuple(((inspect_image(engine, payload.image) or {}).get("Config") or {}).get("Volumes") or {})
    declared = {m.target for m in payload.mounts}
    targets = [m.target for m in payload.mounts if m.kind == "anonymous"]
    targets += [t.rstrip("/") or "/" for t in image_volumes if (t.rstrip("/") or "/") not in declared]
    return sorted(set(targets))


def make_anonymous_volumes(payload: ContainerPayload, engine: Any, keep: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(target -> volume for every anonymous mount, the volumes made now): kept ones are reused, the
    others are made with the stack's labels, named like Docker's own anonymous volumes."""
    volumes, made = {}, []
    address = payload.labels.get(L.ADDRESS, "")
    with engine.errors(f"creating the anonymous volumes of container {payload.name}"):
        targets = anonymous_targets(payload, engine)
        loose = {(v.get("Labels") or {}).get(L.PREFIX + "target"): v["Name"]
                 for v in (loose_anonymous(engine, payload.labels.get(L.STACK, "")) if targets and not keep else [])
                 if (v.get("Labels") or {}).get(L.ADDRESS) == address}
        for target in targets:
            if target in keep or target in loose:  # the previous container's volume: its data goes on
                volumes[target] = keep.get(target) or loose[target]
                continue
            name = secrets.token_hex(32)
            engine.api.create_volume(name=name, labels={
                L.STACK: payload.labels.get(L.STACK, ""), L.MARKER: "anonymous", L.ADDRESS: payload.labels.get(L.ADDRESS, ""),
                L.PREFIX + "target": target})
            volumes[target] = name
            made.append(name)
    for target, volume in keep.items():
        volumes.setdefault(target, volume)  # an old anonymous volume the new spec no longer names: keep its data
    return volumes, made


def remove_volumes(engine: Any, names: Any) -> None:
    for name in names:
        try:
            engine.api.remove_volume(name)
        except engine.Failure:
            pass  # gone already, or still in use by a container not of this stack: leave it


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
    cid, _ = create_started(change.payload, engine, keep)
    take_name(engine, cid, change.payload.name)


def create_before_destroy(change: Change, engine: Any) -> None:
    """Start the new container (staging name) and wait for it before removing the old one."""
    payload: ContainerPayload = change.payload
    cid, made = create_started(payload, engine, {})
    try:
        wait_ready(change, engine, name=cid)
    except BaseException:
        remove(engine, cid, remove_volumes=True)
        remove_volumes(engine, made)
        raise
    delete(change, engine, frozenset())
    take_name(engine, cid, payload.name)


def take_name(engine: Any, cid: str, name: str) -> None:
    try:
        engine.api.rename(cid, name)
    except engine.Failure as exc:
        why = _not_running(engine, cid, name)  # a container between two restarts cannot be renamed
        remove(engine, cid, remove_volumes=False)
        if why:
            raise ReadinessError(why) from None
        raise ApplyError(f"cannot name the new container {name}: {engine.describe(exc)}") from None


def _not_running(engine: Any, cid: str, name: str) -> str:
    """Why a just-started container is not running (exited, restarting), with its last log lines; "" if it runs."""
    try:
        raw = engine.api.inspect_container(cid)
    except engine.Failure:
        return ""
    state = raw.get("State") or {}
    if state.get("Running") and not state.get("Restarting") and not raw.get("RestartCount"):
        return ""
    how = ("keeps restarting" if state.get("Restarting") or raw.get("RestartCount")
           else f"exited with code {state.get('ExitCode')}")
    return f"container {name} {how}; last log lines:\n{logs(engine, cid)}"


def create_started(payload: ContainerPayload, engine: Any, keep: dict[str, str]) -> tuple[str, list[str]]:
    """The container made and started under a staging name, and the anonymous volumes made for it."""
    api = engine.api
    staging = f"{payload.name}-qf-{secrets.token_hex(4)}"
    other_networks = payload.networks[1:] if joins_networks(payload) else ()
    volumes, made = make_anonymous_volumes(payload, engine, keep)
    bind_list = binds(payload, volumes)
    try:
        created = _create(payload, engine, staging, bind_list)
    except BaseException:
        remove_volumes(engine, made)
        raise
    cid = created["Id"]
    try:
        with engine.errors(f"configuring container {payload.name}"):
            for name, aliases in other_networks:
                api.connect_container_to_network(cid, name, aliases=list(aliases) or None,
                                                 **fixed_address(payload.addresses.get(name)))
            if payload.files:
                api.put_archive(cid, "/", files_tar(payload.files))
        start(engine, cid, payload.name)
    except BaseException:
        # Never leave a created-but-unstarted container behind: the next plan recreates it.
        remove(engine, cid, remove_volumes=False)
        remove_volumes(engine, made)
        raise
    return cid, made


def joins_networks(payload: ContainerPayload) -> bool:
    """Whether the container is on networks of its own (not the host's, none, or another container's)."""
    return payload.network_mode in (None, "bridge")


def fixed_address(fixed: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (fixed or {}).items() if k in ("ipv4_address", "ipv6_address")}


def exposed_ports(payload: ContainerPayload) -> list[tuple[int, str]]:
    """Every port the container exposes: those it publishes and those of `expose`."""
    ports = {(b.container_port, b.protocol) for b in payload.ports}
    ports |= {(int(p.split("/")[0]), p.split("/")[1]) for p in payload.exposed or ()}
    return sorted(ports)


def environment(env: dict[str, Any]) -> list[str]:
    """NAME=VALUE for each variable; a bare NAME (the list form's unset) as just the name."""
    return [k if v is UNSET else f"{k}={v}" for k, v in reveal(env).items()]


def _create(payload: ContainerPayload, engine: Any, staging: str, bind_list: list[str]) -> dict[str, Any]:
    api = engine.api
    first = payload.networks[0] if joins_networks(payload) else None
    logging = payload.logging
    with engine.errors(f"creating container {payload.name}"):
        host_config = api.create_host_config(
            binds=bind_list or None, restart_policy=restart_policy(payload.restart), privileged=payload.privileged,
            network_mode=first[0] if first else payload.network_mode,
            log_config={"type": logging["driver"], "config": logging["options"]} if logging else None,
            **O.host_arguments(payload.options))
        host_config["PortBindings"] = port_bindings(payload)
        networking = None
        if first:
            endpoint = api.create_endpoint_config(aliases=list(first[1]) or None,
                                                  **fixed_address(payload.addresses.get(first[0])))
            networking = api.create_networking_config({first[0]: endpoint})
        return api.create_container(
            image=payload.image, name=staging, command=payload.command, entrypoint=payload.entrypoint,
            environment=environment(payload.env), labels=payload.labels, ports=exposed_ports(payload) or None,
            user=payload.user, working_dir=payload.working_dir, healthcheck=payload.healthcheck,
            stop_signal=payload.stop_signal, stop_timeout=payload.stop_timeout, host_config=host_config,
            hostname=payload.hostname, networking_config=networking, detach=True, **O.config_arguments(payload.options))


def start(engine: Any, cid: str, name: str) -> None:
    try:
        engine.api.start(cid)
    except engine.Failure as exc:
        text = engine.describe(exc)
        if "port is already allocated" in text or "address already in use" in text:
            raise ApplyError(f"cannot start container {name}: a host port it publishes is already in use ({text})") from None
        raise ApplyError(f"cannot start container {name}: {text}") from None


# -- delete ----------------------------------------------------------------------------------

def delete(change: Change, engine: Any, release: frozenset[str]) -> None:
    """Mark as dying, stop gracefully (databases flush), remove; anonymous volumes go only with --volumes.

    The marker (a bookkeeping volume naming the container's id) is written before the stop, so that if
    quayform is killed while the engine is still stopping the container, the next plan does not take
    the dying container for the real one: it plans its replacement. A marker, not a rename: renaming
    running containers on a network while others on it stop makes dockerd 20.10 miscount the
    network's endpoints, and the network then cannot be removed until dockerd restarts.
    """
    cid = change.live_id
    live: LiveContainer = change.live_payload or LiveContainer()
    marker = dying_marker(change.name, cid)
    try:
        engine.api.create_volume(name=marker, labels={L.STACK: live.stack, L.MARKER: "dying", L.DYING_ID: cid})
    except engine.Failure:
        pass  # (an engine hiccup) stopping it is what matters
    try:
        engine.api.stop(cid)  # the container's own stop_grace_period, else the engine's 10 s
    except engine.NotFound:
        pass
    except engine.Failure as exc:
        raise EngineError(f"stopping container {change.name}: {engine.describe(exc)}") from None
    remove(engine, cid, "volumes" in release)
    if "volumes" in release:
        remove_volumes(engine, live.anonymous_volumes.values())
    remove_volumes(engine, [marker])
    _forget_marker(engine, live)


def dying_marker(name: str, cid: str) -> str:
    return f"{name}-qf-dying-{cid[:12]}"


def dying_ids(volumes: Any) -> frozenset[str]:
    """The containers an apply was deleting when it ended (their markers are still there)."""
    return frozenset(labels[L.DYING_ID] for labels in ((v.get("Labels") or {}) for v in volumes)
                     if labels.get(L.MARKER) == "dying" and labels.get(L.DYING_ID))


def _forget_marker(engine: Any, live: LiveContainer) -> None:
    if live.import_marker:
        remove_volumes(engine, [live.import_marker])  # a leftover marker names a container that is gone: harmless


def remove(engine: Any, cid: str, remove_volumes: bool) -> None:
    try:
        engine.api.remove_container(cid, v=remove_volumes, force=True)
    except engine.NotFound:
        return
    except engine.Failure as exc:
        if "already in progress" not in engine.describe(exc):
            raise EngineError(f"removing container {cid[:12]}: {engine.describe(exc)}") from None


# -- readiness -------------------------------------------------------------------------------

SETTLE = 2.0  # seconds a container without a healthcheck must run, unrestarted, to count as started


def wait_ready(change: Change, engine: Any, timeout: float | None = None, name: str | None = None,
               progress: Callable[[str], None] = lambda text: None) -> None:
    """Return once the container runs for good: healthy if it has a healthcheck, else still running,
    never restarted, SETTLE seconds after it started (so one that dies at once fails the apply).
    A job (run: once) is ready once it has exited with 0. `progress` hears what the wait awaits."""
    shown = change.payload.name + (" (the new one)" if name else "")
    name = name or change.payload.name
    if getattr(change.payload, "run", "always") == "once":
        return wait_finished(engine, name, shown, progress)
    deadline = time.monotonic() + (timeout or default_timeout(change))
    first: tuple[Any, Any] | None = None
    while True:
        with engine.errors(f"inspecting container {shown}"):
            raw = engine.api.inspect_container(name)
        state = raw.get("State") or {}
        started = (raw.get("RestartCount", 0), state.get("StartedAt"))
        first = first or started
        if not state.get("Running") or state.get("Restarting") or started != first:
            how = ("keeps restarting" if state.get("Restarting") or started != first
                   else f"exited with code {state.get('ExitCode')}")
            raise ReadinessError(f"container {shown} {how}; last log lines:\n{logs(engine, name)}")
        health = state.get("Health")
        if health and health.get("Status") == "healthy":
            return
        if not health and _running_for(state.get("StartedAt")) >= SETTLE:
            return
        if health and (health.get("Status") == "unhealthy" or time.monotonic() > deadline):
            log = (health.get("Log") or [{}])[-1]
            output = (log.get("Output") or "").strip() or "(no output)"
            raise ReadinessError(f"container {shown} did not become healthy in time (health: "
                                 f"{health.get('Status')}); last health check output: {output}")
        progress(waiting_text(health, deadline - time.monotonic()))
        engine.pause(0.2, f"container {shown} to be ready")


def waiting_text(health: dict[str, Any] | None, left: float) -> str:
    """What a readiness wait awaits, for apply's progress lines: the health status, the last check's output
    (its first line, shortened; the progress view masks it), and how long the wait may still last."""
    if not health:
        return f"waiting for it to keep running for {SETTLE:.0f}s"
    log = health.get("Log") or []
    last = ((log[-1].get("Output") or "").strip().splitlines() or [""])[0] if log else ""
    last = last if len(last) <= 80 else last[:77] + "..."
    said = f"; last check (exit {log[-1].get('ExitCode')}): {last or '(no output)'}" if log else "; no check has run yet"
    return f"waiting for health: {health.get('Status')}{said}; gives up in {max(0, left):.0f}s"


def wait_finished(engine: Any, name: str, shown: str, progress: Callable[[str], None] = lambda text: None) -> None:
    """Return once the job has exited with 0; another code fails with it and the job's last log lines.

    There is no deadline (a migration takes what it takes); Ctrl-C ends the wait and leaves the job
    running, and the next plan waits for it again (`finished`), or re-runs it if it failed."""
    while True:
        with engine.errors(f"inspecting container {shown}"):
            state = engine.api.inspect_container(name).get("State") or {}
        if state.get("Status") in ("exited", "dead"):
            if state.get("ExitCode") == 0:
                return
            raise ReadinessError(f"container {shown} runs once and exited with code {state.get('ExitCode')}; "
                                 f"last log lines:\n{logs(engine, name)}")
        progress("waiting for it to exit with 0 (it runs once; no time limit)")
        engine.pause(0.5, f"container {shown} to finish")


def _running_for(started_at: str | None) -> float:
    """Seconds since Docker's StartedAt (RFC 3339 with nanoseconds); 0 when it cannot be read."""
    import datetime

    if not started_at:
        return 0.0
    try:
        seconds, _, rest = started_at.rstrip("Z").partition(".")
        when = datetime.datetime.fromisoformat(seconds).replace(tzinfo=datetime.timezone.utc)
        fraction = float("0." + "".join(ch for ch in rest if ch.isdigit())) if rest else 0.0
    except ValueError:
        return 0.0
    return (datetime.datetime.now(datetime.timezone.utc) - when).total_seconds() - fraction


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


# -- files with secrets, compared by reading them back -------------------------------------------

def read_back(engine: Any, cid: str, path: str) -> Any:
    """A written file as the container has it (mode, owner, content) as a secret; None if it is gone."""
    try:
        stream, _ = engine.api.get_archive(cid, path)
        data = b"".join(stream)
    except engine.NotFound:
        return None
    except engine.Failure as exc:
        raise EngineError(f"reading {path} back from container {cid[:12]}: {engine.describe(exc)}") from None
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        if member is None:
            return None
        content = tar.extractfile(member).read().decode("utf-8", "replace")
    return Sensitive(f"{member.mode & 0o7777:04o} {member.uid}:{member.gid} {content}")


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


def registry_digest(engine: Any, ref: str) -> str:
    """The manifest digest the registry serves for `ref` now (pull_policy: always), read without a download."""
    try:
        return engine.registry_digest(ref)
    except engine.Failure as exc:
        raise EngineError(f"asking the registry about image {ref} (pull_policy: always): {engine.describe(exc)}") \
            from None


def pull(engine: Any, ref: str, progress: Callable[[str], None], platform: str | None = None) -> None:
    """Pull `ref`, reporting one line per layer status change; EngineError if it cannot be pulled."""
    repository, tag = split_reference(ref)
    last: dict[str, str] = {}
    try:
        for event in engine.api.pull(repository, tag=tag or None, stream=True, decode=True, platform=platform):
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
