"""Read secret values from the environment or from files next to the spec, and generate missing ones.

Values come back wrapped in Sensitive; they are read here and nowhere else. Files must be
regular files inside the spec's folder (a FIFO or a device is refused at once, never read);
a generated secret is written atomically (temporary file, fsync, no-clobber link), so a full
or read-only disk leaves no empty secret behind.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from typing import Mapping

from quayform.sensitive import Sensitive


class SecretUnavailable(ValueError):
    """A secret's source is missing or unusable; the message names the source, never a value."""


def inside_dir(base_dir: str, relative: str) -> str:
    """The real path of `relative` under `base_dir`; ValueError if it escapes (.., absolute, symlink)."""
    if os.path.isabs(relative):
        raise ValueError(f"{relative!r} must be a path relative to the spec's folder")
    base = os.path.realpath(base_dir)
    full = os.path.realpath(os.path.join(base, relative))
    if os.path.commonpath([base, full]) != base:
        raise ValueError(f"{relative!r} leads outside the spec's folder {base}")
    return full


def read_regular_file(path: str, shown: str) -> str:
    """The UTF-8 text of a regular file; a FIFO, device or directory is refused without blocking on it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SecretUnavailable(f"file {shown} does not exist") from None
    except OSError as exc:
        raise SecretUnavailable(f"file {shown} cannot be read: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SecretUnavailable(f"{shown} is not a regular file (it is a {_file_type(mode)}); "
                                    "quayform reads only plain files")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read()
    except OSError as exc:
        raise SecretUnavailable(f"file {shown} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretUnavailable(f"file {shown} is not UTF-8 text") from None


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISDIR, "directory"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def _checked(value: str, what: str) -> Sensitive:
    if "\0" in value:
        raise SecretUnavailable(f"{what} contains a NUL byte, which no program can be given")
    return Sensitive(value)


def read_env_secret(name: str, environ: Mapping[str, str]) -> Sensitive:
    if name not in environ:
        raise SecretUnavailable(f"environment variable {name} is not set")
    return _checked(environ[name], f"environment variable {name}")


def new_secret(length: int, encoding: str = "urlsafe") -> str:
    if encoding == "base64":
        return base64.b64encode(secrets.token_bytes(length)).decode()
    return secrets.token_urlsafe(length)[:length]


def generate_secret_file(path: str, shown: str, length: int, encoding: str = "urlsafe") -> None:
    """Create `path` with a random value, mode 0600, unless it exists (never overwritten).

    Written to a temporary file in the same folder, synced, then linked into place (which
    fails if another process made it first); on any failure nothing is left under `path`.
    """
    folder = os.path.dirname(path)
    if os.path.lexists(path):
        return
    temporary = ""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        temporary = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new_secret(length, encoding) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another run generated it first: that one stands
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise SecretUnavailable(f"file {shown} could not be generated: {exc.strerror}") from None
    finally:
        if temporary and os.path.lexists(temporary):
            os.unlink(temporary)


def read_file_secret(base_dir: str, relative: str, generate_length: int | None = None,
                     generate_format: str = "urlsafe") -> Sensitive:
    """A secret file's content; one trailing newline (an editor's) is not part of the secret."""
    path = inside_dir(base_dir, relative)
    if generate_length is not None:
        generate_secret_file(path, relative, generate_length, generate_format)
    text = read_regular_file(path, relative)
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text and generate_length is not None:
        raise SecretUnavailable(f"file {relative} is empty (left by an interrupted write?); delete it and quayform "
                                "generates a new one")
    return _checked(text, f"file {relative}")
