"""`env_file`: compose's .env files next to the spec, read while the spec's references are resolved.

A file is found relative to the spec's folder and must stay inside it, like a template. Its
syntax is compose's (quayform.spec.envfile); its values are taken literally, except that a
quayform reference in one (`${secrets.db_password}`) is substituted, so a value is a secret
exactly when it comes from `secrets:`. A bare `NAME` line, which compose fills from the shell,
is left out: quayform never reads the shell's environment behind the spec's back. Problems are
reported at the file's own line.
"""

from __future__ import annotations

import os
from typing import Any

from quayform.spec.envfile import EnvSyntaxError, parse_env
from quayform.spec.secrets import inside_dir, read_regular_file
from quayform.spec.values import EnvFile


def read(value: Any, path: tuple, resolver: Any) -> Any:
    """Every env file of one container, in order; a shape it cannot read is left for the model to refuse."""
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        at = path + (i,) if isinstance(value, list) else path
        relative, required = _entry(item)
        if relative is None:
            return value
        read_file = _read_one(relative, required, at, path[:2], resolver)
        if read_file is not None:
            out.append(read_file)
    return out


def _entry(item: Any) -> tuple[str | None, bool]:
    """compose's short form (a path) or long form ({path, required})."""
    if isinstance(item, str) and item:
        return item, True
    if isinstance(item, dict) and isinstance(item.get("path"), str) and set(item) <= {"path", "required"} \
            and isinstance(item.get("required", True), bool):
        return item["path"], item.get("required", True)
    return None, True


def _read_one(relative: str, required: bool, at: tuple, owner: tuple, resolver: Any) -> EnvFile | None:
    try:
        full = inside_dir(resolver.base_dir, relative)
        if not os.path.lexists(full):
            if not required:
                return None
            raise ValueError(f"env file {relative} does not exist (relative to the spec's folder)")
        text = read_regular_file(full, f"env file {relative}")
    except ValueError as exc:  # outside the folder, missing, not a regular file, unreadable
        resolver.problem(at, str(exc).replace("file env file", "env file"))
        return EnvFile(relative, ())
    shown = os.path.join(os.path.dirname(resolver.file), relative)
    try:
        entries = parse_env(text)
    except EnvSyntaxError as exc:
        resolver.problem(at, exc.message, exc.line, shown)
        return EnvFile(relative, ())
    values = tuple((e.name, resolver.text(e.value, owner + ("env", e.name), e.line, shown)) for e in entries)
    return EnvFile(relative, values)
