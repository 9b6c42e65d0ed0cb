"""The one place quayform connects to Docker and turns engine failures into advice."""

from __future__ import annotations

import contextlib
from typing import Iterator

import docker
import docker.errors
import requests.exceptions

from quayform.errors import EngineError

# Docker 20.10's API version; newer engines still serve it, and pinning it saves a
# /version round trip on every run.
API_VERSION = "1.41"


def connect(timeout: int = 120) -> docker.APIClient:
    """An API client for DOCKER_HOST (or the local socket); no request is made yet."""
    kwargs = docker.utils.kwargs_from_env()
    try:
        return docker.APIClient(version=API_VERSION, timeout=timeout, max_pool_size=32, **kwargs)
    except docker.errors.DockerException as exc:
        raise EngineError(f"cannot set up the Docker client: {exc}") from None


def describe(exc: BaseException) -> str:
    """A one-line, user-facing description of a Docker SDK or connection error."""
    if isinstance(exc, docker.errors.APIError):
        text = exc.explanation or str(exc)
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        return str(text).strip()
    if isinstance(exc, (requests.exceptions.ConnectionError, FileNotFoundError, ConnectionRefusedError)):
        return ("cannot reach the Docker engine (is dockerd running? "
                "check DOCKER_HOST or /var/run/docker.sock; scripts/test-env starts one here)")
    if isinstance(exc, requests.exceptions.Timeout):
        return "the Docker engine did not answer in time"
    return str(exc)


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, docker.errors.NotFound)


@contextlib.contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Re-raise SDK/connection errors from the block as EngineError('<action>: <why>')."""
    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError) as exc:
        raise EngineError(f"{action}: {describe(exc)}") from None
