"""Read secret values from the environment or from files next to the spec.

Values come back wrapped in Sensitive; they are read here and nowhere else.
"""

from __future__ import annotations

import base64
import os
import secrets
from typing import Mapping

from quayform.sensitive import Sensitive


class SecretUnavailable(ValueError):
    """A secret's source is missing; the message names the source, never a value."""


def inside_dir(base_dir: str, relative: str) -> str:
    """The real path of `relative` under `base_dir`; ValueError if it escapes (.., absolute, symlink)."""
    if os.path.isabs(relative):
        raise ValueError(f"{relative!r} must be a path relative to the spec's folder")
    base = os.path.realpath(base_dir)
    full = os.path.realpath(os.path.join(base, relative))
    if os.path.commonpath([base, full]) != base:
        raise ValueError(f"{relative!r} leads outside the spec's folder {base}")
    return full


def read_env_secret(name: str, environ: Mapping[str, str]) -> Sensitive:
    if name not in environ:
        raise SecretUnavailable(f"environment variable {name} is not set")
    return Sensitive(environ[name])


def generate_secret_file(path: str, length: int, encoding: str = "urlsafe") -> None:
    """Create `path` with a random value, mode 0600, unless it exists (never overwritten)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        if encoding == "base64":
            handle.write(base64.b64encode(secrets.token_bytes(length)).decode() + "\n")
        else:
            handle.write(secrets.token_urlsafe(length)[:length] + "\n")


def read_file_secret(base_dir: str, relative: str, generate_length: int | None = None,
                     generate_format: str = "urlsafe") -> Sensitive:
    """A secret file's content; one trailing newline (an editor's) is not part of the secret."""
    path = inside_dir(base_dir, relative)
    if generate_length is not None:
        generate_secret_file(path, generate_length, generate_format)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise SecretUnavailable(f"file {relative} does not exist") from None
    except OSError as exc:
        raise SecretUnavailable(f"file {relative} cannot be read: {exc.strerror}") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return Sensitive(text)
