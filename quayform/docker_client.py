"""The one place quayform connects to Docker and turns engine failures into advice.

`DockerEngine` is the connection kinds receive for an engine target: the API client, a
memo for list calls that several kinds read in one run, and the SDK's error types and
their translation, so kind modules never import the SDK themselves.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import sys
import threading
from typing import Any, BinaryIO, Callable, Iterator

from quayform.engine_api import ApiError, ApiNotFound, EngineApi, ReadFirstApi, plain_endpoint
from quayform.errors import EngineError
from quayform.targets import Memo, pause

# Docker 20.10's API version; newer engines still serve it, and pinning it saves a
# /version round trip on every run.
API_VERSION = "1.41"


def endpoint_of_environment() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


SSH_MISSING = ("{where}: ssh:// engines need the paramiko package (the Docker SDK's SSH support), which is not "
               "installed here; install it with `pip install 'quayform[ssh]'` (or `pip install paramiko`), or reach "
               "the engine over tcp:// with TLS")


TLS_ENVIRONMENT = ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def connect(timeout: int = 120, host: str | None = None, tls: tuple[str, str, str] | None = None,
            name: str = "default") -> ReadFirstApi:
    """A client for `host` (None: DOCKER_HOST or the local socket); no request is made, nothing imported yet.

    Plain endpoints (a unix socket, tcp:// without TLS) are read on the standard library; the Docker SDK
    serves the rest of the calls, and every call on ssh:// and TLS endpoints."""
    base_url = host or endpoint_of_environment()
    plain = tls is None and not (host is None and any(os.environ.get(v) for v in TLS_ENVIRONMENT))
    opener = plain_endpoint(base_url, timeout) if plain and timeout is not None else None
    if base_url.startswith("ssh://"):  # made now (says at once when paramiko is missing), and used for all calls
        made = sdk_client(timeout, host, tls, name)
        return ReadFirstApi(None, lambda: made)
    return ReadFirstApi(EngineApi(opener, API_VERSION) if opener else None,
                        lambda: sdk_client(timeout, host, tls, name))


def sdk_client(timeout: int | None = 120, host: str | None = None, tls: tuple[str, str, str] | None = None,
               name: str = "default") -> Any:
    """The Docker SDK's APIClient for `host` (None: DOCKER_HOST or the local socket)."""
    import docker

    where = f"engine {name} ({host or endpoint_of_environment()})"
    if host is None:
        kwargs = docker.utils.kwargs_from_env()
    else:
        kwargs = {"base_url": host}
        if tls is not None:
            ca, cert, key = tls
            kwargs["tls"] = docker.tls.TLSConfig(client_cert=(cert, key), ca_cert=ca, verify=True)
    if (kwargs.get("base_url") or "").startswith("ssh://"):
        try:
            import paramiko  # noqa: F401  (the SDK imports it itself; asked here to say what is missing)
        except ImportError:
            raise EngineError(SSH_MISSING.format(where=where)) from None
    try:
        return docker.APIClient(version=API_VERSION, timeout=timeout, max_pool_size=32, **kwargs)
    except docker.errors.DockerException as exc:
        raise EngineError(f"cannot set up the Docker client for {where}: {exc}") from None


def describe(exc: BaseException, endpoint: str | None = None) -> str:
    """A one-line, user-facing description of a Docker SDK or connection error."""
    if isinstance(exc, ApiError) or _is_sdk_error(exc, "APIError"):
        text = exc.explanation or str(exc)
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        return str(text).strip()
    where = endpoint or endpoint_of_environment()
    if (isinstance(exc, (FileNotFoundError, ConnectionError, PermissionError))
            or _is_requests_error(exc, "ConnectionError")):
        if "(engine " in where:  # one of the spec's engines section
            return (f"cannot reach the Docker engine at {where}: is dockerd running there, and is its host "
                    "right in the spec's engines section?")
        return (f"cannot reach the Docker engine at {where} (is dockerd running? "
                "check DOCKER_HOST or /var/run/docker.sock; scripts/test-env starts one here)")
    if isinstance(exc, TimeoutError) or _is_requests_error(exc, "Timeout"):
        return f"the Docker engine at {where} did not answer in time"
    return str(exc)


def _is_sdk_error(exc: BaseException, name: str) -> bool:
    """Whether exc is docker.errors.<name>; never imports the SDK (if it is not loaded, it raised nothing)."""
    errors = sys.modules.get("docker.errors")
    return errors is not None and isinstance(exc, getattr(errors, name))


def _is_requests_error(exc: BaseException, name: str) -> bool:
    exceptions = sys.modules.get("requests.exceptions")
    return exceptions is not None and isinstance(exc, getattr(exceptions, name))


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, ApiNotFound) or _is_sdk_error(exc, "NotFound")


LOCAL_FAILURES = (ApiError, ConnectionError, FileNotFoundError, PermissionError, TimeoutError,
                  http.client.HTTPException)


