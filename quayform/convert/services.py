"""`quayform convert`, the services: each compose service as a quayform container.

Pure, like the package's `Conversion` (notes, interpolation, paths), which every method goes through.
Options the container model knows by their compose names are carried as written.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from quayform.convert.resources import Resources, literal, mapping, plain_var
from quayform.spec.envfile import EnvSyntaxError, parse_env
from quayform.spec.models import Container, Healthcheck, Network, NetworkAttachment
from quayform.spec.yaml_loader import Path

if TYPE_CHECKING:
    from quayform.convert import Conversion

# Compose's service keys that convert() maps itself; every other key the container model has is copied.
MAPPED = ("image", "build", "command", "entrypoint", "environment", "env_file", "ports", "volumes", "networks",
          "depends_on", "healthcheck", "restart", "labels", "user", "working_dir", "container_name", "privileged",
          "stop_signal", "stop_grace_period", "secrets", "configs", "profiles", "deploy")
WHY = {
    "build": "quayform runs images: build it first (`docker compose build` or `docker build -t NAME .`)",
    "links": "containers on a shared network reach each other by their key; list the network under networks",
    "external_links": "containers on a shared network reach each other by name",
    "extends": "quayform reads one file: merge it first with `docker compose config`",
    "scale": "one container per key: copy the entry under another key for a second one",
    "volumes_from": "mount the same volumes by name instead",
    "develop": "compose's watch mode has no quayform counterpart",
    "deploy": "swarm's deployment settings; quayform runs one container per key",
}


class ServiceConverter:
    """Walks the compose file's services and writes quayform's containers, and the sections they use."""

    def __init__(self, conversion: "Conversion", data: dict):
        self.c = conversion
        self.data = data
        self.uses_default = False  # some service is on compose's implicit `default` network
        self.jobs = _jobs(data.get("services"))  # services another waits for with service_completed_successfully
        self.resources = Resources(conversion, data)

    def spec(self) -> dict[str, Any]:
        """The spec's sections (secrets, networks, volumes, containers) from the compose file's."""
        self.resources.declare_secrets()
        containers = {}
        for name, body in self.data["services"].items():
            path = ("services", name)
            if not isinstance(body, dict):
                self.c.note(path, "a service is a mapping: left out")
                continue
            if body.get("profiles"):
                self.c.note(path + ("profiles",), "left out: compose starts it only with its profile; quayform "
                                                  "has no profiles (every container in the spec is created)")
                continue
            containers[self.c.key(name, path)] = self.service(name, body, path)
        sections = (("secrets", self.resources.secrets), ("networks", self.resources.networks(self.uses_default)),
                    ("volumes", self.resources.volumes()), ("containers", containers))
        out: dict[str, Any] = {}
        for section, body in sections:
            if body:
                out[section] = body
        return out

    # ----------------------------------------------------------------- one service

    def service(self, name: str, body: dict, path: Path) -> dict[str, Any]:
        out = self.image(name, body, path)
        for step in (self.process, self.environ, self.published, self.order, self.options):
            out.update(step(body, path))
        unwritable = self.unwritable(body)
        secrets, secret_binds = self.resources.files(body.get("secrets"), path + ("secrets",), True, unwritable)
        configs, config_binds = self.resources.files(body.get("configs"), path + ("configs",), False, unwritable)
        if secret_binds or config_binds:
            out["volumes"] = [*out.get("volumes", []), *secret_binds, *config_binds]
        files = {**secrets, **configs}
        return {**out, "files": files} if files else out

    @staticmethod
    def unwritable(body: dict) -> Any:
        """Whether quayform could not write a file at a container path before start (checks.py's rule):
        under a tmpfs, or on a read-only root filesystem outside every volume."""
        given = body.get("tmpfs") or []
        tmpfs = [str(t).split(":")[0] for t in ([given] if isinstance(given, str) else given)]
        tmpfs += [str(m.get("target") or "") for m in body.get("volumes") or []
                  if isinstance(m, dict) and m.get("type") == "tmpfs"]
        volumes = [str(m.get("target") or "") if isinstance(m, dict) else
                   (str(m).split(":")[1] if str(m).count(":") >= 1 else str(m))
                   for m in body.get("volumes") or [] if not (isinstance(m, dict) and m.get("type") == "tmpfs")]

        def under(target: str, folders: list[str]) -> bool:
            return any(f and target.startswith(f.rstrip("/") + "/") for f in folders)

        return lambda target: under(target, tmpfs) or (body.get("read_only") is True and not under(target, volumes))

    def image(self, name: str, body: dict, path: Path) -> dict[str, Any]:
        out = {}
        if body.get("image") is not None:
            out["image"] = self.c.values(body["image"], path + ("image",))
        if "build" in body:
            built = f"{self.c.project}-{name}" if "image" not in out else None
            self.c.note(path + ("build",), f"not carried: {WHY['build']}" + (
                f"; the spec names the image compose would build, {built}" if built else ""))
            if built:
                out["image"] = built
        if "container_name" in body:
            out["name"] = self.c.values(body["container_name"], path + ("container_name",))
        return out

    def process(self, body: dict, path: Path) -> dict[str, Any]:
        """What runs and how: once or for good, command, user, restart policy, stop settings, labels."""
        out: dict[str, Any] = {}
        job = path[-1] in self.jobs
        if job:
            out["run"] = "once"
        for key in ("command", "entrypoint", "restart", "user", "working_dir", "privileged", "stop_signal",
                    "stop_grace_period"):
            if body.get(key) is not None:
                out[key] = self.c.values(body[key], path + (key,))
        if job and out.get("restart") not in (None, "no", False):
            self.c.note(path + ("restart",), "not carried: a service waited for with service_completed_successfully "
                                             "is a job (run: once), and quayform does not restart one")
            del out["restart"]
        if body.get("labels"):
            out["labels"] = mapping(self.c, body["labels"], path + ("labels",))
        if body.get("healthcheck") is not None:
            out["healthcheck"] = self.healthcheck(body["healthcheck"], path + ("healthcheck",))
        return out

    def environ(self, body: dict, path: Path) -> dict[str, Any]:
        """env_file (carried as paths where the container model reads env files, else copied) and environment."""
        out: dict[str, Any] = {}
        env, env_paths = self.env_files(body.get("env_file"), path + ("env_file",))
        if env_paths:
            out["env_file"] = env_paths if len(env_paths) > 1 else env_paths[0]
        env.update(self.environment(body.get("environment"), path + ("environment",)))
        if env:
            out["env"] = env
        return out

    def published(self, body: dict, path: Path) -> dict[str, Any]:
        """Ports, mounts (tmpfs ones joining `tmpfs`) and networks."""
        out: dict[str, Any] = {}
        if body.get("ports"):
            out["ports"] = [self.port(p, path + ("ports", i)) for i, p in enumerate(body["ports"])]
        mounts, tmpfs = self.mounts(body.get("volumes") or [], path + ("volumes",))
        if mounts:
            out["volumes"] = mounts
        if tmpfs and "tmpfs" in Container.model_fields:
            given = self.c.values(body.get("tmpfs") or [], path + ("tmpfs",))
            out["tmpfs"] = [*([given] if isinstance(given, str) else given), *(text for text, _ in tmpfs)]
        for _, where in tmpfs if "tmpfs" not in Container.model_fields else ():
            self.c.note(where, "a tmpfs mount is not supported (quayform has no tmpfs option)")
        networks = self.attachments(body, path)
        if networks:
            out["networks"] = networks
        return out

    def order(self, body: dict, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if body.get("depends_on"):
            out["depends_on"] = self.depends_on(body["depends_on"], path + ("depends_on",))
        if "deploy" in body:
            out.update(self.deploy(body["deploy"], path + ("deploy",)))
        return out

    def options(self, body: dict, path: Path) -> dict[str, Any]:
        """Every other key: copied where the container model has it by compose's name, else noted."""
        out = {}
        for key, value in body.items():
            if key in MAPPED or str(key).startswith("x-") or (key == "tmpfs" and self._has_tmpfs_mounts(body)):
                continue
            if key == "pull_policy" and key in Container.model_fields:
                out.update(self.pull_policy(value, path + (key,)))
            elif key in Container.model_fields:
                value = [value] if key in ("dns", "dns_search") and isinstance(value, str) else value
                out[key] = self.c.values(value, path + (key,))
            else:
                self.c.note(path + (key,), f"not supported ({WHY.get(key, 'quayform has no such container option')})")
        return out

    def pull_policy(self, value: Any, path: Path) -> dict[str, Any]:
        """compose's `if_not_present` is `missing`; quayform never builds and pulls on no schedule."""
        if value == "if_not_present":
            return {"pull_policy": "missing"}
        if value in ("build", "daily", "weekly") or str(value).startswith("every_"):
            self.c.note(path, f"{value!r} is not supported (quayform pulls a missing image, or always, or never)")
            return {}
        return {"pull_policy": self.c.values(value, path)}

    @staticmethod
    def _has_tmpfs_mounts(body: dict) -> bool:
        return any(isinstance(m, dict) and m.get("type") == "tmpfs" for m in body.get("volumes") or [])

    def environment(self, value: Any, path: Path) -> dict[str, Any]:
        pairs: list[tuple[str, Any, Path]] = []
        if isinstance(value, dict):
            pairs = [(str(k), v, path + (k,)) for k, v in value.items()]
        elif isinstance(value, list):
            for i, item in enumerate(value):
                name, eq, rest = str(item).partition("=")
                pairs.append((name, rest if eq else None, path + (i,)))
        env = {}
        for name, item, where in pairs:
            if item is None:
                key = self.c.variable(plain_var(name), where)
                self.c.note(where, f"{name} takes its value from the shell in compose; quayform reads no plain "
                                   f"environment variables: written as ${{variables.{key}}} (set it with --var, "
                                   f"QUAYFORM_VAR_{key}, --var-file or .env)")
                env[name] = f"${{variables.{key}}}"
            else:
                env[name] = self.c.values(item, where)
        return env

    def env_files(self, value: Any, path: Path) -> tuple[dict[str, str], list[Any]]:
        """Env files the spec can read as they are (inside its folder, no `${`) as paths, when the container
        model reads env files; the values of the others copied into env."""
        items = value if isinstance(value, list) else [value] if value else []
        env: dict[str, str] = {}
        carried: list[Any] = []
        native = "env_file" in Container.model_fields
        for i, item in enumerate(items):
            where = path + (i,) if isinstance(value, list) else path
            source, required = ((item.get("path"), item.get("required", True)) if isinstance(item, dict)
                                else (item, True))
            if not isinstance(source, str):
                self.c.note(where, "an env_file is a path: left out")
                continue
            text = self.c.read_text(self.c.absolute(source))
            relative = self.c.inside_spec_dir(source)
            if native and relative is not None and (text is None and required is False or
                                                    text is not None and "${" not in text):
                carried.append(relative if required is not False else {"path": relative, "required": False})
                continue
            if text is None:
                if required is not False:
                    self.c.note(where, f"cannot read {source}: left out")
                continue
            try:
                entries = parse_env(text)
            except EnvSyntaxError as exc:
                self.c.note(where, f"{source}:{exc.line}: {exc.message}: its values are not in the spec")
                continue
            env.update({e.name: literal(e.value) for e in entries})
            why = ("quayform has no env_file" if not native else "it is outside the spec's folder"
                   if relative is None else "it holds '${', which quayform reads as a reference in an env file")
            self.c.note(where, f"the {len(entries)} values of {source} are copied into env ({why}; move any "
                               "secret among them under secrets:)")
        return env, carried

    # ----------------------------------------------------------------- ports and mounts

    def port(self, value: Any, path: Path) -> Any:
        if not isinstance(value, dict):
            return self.c.values(value if isinstance(value, str) else str(value), path)
        for key in value:
            if key in ("name", "app_protocol"):
                self.c.note(path + (key,), "not carried (quayform publishes the port; it keeps no name or "
                                           "protocol hint for it)")
            elif key not in ("target", "published", "host_ip", "protocol", "mode"):
                self.c.note(path + (key,), "not carried")
        host_ip = str(value.get("host_ip") or "")
        if host_ip and _is_ipv6(host_ip):
            host_ip = f"[{host_ip}]"
        published = "" if value.get("published") is None else str(value["published"])
        text = f"{published}:{value.get('target')}" if published or host_ip else str(value.get("target"))
        text = f"{host_ip}:{text}" if host_ip else text
        protocol = value.get("protocol") or "tcp"
        return self.c.values(text if protocol == "tcp" else f"{text}/{protocol}", path)

    def mounts(self, items: list, path: Path) -> tuple[list[str], list[tuple[str, Path]]]:
        mounts, tmpfs = [], []
        for i, item in enumerate(items):
            where = path + (i,)
            if isinstance(item, str):
                mounts.append(self.short_mount(self.c.values(item, where), where))
            elif isinstance(item, dict):
                kind = item.get("type") or "volume"
                if kind == "tmpfs":
                    tmpfs.append((self.tmpfs(item, where), where))
                elif kind in ("volume", "bind"):
                    mounts.append(self.long_mount(item, kind, where))
                else:
                    self.c.note(where, f"a {kind} mount is not supported (quayform mounts volumes and host paths)")
        return mounts, tmpfs

    def short_mount(self, text: str, path: Path) -> str:
        parts = text.split(":")
        if len(parts) < 2:
            return text
        source = parts[0]
        if source.startswith((".", "~", "/")):
            parts[0] = self.c.host_path(source)
        elif source:
            parts[0] = self.c.key(source, path)
        return ":".join(parts)

    def long_mount(self, item: dict, kind: str, path: Path) -> str:
        source, target = item.get("source") or "", str(item.get("target") or "")
        options = ["ro"] if item.get("read_only") else []
        bind, volume = item.get("bind") or {}, item.get("volume") or {}
        if kind == "bind":
            source = self.c.host_path(str(self.c.values(str(source), path + ("source",))))
            if bind.get("selinux") in ("z", "Z"):
                options.append(bind["selinux"])
            for key in ("propagation", "create_host_path"):
                if key in bind and not (key == "create_host_path" and bind[key] is not False):
                    self.c.note(path + ("bind", key), "not carried (quayform mounts host paths with the engine's "
                                                      "defaults)")
        elif source:
            source = self.c.key(source, path + ("source",))
        if volume.get("nocopy"):
            options.append("nocopy")
        if "subpath" in volume:
            self.c.note(path + ("volume", "subpath"), "not supported (quayform mounts a whole volume)")
        if item.get("consistency") in ("consistent", "cached", "delegated"):
            options.append(item["consistency"])
        for key in item:
            if key not in ("type", "source", "target", "read_only", "bind", "volume", "consistency", "tmpfs"):
                self.c.note(path + (key,), "not carried")
        text = f"{source}:{target}" if source else target
        return text + (":" + ",".join(options) if options else "")

    def tmpfs(self, item: dict, path: Path) -> str:
        options = []
        settings = item.get("tmpfs") or {}
        if "size" in settings:
            options.append(f"size={settings['size']}")
        if "mode" in settings:
            mode = settings["mode"]
            options.append(f"mode={getattr(mode, 'text', None) or mode}")
        for key in settings:
            if key not in ("size", "mode"):
                self.c.note(path + ("tmpfs", key), "not carried")
        target = str(item.get("target") or "")
        return target + (":" + ",".join(options) if options else "")

    # ----------------------------------------------------------------- networks and order

    def attachments(self, body: dict, path: Path) -> Any:
        """The service's networks in the order compose connects them (highest `priority` first, then by
        name, whatever order the file lists them in): quayform joins them in the order given, and the
        first one is the container's primary network (its NetworkMode), as compose's first is."""
        value = body.get("networks")
        if value is None:
            if "network_mode" in body:
                return None
            self.uses_default = True
            return ["default"]
        if isinstance(value, list):
            return [self.c.key(n, path + ("networks", i)) for i, n in
                    sorted(enumerate(value), key=lambda item: str(item[1]))]
        out: dict[str, Any] = {}
        for name, settings in sorted(value.items(), key=_connection_order):
            where = path + ("networks", name)
            key = self.c.key(name, where)
            carried = {}
            for option, item in (settings or {}).items():
                if option in ("ipv4_address", "ipv6_address") and "ipam" not in Network.model_fields:
                    self.c.note(where + (option,), "not carried: a fixed address needs the network's subnet, and "
                                                   "quayform's networks take no ipam")
                elif option in NetworkAttachment.model_fields:
                    carried[option] = self.c.values(item, where + (option,))
                else:
                    self.c.note(where + (option,), "not supported by quayform's network attachments")
            out[key] = {k: v for k, v in carried.items() if v not in (None, [])} or None
        return out if any(v for v in out.values()) else list(out)

    def depends_on(self, value: Any, path: Path) -> list[str] | dict[str, dict[str, Any]]:
        """The list form as a list; the long form as quayform's, with its condition (and required: false)."""
        if isinstance(value, list):
            return [self.c.key(n, path + (i,)) for i, n in enumerate(value)]
        out = {}
        for name, settings in value.items():
            where = path + (name,)
            settings = settings if isinstance(settings, dict) else {}
            entry: dict[str, Any] = {"condition": settings.get("condition") or "service_started"}
            if settings.get("required") is False:
                entry["required"] = False
            if settings.get("restart"):
                self.c.note(where + ("restart",), "not supported (quayform replaces a container only when its own "
                                                  "settings change)")
            out[self.c.key(name, where)] = entry
        return out

    def healthcheck(self, value: dict, path: Path) -> dict[str, Any]:
        if value.get("disable") is True:
            return {"test": ["NONE"]}
        out = {}
        for key, item in value.items():
            if key == "disable":
                continue
            if key in Healthcheck.model_fields:
                out[key] = self.c.values(item, path + (key,))
            else:
                self.c.note(path + (key,), "not supported by quayform's healthcheck")
        return out

    def deploy(self, value: Any, path: Path) -> dict[str, Any]:
        """deploy.resources.limits as mem_limit and cpus, when the container model has them."""
        limits = (((value or {}).get("resources") or {}).get("limits") or {}) if isinstance(value, dict) else {}
        out = {}
        for compose_key, key in (("memory", "mem_limit"), ("cpus", "cpus")):
            if compose_key in limits and key in Container.model_fields:
                out[key] = limits[compose_key]
        for key in value or {}:
            if not (key == "resources" and out):
                self.c.note(path + (key,), f"not supported ({WHY['deploy']})")
        return out


def _jobs(services: Any) -> frozenset[str]:
    """The services some service waits for with `condition: service_completed_successfully`."""
    jobs = set()
    for body in (services or {}).values() if isinstance(services, dict) else ():
        wanted = body.get("depends_on") if isinstance(body, dict) else None
        for name, settings in wanted.items() if isinstance(wanted, dict) else ():
            if isinstance(settings, dict) and settings.get("condition") == "service_completed_successfully":
                jobs.add(name)
    return frozenset(jobs)


def _connection_order(item: tuple[Any, Any]) -> tuple[float, str]:
    """compose's order for a service's networks: by `priority` (highest first; 0 if unset), then by name."""
    name, settings = item
    priority = settings.get("priority") if isinstance(settings, dict) else None
    try:
        rank = -float(priority or 0)
    except (TypeError, ValueError):
        rank = 0.0
    return rank, str(name)


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False
