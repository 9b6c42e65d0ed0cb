"""A wrapper for secret values: it prints, reprs and serialises as `(sensitive)`.

Only code that must hand the value to Docker or PostgreSQL calls `reveal()`.
Leaf module: imports the standard library only.
"""

from __future__ import annotations

from typing import Any

MASK = "(sensitive)"


class Sensitive:
    """A string that must never be shown; equality compares the hidden value."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sensitive):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Sensitive", self._value))


def reveal(value: Any) -> Any:
    """Recursively replace Sensitive values with their real text (for providers only)."""
    if isinstance(value, Sensitive):
        return value.reveal()
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(reveal(v) for v in value)
    return value


def redact(value: Any) -> Any:
    """Recursively replace Sensitive values with the mask (for output)."""
    if isinstance(value, Sensitive):
        return MASK
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


def contains_sensitive(value: Any) -> bool:
    """True if a Sensitive value is anywhere inside `value`."""
    if isinstance(value, Sensitive):
        return True
    if isinstance(value, dict):
        return any(contains_sensitive(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_sensitive(v) for v in value)
    return False
