"""One apply at a time per stack, with the lock held on the engine itself (on each engine, in a fixed order,
when the stack spans several).

The lock is a container named `quayform-lock-<stack>` (created, never started, from a
tiny local image quayform imports once). Creating a container with a fixed name is
atomic on the engine, so two operators on two machines exclude each other. Its labels
name the holder; a holder on this host whose process is gone is taken over with a
warning, any other holder only by `quayform force-unlock`.
"""

from __future__ import annotations

import getpass
import io
import os
import socket
import tarfile
import time
from dataclasses import dataclass
from typing import Any, Callable

from quayform import labels as L
from quayform.errors import EngineError, LockHeldError

LOCK_IMAGE = "quayform/lock:1"
LOCK = L.PREFIX + "lock"


def lock_name(stack: str) -> str:
    return f"quayform-lock-{stack}"


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its labels say."""

    user: str
    host: str
    pid: int
    boot_id: str
    operation: str
    since: str

    def __str__(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid}, `quayform {self.operation}` since {self.since})"

    def is_gone(self) -> bool:
        """True only when the holder ran on this very machine and boot, and its process has ended."""
        if self.host != socket.gethostname() or self.boot_id != _boot_id():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> "Holder":
        return cls(labels.get(LOCK + ".user", "?"), labels.get(LOCK + ".host", "?"),
                   int(labels.get(LOCK + ".pid", "0") or 0), labels.get(LOCK + ".boot-id", ""),
                   labels.get(LOCK + ".operation", "?"), labels.get(LOCK + ".since", "?"))


def _ensure_image(engine: Any) -> None:
    with engine.errors("checking the lock image"):
        try:
            engine.api.inspect_image(LOCK_IMAGE)
            return
        except engine.NotFound:
            pass
    empty = io.BytesIO()
    with tarfile.open(fileobj=empty, mode="w"):
        pass
    repository, tag = LOCK_IMAGE.split(":")
    with engine.errors("creating the lock image"):
        engine.api.import_image_from_data(empty.getvalue(), repository=repository, tag=tag)


class StackLock:
    """Context manager: acquire on enter (waiting up to `timeout`), release on exit."""

    def __init__(self, engine: Any, stack: str, operation: str, timeout: float = 0.0,
                 warn: Callable[[str], None] = lambda message: None):
        self.engine, self.stack, self.operation, self.timeout, self.warn = engine, stack, operation, timeout, warn
        self.container_id: str | None = None

    def _labels(self) -> dict[str, str]:
        return {L.STACK: self.stack, LOCK: "true", LOCK + ".user": getpass.getuser(),
                LOCK + ".host": socket.gethostname(), LOCK + ".pid": str(os.getpid()), LOCK + ".boot-id": _boot_id(),
                LOCK + ".operation": self.operation, LOCK + ".since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def _try_create(self) -> bool:
        engine = self.engine
        try:
            created = engine.api.create_plain(lock_name(self.stack), {"Image": LOCK_IMAGE, "Cmd": ["lock"],
                                                                     "Labels": self._labels(),
                                                                     "NetworkDisabled": True})
        except engine.APIError as exc:
            if exc.status_code == 409:
                return False
            raise EngineError(f"taking the lock of stack {self.stack}: {engine.describe(exc)}") from None
        except engine.Failure as exc:
            raise EngineError(f"taking the lock of stack {self.stack}: {engine.describe(exc)}") from None
        self.container_id = created["Id"]
        return True

    def holder(self) -> Holder | None:
        with self.engine.errors(f"reading the lock of stack {self.stack}"):
            try:
                labels = self.engine.api.inspect_container(lock_name(self.stack))["Config"]["Labels"] or {}
            except self.engine.NotFound:
                return None
        return Holder.from_labels(labels)

    def __enter__(self) -> "StackLock":
        _ensure_image(self.engine)
        deadline = time.monotonic() + self.timeout
        while not self._try_create():
            holder = self.holder()
            if holder is not None and holder.is_gone():
                self.warn(f"Taking over the lock of stack {self.stack!r} from {holder}: that process is gone.")
                force_unlock(self.engine, self.stack)
                continue
            if time.monotonic() >= deadline:
                raise LockHeldError(f"stack {self.stack!r} is locked by {holder}; wait for it (--lock-timeout), "
                                    f"or if that process is gone, run `quayform force-unlock`")
            time.sleep(0.5)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.container_id:
            try:
                self.engine.api.remove_container(self.container_id, force=True)
            except self.engine.Failure:
                pass


class EngineLocks:
    """The stack's lock on every engine the spec touches, taken one by one in a fixed order (by where each
    engine is, `order_key`), so two operators whose specs share engines always queue on the first shared
    lock and never hold one each while waiting for the other's. Released in reverse order on every exit,
    including when taking a later one fails (its engine is down, its lock is held)."""

    def __init__(self, engines: list[tuple[Any, Any]], stack: str, operation: str, timeout: float = 0.0,
                 warn: Callable[[str], None] = lambda message: None):
        ordered = sorted(engines, key=lambda pair: pair[0])  # (order_key, engine connection)
        self.locks = [StackLock(engine, stack, operation, timeout, warn) for _, engine in ordered]
        self.held: list[StackLock] = []

    def __enter__(self) -> "EngineLocks":
        try:
            for lock in self.locks:
                lock.__enter__()
                self.held.append(lock)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        while self.held:
            self.held.pop().__exit__()


def force_unlock(engine: Any, stack: str) -> Holder | None:
    """Remove the lock whoever holds it; returns who held it."""
    lock = StackLock(engine, stack, "force-unlock")
    holder = lock.holder()
    try:
        engine.api.remove_container(lock_name(stack), force=True)
    except engine.NotFound:
        return None
    except engine.Failure as exc:
        raise EngineError(f"removing the lock of stack {stack}: {engine.describe(exc)}") from None
    return holder
