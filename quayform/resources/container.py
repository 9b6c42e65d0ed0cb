"""Containers on the engine: create (with files written before start), update in place, delete, wait.

The comparable forms live in container_form.py; this module only carries out changes.
"""

from __future__ import annotations

import io
import secrets
import json
import tarfile
import time
from typing import Any, Callable

import docker

from quayform import labels as L
from quayform.changes import Change
from quayform.docker_client import describe, engine_errors, is_not_found
from quayform.errors import ApplyError, EngineError, ReadinessError
from quayform.resources.container_form import FIELDS, healthcheck_to_docker
from quayform.sensitive import reveal
from quayform.spec.models import Container
from quayform.spec.values import parse_duration

LOG_TAIL = 8


def _files_tar(container: Container) -> bytes:
    """A tar of the spec's files with full paths; Docker creates missing parent folders."""
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, spec in container.files.items():
            data = reveal(spec.content).encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), spec.mode, now
            if spec.owner:
                uid, _, gid = spec.owner.partition(":")
                info.uid, info.gid = int(uid), int(gid or uid)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _binds(desired: dict[str, Any], keep_anonymous: dict[str, str]) -> tuple[list[str], list[str]]:
    """(Binds for HostConfig, anonymous volume targets for Config.Volumes)."""
    container: Container = desired["_spec"]
    stack_names = desired["_volume_names"]
    binds, anonymous = [], []
    for mount in container.volumes:
        options = ",".join(("ro" if mount.read_only else "rw",) + mount.options)
        if mount.kind == "volume":
            binds.append(f"{stack_names[mount.target]}:{mount.target}:{options}")
        elif mount.kind == "bind":
            binds.append(f"{desired['_binds'][mount.target]}:{mount.target}:{options}")
        elif mount.target in keep_anonymous:
            binds.append(f"{keep_anonymous[mount.target]}:{mount.target}:{options}")
        else:
            anonymous.append(mount.target)
    # Anonymous volumes the image declares: keep the old data too, as compose does.
    declared = {m.target for m in container.volumes}
    for target, volume in keep_anonymous.items():
        if target not in declared:
            binds.append(f"{volume}:{target}:rw")
    return binds, anonymous


