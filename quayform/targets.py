"""Where resources live, and the connections that reach them.

A target is a small frozen value a kind puts on each desired and live object: the Docker
engine, or a PostgreSQL server reached through it. `Connections` opens one connection per
target on first use (thread-safe) and hands the same one out afterwards, so a change is
always carried out through the connection of the target it belongs to, and a new kind of
target (an HTTP API, a second engine) is a new target class with its own `open`.

Pure at import time: the clients are imported inside `open`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Hashable


@dataclass(frozen=True)
class EngineTarget:
    """A Docker engine: "default" is DOCKER_HOST or the local socket unless the spec's `engines`
    section names it; any other name is an entry of that section (`host`, and `tls` files as
    absolute paths: ca, cert, key)."""

    name: str = "default"
    host: str | None = None  # None: DOCKER_HOST, as the docker CLI reads it
    tls: tuple[str, str, str] | None = None

    def open(self, connections: "Connections") -> Any:
        from quayform.docker_client import DockerEngine

        return DockerEngine.connect(self.name, connections.stopping, self.host, self.tls)

    @property
    def engine_name(self) -> str:
        return self.name

    @property
    def engine(self) -> "EngineTarget":
        """Itself: every target has the engine it is reached through."""
        return self

    @property
    def sort_key(self) -> tuple[str, str]:
        """The order locks are taken in: by where the engine is, so that two specs naming one engine
        differently still agree; then by name."""
        return (self.host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock", self.name)

    def __str__(self) -> str:
        return f"engine {self.name}"


DEFAULT_ENGINE = EngineTarget()


def engine_target(spec: Any, name: str) -> EngineTarget:
    """The target of the spec's engine `name` (the default one unless the spec declares it)."""
    declared = getattr(spec, "engines", {}).get(name)
    if declared is None:
        return EngineTarget(name)
    tls = None
    if declared.tls is not None:
        base = getattr(spec, "base_dir", ".")
        tls = tuple(os.path.abspath(os.path.join(base, p)) for p in (declared.tls.ca, declared.tls.cert,
                                                                      declared.tls.key))
    return EngineTarget(name, declared.host, tls)


def engine_targets(spec: Any) -> list[EngineTarget]:
    """Every engine the spec knows, by name: each declared one, and the default one unless the spec
    declares others and puts nothing on it (then DOCKER_HOST need not be reachable at all)."""
    declared = set(getattr(spec, "engines", {}))
    used = {item.engine for section in ("networks", "volumes", "containers") for item in
            getattr(spec, section, {}).values()}
    names = declared | ({"default"} if not declared or "default" in used else set())
    return [engine_target(spec, name) for name in sorted(names)]


@dataclass(frozen=True)
class PgTarget:
    """A PostgreSQL server inside one of the stack's containers, reached with docker exec."""

    key: str  # the spec's postgres.KEY
    container: str  # the Docker name of the container it runs in
    admin_user: str
    admin_database: str
    exec_user: str
    engine: EngineTarget = DEFAULT_ENGINE
    databases: tuple[str, ...] = ()  # the spec's databases on it, whose insides the catalog read covers

    serial = True  # one change at a time per server: concurrent DROPs and GRANTs trip over each other

    @property
    def engine_name(self) -> str:
        return self.engine.name

    def open(self, connections: "Connections") -> Any:
        from quayform.pg_client import PgSession

        return PgSession(connections.get(self.engine), self, connections.stopping)

    def __str__(self) -> str:
        return f"postgres.{self.key}"


@dataclass(frozen=True)
class QuayTarget:
    """A Quay instance in one of the stack's containers: its API published on 127.0.0.1 (`url`), or
    reached through the engine (a relay in the container) when it is not published there."""

    key: str  # the spec's quay.KEY
    stack: str
    container: str
    admin_user: str
    admin_email: str
    admin_password: Any  # Sensitive: prints as (sensitive)
    url: str | None = None
    port: int = 8080
    engine: EngineTarget = DEFAULT_ENGINE
    admin_bootstrap: bool = True  # the admin may be created as Quay's first user (apply only)
    organizations: tuple[str, ...] = ()  # the spec's organizations on it, read in full
    repositories: tuple[str, ...] = ()  # the spec's repositories on it ("org/name"), read in full
    declared: tuple[str, ...] = ()  # settings the spec manages, read only then: "quota:ORG", "auto_prune:ORG[/REPO]",
    #                                 "notifications:ORG/REPO"

    serial = True  # one change at a time: quayform's ownership ledger is written after each

    @property
    def engine_name(self) -> str:
        return self.engine.name

    @property
    def host_header(self) -> str:
        return self.url.split("://", 1)[-1].rstrip("/") if self.url else f"localhost:{self.port}"

    def open(self, connections: "Connections") -> Any:
        from quayform.quay_client import QuaySession

        return QuaySession(connections.get(self.engine), self, connections.stopping)

    def __str__(self) -> str:
        return f"quay.{self.key}"


class Connections:
    """One open connection per target, shared by every reader and every change of a run.

    `stopping` is set when the run is interrupted: every wait on every connection ends then.
    """

    def __init__(self) -> None:
        self._open = Memo()
        self.stopping = threading.Event()

    def get(self, target: Any) -> Any:
        return self._open(target, lambda: target.open(self))


def pause(stopping: threading.Event | None, seconds: float, what: str) -> None:
    """Sleep, unless the run is being interrupted: then raise Interrupted naming what was awaited."""
    if stopping is None:
        threading.Event().wait(seconds)
    elif stopping.wait(seconds):
        from quayform.errors import Interrupted

        raise Interrupted(f"interrupted while waiting for {what}")


class Memo:
    """Results computed once per connection and shared between threads (e.g. one list call
    that two kinds read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Hashable, Any] = {}
        self._gates: dict[Hashable, threading.Lock] = {}

    def __call__(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._values:
                return self._values[key]
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = compute()
            with self._lock:
                self._values[key] = value
            return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._values.pop(key, None)
