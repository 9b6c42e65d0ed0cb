"""The small interface every kind of resource implements, and what it is given.

Two pure methods (`desired`, `normalise`) build comparable dicts of one shape; diff
compares those. The effectful methods carry out a Change against the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from quayform.address import Address
from quayform.changes import Change


@dataclass(frozen=True)
class FieldPolicy:
    """How each top-level attribute of a kind is treated when it differs."""

    replace_on: frozenset[str]
    update_in_place: frozenset[str] = frozenset()
    ignored: frozenset[str] = frozenset()
    # Attributes whose value is a mapping: diffs are shown per key (env.FOO) instead of whole.
    mappings: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ImageInfo:
    """What an image contributes to a container's configuration when the spec is silent."""

    id: str
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    user: str = ""
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    healthcheck: dict[str, Any] | None = None
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""


@dataclass(frozen=True)
class LiveObject:
    """One object read from the engine: its address, Docker name/id and normalised form."""

    address: Address
    name: str
    id: str
    state: dict[str, Any]


class Provider(Protocol):
    kind: ClassVar[str]
    fields: ClassVar[FieldPolicy]

    def create(self, change: Change) -> None: ...

    def update(self, change: Change) -> None: ...

    def delete(self, change: Change) -> None: ...

    def wait_ready(self, change: Change, timeout: float | None = None) -> None: ...


class ProviderBase:
    """What most providers share: the API client, no in-place update, nothing to wait for."""

    kind: ClassVar[str]

    def __init__(self, api: Any):
        self.api = api

    def update(self, change: Change) -> None:
        from quayform.errors import EngineError

        raise EngineError(f"{self.kind.rstrip('s')} {change.name} cannot be changed in place")

    def wait_ready(self, change: Change, timeout: float | None = None) -> None:
        return None


def split_env(entries: list[str] | None) -> dict[str, str]:
    """["A=1", "B"] -> {"A": "1", "B": ""}; later entries win, as in Docker."""
    env: dict[str, str] = {}
    for entry in entries or []:
        key, _, value = entry.partition("=")
        env[key] = value
    return env
