"""Values known only once another resource exists: a robot's token, an application's client secret.

The spec may use them (`${robots.ci.token}` in a container's env or file) like a secret. The
resolver leaves a `Later` in their place: a sensitive value made of text and references. At plan
time `settle` fills each reference from what was read back (the robot exists: its token is
known), or turns it into UNKNOWN (it is still to be created: the plan says "known after apply").
Apply settles what is left just before the change that needs it runs, by asking the kind that
owns the referenced resource (`Kind.value_of`), once that resource has been created.

Pure: no I/O here; the lookups are passed in.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Callable

from quayform.address import Address
from quayform.changes import UNKNOWN
from quayform.sensitive import LEAVES, MASK, Sensitive


@dataclass(frozen=True)
class Ref:
    """One attribute of one resource, e.g. robots.ci.token."""

    address: Address
    attr: str

    def __str__(self) -> str:
        return f"{self.address}.{self.attr}"


class Later(Sensitive):
    """Text in which some parts are attributes of other resources, known once those exist.

    It is sensitive (tokens and client secrets are secrets) and cannot be revealed until settled.
    """

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[Any, ...]):
        super().__init__("")
        self.parts = tuple(parts)  # str, Sensitive or Ref

    def reveal(self) -> str:
        raise ValueError(f"{self.refs[0]} is not known yet")

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(p for p in self.parts if isinstance(p, Ref))

    def filled(self, lookup: Callable[[Ref], Sensitive | None]) -> Sensitive | None:
        """The settled text, or None when a reference is still unknown."""
        out = []
        for part in self.parts:
            if isinstance(part, Ref):
                value = lookup(part)
                if value is None:
                    return None
                part = value
            out.append(part.reveal() if isinstance(part, Sensitive) else str(part))
        return Sensitive("".join(out))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Later) and other.parts == self.parts

    def __hash__(self) -> int:
        return hash(("Later", self.parts))

    def __repr__(self) -> str:
        return MASK


def join(parts: list[Any]) -> Any:
    """Concatenate substituted parts: a Later if any part is one (or a Ref), else plain or Sensitive text."""
    flat: list[Any] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, Later) else (part,))
    if any(isinstance(p, Ref) for p in flat):
        return Later(tuple(flat))
    if any(isinstance(p, Sensitive) for p in flat):
        return Sensitive("".join(p.reveal() if isinstance(p, Sensitive) else str(p) for p in flat))
    return "".join(str(p) for p in flat)


def refs_in(value: Any) -> list[Ref]:
    found: list[Ref] = []
    walk(value, lambda later: found.extend(later.refs) or later)
    return found


def settle(value: Any, lookup: Callable[[Ref], Sensitive | None], unknown: Any = UNKNOWN) -> Any:
    """`value` with every Later filled in; those that cannot be filled yet become `unknown`
    (pass `unknown=None` to keep them as they are)."""
    def fill(later: Later) -> Any:
        result = later.filled(lookup)
        if result is not None:
            return result
        return later if unknown is None else unknown
    return walk(value, fill)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def walk(value: Any, fill: Callable[[Later], Any]) -> Any:
    """Rebuild `value` (dicts, lists, tuples, frozen dataclasses) with fill() applied to each Later.

    Objects without a Later inside come back as they are (the same object). Plain leaves are passed over
    without a call: a plan walks every desired form and payload (~80 values each)."""
    kind = type(value)
    if kind in LEAVES:
        return value
    if isinstance(value, Later):
        return fill(value)
    if isinstance(value, dict):
        changed = {k: new for k, v in value.items() if type(v) not in LEAVES and (new := walk(v, fill)) is not v}
        return {**value, **changed} if changed else value
    if isinstance(value, (list, tuple)):
        items = [v if type(v) in LEAVES else walk(v, fill) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return kind(items) if not hasattr(value, "_fields") else kind(*items)
    if hasattr(kind, "__dataclass_fields__") and not isinstance(value, type):
        changed = {}
        for name in _field_names(kind):
            old = getattr(value, name)
            if type(old) not in LEAVES and (new := walk(old, fill)) is not old:
                changed[name] = new
        return dataclasses.replace(value, **changed) if changed else value
    return value
