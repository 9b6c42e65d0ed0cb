"""Read secret values from the environment or from files next to the spec.

Values come back wrapped in Sensitive; they are read here and nowhere else.
"""

from __future__ import annotations

import os
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


def read_file_secret(base_dir: str, relative: str) -> Sensitive:
    """A secret file's content; one trailing newline (an editor's) is not part of the secret."""
    path = inside_dir(base_dir, relative)
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
