"""Value types shared by diff, plan, render and apply: actions, attribute changes, changes, events.

Kept free of I/O and of every other stage so each stage can use them without importing another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from quayform.address import Address

# A desired value that cannot be known until apply (e.g. the id of an image still to be pulled).
UNKNOWN = "(known after apply)"


class Action(Enum):
    """What apply will do to one resource; the value is the symbol the plan prints."""

    NOOP = ""
    CREATE = "+"
    UPDATE = "~"
    REPLACE = "-/+"
    DELETE = "-"

    @property
    def is_replace(self) -> bool:
        return self is Action.REPLACE


@dataclass(frozen=True)
class AttributeChange:
    """One attribute that differs; values are already redacted when `sensitive`."""

    path: str
    before: Any
    after: Any
    forces_replace: bool = False
    sensitive: bool = False


@dataclass(frozen=True)
class Change:
    """The planned action for one resource and why.

    `after` is the desired form (may hold Sensitive values; keys starting with "_" carry
    what apply needs but diff never compares); `before` is the live form.
    """

    address: Address
    action: Action
    attributes: tuple[AttributeChange, ...] = ()
    reason: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    live_id: str | None = None

    @property
    def name(self) -> str:
        source = self.after or self.before or {}
        return str(source.get("name", self.address.key))


@dataclass(frozen=True)
class Kept:
    """A resource that the plan deliberately leaves alone, and why (shown in the plan)."""

    address: Address
    reason: str
    attributes: tuple[AttributeChange, ...] = ()


@dataclass(frozen=True)
class ApplyEvent:
    """Progress of one operation, emitted by apply and printed by render."""

    address: Address
    phase: str  # "start" | "done" | "failed" | "skipped" | "info"
    operation: str  # "create" | "update" | "delete" | "pull" | "wait"
    elapsed: float = 0.0
    message: str | None = None


@dataclass
class ApplyResult:
    """Counts of what apply did, and what failed."""

    added: int = 0
    changed: int = 0
    replaced: int = 0
    destroyed: int = 0
    errors: list[tuple[Address, str]] = field(default_factory=list)
    skipped: list[Address] = field(default_factory=list)
    interrupted: bool = False
