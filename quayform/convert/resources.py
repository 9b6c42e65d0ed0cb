"""`quayform convert`, the resources beside the services: compose's top-level secrets, configs,
networks and volumes, as quayform's secrets, container files, networks and volumes.

Pure, like the package's `Conversion` (notes, interpolation, paths), which every method goes through.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from quayform.spec.envfile import Var
from quayform.spec.models import Network, Volume
from quayform.spec.yaml_loader import Path

if TYPE_CHECKING:
    from quayform.convert import Conversion

SECRETS_DIR = "/run/secrets"
COMPOSE_FILE_MODE = "0444"  # compose's default for secrets and configs


class Resources:
    """The compose file's top-level sections, and the files a service's secrets and configs become."""

    def __init__(self, conversion: "Conversion", data: dict):
        self.c = conversion
        self.data = data
        self.secrets: dict[str, Any] = {}
        self.top_secrets: dict[str, str | None] = {}  # compose secret -> quayform secret key (None: not carried)

    def files(self, value: Any, path: Path, secret: bool,
              unwritable: Callable[[str], bool] = lambda target: False) -> tuple[dict[str, Any], list[str]]:
        """The files a service's secrets (or configs) become, and the bind mounts some become instead.

        quayform writes a file into the container before it starts; where it cannot (a read-only root
        filesystem, or under a tmpfs that start mounts over it: `unwritable(target)`), a secret or
        config read from a file is mounted from that file read-only, which is what compose does with
        every file-based one."""
        out, binds = {}, []
        for i, item in enumerate(value or []):
            where = path + (i,)
            source = item.get("source") if isinstance(item, dict) else item
            settings = item if isinstance(item, dict) else {}
            target = str(settings.get("target") or source)
            if secret:
                target = target if target.startswith("/") else f"{SECRETS_DIR}/{target}"
            else:
                target = target if target.startswith("/") else f"/{target}"
            host_file = self.host_file(str(source), secret) if unwritable(target) else None
            if host_file is not None:
                binds.append(f"{self.c.host_path(host_file)}:{target}:ro")
                for key in ("mode", "uid", "gid"):
                    if settings.get(key) is not None:
                        self.c.note(where + (key,), f"not carried: the file is mounted from {host_file} as it is "
                                                    "(quayform cannot write it into this container's read-only or "
                                                    "tmpfs-covered filesystem)")
                continue
            entry = self.secret_file(str(source), where) if secret else self.config_file(str(source), where)
            if entry is None:
                continue
            entry["mode"] = _mode(settings.get("mode"))
            if settings.get("uid") is not None or settings.get("gid") is not None:
                entry["owner"] = f"{settings.get('uid') or 0}:{settings.get('gid') or 0}"
            out[target] = entry
        return out, binds

    def host_file(self, source: str, secret: bool) -> str | None:
        """The host file a declared secret or config is read from (as written in the compose file), if any."""
        if secret and not self.top_secrets.get(source):
            return None  # undeclared or not carried: secret_file() says so
        config = (self.data.get("secrets" if secret else "configs") or {}).get(source)
        file = config.get("file") if isinstance(config, dict) and not config.get("external") else None
        return str(file) if isinstance(file, str) and file else None

    def secret_file(self, source: str, path: Path) -> dict[str, Any] | None:
        key = self.top_secrets.get(source, "")
        if key == "":
            self.c.note(path, f"secret {source!r} is not declared under the top-level secrets:")
            return None
        return None if key is None else {"content": f"${{secrets.{key}}}"}

    def config_file(self, source: str, path: Path) -> dict[str, Any] | None:
        config = (self.data.get("configs") or {}).get(source)
        top = ("configs", source)
        if not isinstance(config, dict):
            self.c.note(path, f"config {source!r} is not declared under the top-level configs:")
            return None
        if "content" in config:
            return {"content": self.c.values(str(config["content"]), top + ("content",))}
        if "environment" in config:
            key = self.c.variable(plain_var(str(config["environment"])), top + ("environment",))
            return {"content": f"${{variables.{key}}}"}
        if "file" not in config:
            self.c.note(top, "not supported (an external config lives in a swarm): left out")
            return None
        relative = self.c.inside_spec_dir(str(config["file"]))
        text = self.c.read_text(self.c.absolute(str(config["file"])))
        if text is None:
            self.c.note(top + ("file",), f"cannot read {config['file']}: the file is left out")
            return None
        if relative is not None and "${" not in text:
            return {"template": relative}
        self.c.note(top + ("file",), "its text is copied into the spec: " + (
            "the file is outside the spec's folder" if relative is None else
            "it holds '${', which a quayform template would read as a reference"))
        return {"content": literal(text)}

    def declare_secrets(self) -> None:
        """The top-level secrets, as the spec's secrets (read by the containers' files)."""
        for name, config in (self.data.get("secrets") or {}).items():
            where = ("secrets", name)
            key = self.c.key(name, where)
            config = config or {}
            if "file" in config:
                relative = self.c.inside_spec_dir(str(config["file"]))
                if relative is None:
                    self.c.note(where + ("file",), "outside the spec's folder, where quayform does not read "
                                                   "secrets: move the file beside the spec and fix the path")
                    relative = self.c.host_path(str(config["file"]))
                self.secrets[key] = {"file": relative}
            elif "environment" in config:
                self.secrets[key] = {"env": str(config["environment"])}
            else:
                self.c.note(where, "not supported (an external secret lives in a swarm): the containers using "
                                   "it do not get it")
                self.top_secrets[name] = None
                continue
            self.top_secrets[name] = key
            for option in config:
                if option not in ("file", "environment"):
                    self.c.note(where + (option,), "not carried")

    def networks(self, uses_default: bool) -> dict[str, Any]:
        declared = dict(self.data.get("networks") or {})
        if uses_default and "default" not in declared:
            declared["default"] = None
        return {self.c.key(name, ("networks", name)): self._top_entry("network", config, ("networks", name),
                                                                      Network.model_fields)
                for name, config in declared.items()}

    def volumes(self) -> dict[str, Any]:
        return {self.c.key(name, ("volumes", name)): self._top_entry("volume", config, ("volumes", name),
                                                                     Volume.model_fields)
                for name, config in (self.data.get("volumes") or {}).items()}

    def _top_entry(self, noun: str, config: Any, path: Path, fields: dict) -> dict[str, Any]:
        config = config or {}
        if config.get("external"):
            return self._external(noun, config, path)
        out: dict[str, Any] = {}
        for key, value in config.items():
            where = path + (key,)
            if key == "labels":
                out["labels"] = mapping(self.c, value, where)
            elif key == "external":
                continue  # external: false
            elif key in fields and key != "lifecycle":
                out[key] = self.c.values(value, where)
            elif not str(key).startswith("x-"):
                self.c.note(where, f"not supported by quayform's {noun}s")
        return out

    def _external(self, noun: str, config: dict, path: Path) -> dict[str, Any]:
        """compose's `external: true` (or the old `external: {name: x}`): referenced by its name, never made."""
        legacy = config["external"] if isinstance(config["external"], dict) else {}
        name = config.get("name") or legacy.get("name") or path[-1]
        for key in config:
            if key not in ("external", "name") and not str(key).startswith("x-"):
                self.c.note(path + (key,), f"not carried: an external {noun} is made elsewhere and only referenced")
        return {"external": True, "name": self.c.values(name, path + ("name",))}


def mapping(conversion: "Conversion", value: Any, path: Path) -> dict[str, Any]:
    """Compose's map, or its list of "KEY=value" strings, as a map."""
    if isinstance(value, list):
        return {k: conversion.values(v, path + (i,)) for i, (k, _, v) in
                enumerate(str(item).partition("=") for item in value)}
    return {k: "" if v is None else conversion.values(v, path + (k,)) for k, v in (value or {}).items()}


def literal(text: str) -> str:
    """Plain text as quayform must write it: only `${` means something, and `$${` writes it."""
    return text.replace("${", "$${")


def plain_var(name: str) -> Var:
    """The variable a bare compose NAME (the shell's value) reads."""
    return Var(name, "", (), "${" + name + "}")


def _mode(value: Any) -> str:
    """Compose's mode as quayform's octal text: `0440` (octal as written) stays, a number is converted."""
    if value is None:
        return COMPOSE_FILE_MODE
    text = getattr(value, "text", None) or str(value)
    if re.fullmatch(r"0[0-7]{3,4}", text):
        return text
    if isinstance(value, int) and not isinstance(value, bool):
        return "0" + format(int(value), "o")
    return text
