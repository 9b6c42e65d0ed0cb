"""Value types shared by the stages: desired and live objects, actions, changes, reasons, events.

Kept free of I/O and of every other stage so each stage can use them without importing another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Hashable

from quayform.address import Address

# A desired value that cannot be known until apply (e.g. the id of an image still to be pulled).
UNKNOWN = "(known after apply)"
# What a kind's create returns when the object turned out to exist already (it was brought in line).
EXISTED = "existed"


class Action(Enum):
    """What apply will do to one resource; the value is the symbol the plan prints."""

    NOOP = ""
    CREATE = "+"
    UPDATE = "~"
    REPLACE = "-/+"
    CREATE_THEN_DELETE = "+/-"  # a replacement whose new object starts before the old one goes
    DELETE = "-"

    @property
    def is_replace(self) -> bool:
        return self in (Action.REPLACE, Action.CREATE_THEN_DELETE)

    @property
    def creates(self) -> bool:
        """The action ends with a new object (so a missing image must be pulled first)."""
        return self is Action.CREATE or self.is_replace


class Reason(str):
    """Why a change or a kept resource is what it is: a stable code for machines, text for people.

    It is a str (the text), so it prints and compares as the sentence it carries.
    """

    code: str

    def __new__(cls, code: str, text: str) -> "Reason":
        reason = super().__new__(cls, text)
        reason.code = code
        return reason

    def __reduce__(self) -> tuple:
        return (Reason, (self.code, str(self)))


def reason_code(reason: str | None) -> str | None:
    return getattr(reason, "code", None) if reason is not None else None


@dataclass(frozen=True)
class Lifecycle:
    """A resource's Terraform-style guards, as the spec declares them."""

    prevent_destroy: bool = False
    ignore_changes: tuple[str, ...] = ()
    create_before_destroy: bool = False


NO_LIFECYCLE = Lifecycle()


@dataclass(frozen=True)
class Prerequisite:
    """Something apply must do before any change (today: pull an image), shown in the plan.

    `kind` prepares it on `target`, for the resources in `addresses` (only if one is created).
    """

    action: str  # "pull"
    value: str  # e.g. the image reference
    text: str  # the plan's line
    kind: str = ""
    target: Hashable = None
    addresses: tuple[Address, ...] = ()

    def merged(self, other: "Prerequisite") -> "Prerequisite":
        return Prerequisite(self.action, self.value, self.text, self.kind, self.target,
                            tuple(sorted(set(self.addresses) | set(other.addresses))))

    @property
    def key(self) -> tuple:
        return (self.kind, self.target, self.action, self.value)


@dataclass(frozen=True)
class Desired:
    """A resource as the spec wants it.

    `form` is the plain dict diff compares and the plan shows; `payload` is what apply needs
    beyond it (typed per kind, never compared, never shown); `target` says where it lives.
    Attributes in `partial` are compared only on the keys or items the desired side names.
    """

    form: dict[str, Any]
    payload: Any = None
    lifecycle: Lifecycle = NO_LIFECYCLE
    target: Hashable = None
    partial: frozenset[str] = frozenset()
    prerequisites: tuple[Prerequisite, ...] = ()


@dataclass(frozen=True)
class LiveObject:
    """One object as read back from where it lives, normalised by its kind.

    `address` is None for objects that are not the stack's (other stacks', or nobody's);
    `owner` is the stack its marker names, if any; `guarded` is a prevent_destroy recorded
    on the object itself (so it holds after the resource leaves the spec).
    """

    kind: str
    address: Address | None
    name: str
    id: str
    form: dict[str, Any]
    payload: Any = None
    owner: str | None = None
    guarded: bool = False
    target: Hashable = None
    replace_reason: str | None = None  # the object must be recreated whatever the spec says (a Reason)

    @property
    def state(self) -> dict[str, Any]:
        """The normalised form (the name `show` has always used)."""
        return self.form


@dataclass(frozen=True)
class AttributeChange:
    """One attribute that differs; values are already redacted when `sensitive`."""

    path: str
    before: Any
    after: Any
    forces_replace: bool = False
    sensitive: bool = False
    held: bool = False  # a difference quayform shows but never applies


@dataclass(frozen=True)
class Change:
    """The planned action for one resource and why.

    `after` is the desired form and `before` the live one (both as compared); `payload`,
    `lifecycle` and `target` come from the desired side, `live_payload`, `live_target` and
    `guarded` from the live object: what apply needs beyond the forms.
    """

    address: Address
    action: Action
    attributes: tuple[AttributeChange, ...] = ()
    reason: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    live_id: str | None = None
    payload: Any = None
    live_payload: Any = None
    lifecycle: Lifecycle = NO_LIFECYCLE
    target: Hashable = None
    live_target: Hashable = None
    guarded: bool = False

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

    address: Address | None  # None for a notice about the whole run
    phase: str  # "start" | "done" | "failed" | "skipped" | "info" | "notice" | "waiting" (what a wait awaits)
    operation: str  # "create" | "update" | "delete" | "pull" | "wait" | "create_before_destroy"
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