class ContainerProvider:
    """Carries out container changes; one instance per apply, sharing the API client."""

    kind = "containers"
    fields = FIELDS

    def __init__(self, api: docker.APIClient):
        self.api = api

    # -- create -----------------------------------------------------------------------------
    def create(self, change: Change) -> None:
        """Create under a staging name, configure, start, then take the real name.

        A container that holds its real name is therefore always complete: one left
        behind by an interrupted apply still has its staging name, and the next plan
        replaces it.
        """
        desired = change.after or {}
        keep = (change.before or {}).get("_anonymous_volumes", {}) if change.action.is_replace else {}
        cid = self._create_started(desired, keep)
        self._take_name(cid, desired["name"])

    def create_before_destroy(self, change: Change) -> None:
        """Start the new container (staging name) and wait for it before removing the old one."""
        desired = change.after or {}
        cid = self._create_started(desired, {})
        try:
            self.wait_ready(change, name=cid)
        except BaseException:
            self._remove(cid, remove_volumes=True)
            raise
        self.delete(change)
        self._take_name(cid, desired["name"])

    def _take_name(self, cid: str, name: str) -> None:
        try:
            self.api.rename(cid, name)
        except docker.errors.APIError as exc:
            self._remove(cid, remove_volumes=False)
            raise ApplyError(f"cannot name the new container {name}: {describe(exc)}") from None

    def _create_started(self, desired: dict[str, Any], keep: dict[str, str]) -> str:
        container: Container = desired["_spec"]
        staging = f"{desired['name']}-qf-{secrets.token_hex(4)}"
        networks = list(desired["networks"].items())
        first_net, first_aliases = networks[0]
        binds, anonymous = _binds(desired, keep)
        with engine_errors(f"creating container {desired['name']}"):
            host_config = self.api.create_host_config(
                binds=binds or None,
                restart_policy=self._restart_policy(desired["restart"]),
                privileged=container.privileged,
                network_mode=first_net,
            )
            host_config["PortBindings"] = self._port_bindings(container)
            endpoint = self.api.create_endpoint_config(aliases=first_aliases or None)
            created = self.api.create_container(
                image=desired["image"],
                name=staging,
                command=container.command,
                entrypoint=container.entrypoint,
                environment=[f"{k}={v}" for k, v in reveal(container.env).items()],
                labels={**container.labels, **self._labels(desired)},
                ports=[(b.container_port, b.protocol) for b in container.port_bindings] or None,
                volumes=anonymous or None,
                user=container.user,
                working_dir=container.working_dir,
                healthcheck=healthcheck_to_docker(container.healthcheck) if container.healthcheck else None,
                stop_signal=container.stop_signal,
                stop_timeout=desired["stop_grace_period"],
                host_config=host_config,
                networking_config=self.api.create_networking_config({first_net: endpoint}),
                detach=True,
            )
        cid = created["Id"]
        try:
            with engine_errors(f"configuring container {desired['name']}"):
                for name, aliases in networks[1:]:
                    self.api.connect_container_to_network(cid, name, aliases=aliases or None)
                if container.files:
                    self.api.put_archive(cid, "/", _files_tar(container))
            self._start(cid, desired["name"])
        except BaseException:
            # Never leave a created-but-unstarted container behind: the next plan recreates it.
            self._remove(cid, remove_volumes=not keep)
            raise
        return cid

    def _start(self, cid: str, name: str) -> None:
        try:
            self.api.start(cid)
        except docker.errors.APIError as exc:
            text = describe(exc)
            if "port is already allocated" in text or "address already in use" in text:
                raise ApplyError(f"cannot start container {name}: a host port it publishes is already in use ({text})") from None
            raise ApplyError(f"cannot start container {name}: {text}") from None

    @staticmethod
    def _labels(desired: dict[str, Any]) -> dict[str, str]:
        return {
            L.STACK: desired["_stack"],
            L.ADDRESS: desired["_address"],
            L.CONFIG_HASH: desired["_config_hash"],
            L.FILES: json.dumps(desired["files"], sort_keys=True),
            L.SENSITIVE_ENV: ",".join(desired["_sensitive_env"]),
            **L.lifecycle_labels(desired),
        }

    @staticmethod
    def _restart_policy(restart: str) -> dict[str, Any]:
        name, _, retries = restart.partition(":")
        return {"Name": "" if name == "no" else name, "MaximumRetryCount": int(retries or 0)}

    @staticmethod
    def _port_bindings(container: Container) -> dict[str, list[dict[str, str]]]:
        bindings: dict[str, list[dict[str, str]]] = {}
        for binding in container.port_bindings:
            bindings.setdefault(binding.key(), []).append({"HostIp": binding.host_ip, "HostPort": binding.host_port})
        return bindings

    # -- update -----------------------------------------------------------------------------
    def update(self, change: Change) -> None:
        desired, live = change.after or {}, change.before or {}
        cid, name = change.live_id, desired["name"]
        changed = {a.path.split(".")[0] for a in change.attributes}
        with engine_errors(f"updating container {name}"):
            if "restart" in changed:
                self.api.update_container(cid, restart_policy=self._restart_policy(desired["restart"]))
            if "networks" in changed:
                self._update_networks(cid, live["networks"], desired["networks"])
        if "running" in changed or not live.get("running"):
            self._start(cid, name)

    def _update_networks(self, cid: str, live: dict[str, list[str]], desired: dict[str, list[str]]) -> None:
        for net, aliases in live.items():
            if net not in desired or sorted(desired[net]) != aliases:
                self.api.disconnect_container_from_network(cid, net, force=True)
        for net, aliases in desired.items():
            if net not in live or sorted(aliases) != live[net]:
                self.api.connect_container_to_network(cid, net, aliases=aliases or None)

    # -- delete -----------------------------------------------------------------------------
    def delete(self, change: Change, remove_volumes: bool = False) -> None:
        """Stop gracefully (databases flush), then remove; anonymous volumes stay unless asked."""
        cid = change.live_id
        try:
            self.api.stop(cid)  # the container's own stop_grace_period, else the engine's 10 s
        except docker.errors.APIError as exc:
            if not is_not_found(exc):
                raise EngineError(f"stopping container {change.name}: {describe(exc)}") from None
        self._remove(cid, remove_volumes)
        marker = (change.before or {}).get("_import_marker")
        if marker:
            try:
                self.api.remove_volume(marker)
            except docker.errors.APIError:
                pass  # a leftover marker names a container that no longer exists: harmless

    def _remove(self, cid: str, remove_volumes: bool) -> None:
        try:
            self.api.remove_container(cid, v=remove_volumes, force=True)
        except docker.errors.APIError as exc:
            if not is_not_found(exc) and "already in progress" not in describe(exc):
                raise EngineError(f"removing container {cid[:12]}: {describe(exc)}") from None

    # -- readiness --------------------------------------------------------------------------
    def wait_ready(self, change: Change, timeout: float | None = None,
                   sleep: Callable[[float], None] = time.sleep, name: str | None = None) -> None:
        """Return once the container runs and, if it has a healthcheck, is healthy."""
        shown = (change.after or {})["name"] + (" (the new one)" if name else "")
        name = name or (change.after or {})["name"]
        deadline = time.monotonic() + (timeout or self._default_timeout(change))
        while True:
            with engine_errors(f"inspecting container {shown}"):
                state = self.api.inspect_container(name)["State"]
            health = state.get("Health")
            if not state.get("Running") or state.get("Restarting"):
                how = "keeps restarting" if state.get("Restarting") else f"exited with code {state.get('ExitCode')}"
                raise ReadinessError(f"container {shown} {how}; last log lines:\n{self._logs(name)}")
            if not health or health.get("Status") == "healthy":
                return
            if health.get("Status") == "unhealthy" or time.monotonic() > deadline:
                log = (health.get("Log") or [{}])[-1]
                output = (log.get("Output") or "").strip() or "(no output)"
                raise ReadinessError(f"container {shown} did not become healthy in time (health: "
                                     f"{health.get('Status')}); last health check output: {output}")
            sleep(0.2)

    @staticmethod
    def _default_timeout(change: Change) -> float:
        check = (change.after or {}).get("healthcheck") or {}
        if not isinstance(check, dict):
            return 60.0
        seconds = {k: parse_duration(check.get(k, default)) / 1e9
                   for k, default in (("interval", "30s"), ("timeout", "30s"), ("start_period", "0s"))}
        probes = check.get("retries", 3) + 1
        return max(30.0, seconds["start_period"] + (seconds["interval"] + seconds["timeout"]) * probes + 10)

    def _logs(self, name: str) -> str:
        try:
            text = self.api.logs(name, tail=LOG_TAIL).decode(errors="replace").rstrip()
        except docker.errors.APIError:
            return "  (logs unavailable)"
        return "\n".join("  " + line for line in text.splitlines()) or "  (no output)"
