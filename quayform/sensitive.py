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


LEAVES = frozenset({str, int, float, bool, type(None), bytes})  # the types that are never a Sensitive nor hold one


def reveal(value: Any) -> Any:
    """Recursively replace Sensitive values with their real text (for providers only)."""
    if type(value) in LEAVES:  # the diff reveals every value of both forms: plain ones answer first
        return value
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


def sensitive_values(value: Any) -> list[str]:
    """Every Sensitive value inside dicts, lists, tuples, dataclasses and models (for the Masker)."""
    found: list[str] = []
    seen: set[int] = set()

    def walk(item: Any) -> None:
        if type(item) in LEAVES:  # most of a form: answered before the checks below
            return
        if isinstance(item, Sensitive) and hasattr(item, "parts"):  # a Later: only its known parts have values
            for part in item.parts:
                walk(part)
        elif isinstance(item, Sensitive):
            found.append(item.reveal())
        elif isinstance(item, dict):
            for child in item.values():
                if type(child) not in LEAVES:
                    walk(child)
        elif isinstance(item, (list, tuple, set, frozenset)):
            for child in item:
                if type(child) not in LEAVES:
                    walk(child)
        elif hasattr(item, "__dataclass_fields__") or hasattr(item, "model_fields"):
            if id(item) in seen:
                return
            seen.add(id(item))
            for name in getattr(item, "__dataclass_fields__", None) or type(item).model_fields:
                child = getattr(item, name, None)
                if type(child) not in LEAVES:
                    walk(child)

    walk(value)
    return found


class Masker:
    """Hides every known secret value, and its URL-encoded and base64 forms, in text quayform relays.

    Container logs, health check output and engine or psql messages come from elsewhere and
    may echo a secret; everything quayform prints passes through one Masker per command.
    Values shorter than MIN_LENGTH are not masked in such text (they would hide ordinary words).
    """

    MIN_LENGTH = 4

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: Any = None

    def add(self, *values: Any) -> None:
        forms = {form for value in values for form in _forms_of(value.reveal() if isinstance(value, Sensitive)
                                                                  else str(value))}
        with self._lock:
            if not forms <= self._forms:
                self._forms |= forms
                self._pattern = None

    def add_from(self, value: Any) -> None:
        """Remember every Sensitive value found inside `value`."""
        self.add(*sensitive_values(value))

    def __call__(self, text: str) -> str:
        with self._lock:
            if self._pattern is None and self._forms:
                import re

                alternatives = sorted(self._forms, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(a) for a in alternatives))
            pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None and text else text


def _forms_of(value: str) -> set[str]:
    """A value as it may appear in relayed text: itself, URL-encoded, base64 (standard, URL-safe, unpadded)."""
    import base64
    import json
    from urllib.parse import quote, quote_plus

    if len(value) < Masker.MIN_LENGTH:
        return set()
    raw = value.encode("utf-8", "surrogatepass")
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms |= {encoded, encoded.rstrip("=")}
    return {f for f in forms if len(f) >= Masker.MIN_LENGTH}