def engine_failures() -> tuple[type[BaseException], ...]:
    """Every error type a call to the engine can raise, the SDK's too once it is loaded."""
    found: tuple[type[BaseException], ...] = LOCAL_FAILURES
    if "docker.errors" in sys.modules:
        found += (sys.modules["docker.errors"].DockerException,)
    if "requests.exceptions" in sys.modules:
        found += (sys.modules["requests.exceptions"].RequestException,)
    return found


@contextlib.contextmanager
def engine_errors(action: str, endpoint: str | None = None) -> Iterator[None]:
    """Re-raise SDK/connection errors from the block as EngineError('<action>: <why>')."""
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, engine_failures()):
            raise
        raise EngineError(f"{action}: {describe(exc, endpoint)}") from None


class DockerEngine:
    """A connection to one engine, as kinds and stages use it.

    `NotFound`, `APIError` and `Failure` are tuples of error types for `except` clauses: this client's
    own and, once it is loaded, the SDK's (an `except` evaluates them only when something was raised)."""

    def __init__(self, api: ReadFirstApi, name: str = "default", endpoint: str | None = None,
                 stopping: threading.Event | None = None, tls: tuple[str, str, str] | None = None):
        self.api = api
        self.tls = tls
        self.name = name
        self.host = endpoint  # as the spec gives it (None: DOCKER_HOST or the local socket)
        self.endpoint = endpoint or endpoint_of_environment()
        self.memo = Memo()
        self.stopping = stopping  # set when the run is interrupted: waits end then

    @classmethod
    def connect(cls, name: str = "default", stopping: threading.Event | None = None, host: str | None = None,
                tls: tuple[str, str, str] | None = None) -> "DockerEngine":
        return cls(connect(host=host, tls=tls, name=name), name, host, stopping=stopping, tls=tls)

    @property
    def NotFound(self) -> tuple[type[BaseException], ...]:  # noqa: N802 (read like the exception it stands for)
        errors = sys.modules.get("docker.errors")
        return (ApiNotFound, errors.NotFound) if errors else (ApiNotFound,)

    @property
    def APIError(self) -> tuple[type[BaseException], ...]:  # noqa: N802
        errors = sys.modules.get("docker.errors")
        return (ApiError, errors.APIError) if errors else (ApiError,)

    @property
    def Failure(self) -> tuple[type[BaseException], ...]:  # noqa: N802
        return engine_failures()

    def pause(self, seconds: float, what: str) -> None:
        pause(self.stopping, seconds, what)

    @property
    def where(self) -> str:
        """The endpoint, and the engine's name when it is not the default one."""
        return self.endpoint if self.name == "default" else f"{self.endpoint} (engine {self.name})"

    def __str__(self) -> str:
        return f"engine {self.name}"

    def describe(self, exc: BaseException) -> str:
        return describe(exc, self.where)

    def update_resources(self, container: str, body: dict) -> None:
        """`docker update` with the engine's own field names (NanoCpus, PidsLimit, ...): docker-py's
        update_container cannot send those two, and drops zero values."""
        from urllib.parse import quote

        self.api.post_json(f"/containers/{quote(container, safe='')}/update", body)

    def registry_digest(self, ref: str) -> str:
        """The digest the registry serves for `ref` now (no download; pull_policy: always)."""
        return self.api.inspect_distribution(ref)["Descriptor"]["digest"]

    def log_lines(self, container: str, follow: bool, tail: int | None) -> Iterator[bytes]:
        """A container's output, stdout and stderr as Docker interleaves them; with `follow`, on a client without
        a read timeout (a quiet container is not an error)."""
        api = sdk_client(timeout=None, host=self.host, tls=self.tls, name=self.name) if follow else self.api
        return api.logs(container, stdout=True, stderr=True, stream=True, follow=follow,
                        tail="all" if tail is None else tail)

    def exec_stream(self, container: str, argv: list[str],
                    stdin: BinaryIO | None = None) -> tuple[Iterator[tuple[int, bytes]], Callable[[], int]]:
        """Run argv in the container without a terminal: (stream number, bytes) frames as they come (1 stdout,
        2 stderr), and a function giving the exit code once they end. `stdin` is copied in, then closed."""
        import socket

        import docker.utils.socket

        api = self.api
        exec_id = api.exec_create(container, argv, stdin=stdin is not None, tty=False)["Id"]
        if stdin is None:
            frames = ((n, data) for pair in api.exec_start(exec_id, stream=True, demux=True)
                      for n, data in zip((1, 2), pair) if data)
        else:
            wrapped = api.exec_start(exec_id, socket=True)
            raw = getattr(wrapped, "_sock", wrapped)

            def copy_in() -> None:
                try:
                    for block in iter(lambda: stdin.read1(65536), b""):
                        raw.sendall(block)
                except OSError:
                    pass
                finally:
                    with contextlib.suppress(OSError):
                        raw.shutdown(socket.SHUT_WR)

            threading.Thread(target=copy_in, daemon=True).start()
            frames = docker.utils.socket.frames_iter(wrapped, tty=False)
        return frames, lambda: api.exec_inspect(exec_id)["ExitCode"]

    def errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        """`with engine.errors("creating volume x"):` turns engine failures into EngineError."""
        return engine_errors(action, self.where)
