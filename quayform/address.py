"""Resource addresses `kind.key`: what plans print and what --replace takes.

Leaf module: imports the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kinds in the order they are usually created (a container needs its volumes and networks;
# users and databases live in a server container).
KINDS: tuple[str, ...] = ("networks", "volumes", "containers", "users", "databases")


@dataclass(frozen=True, order=True)
class Address:
    """A resource address such as `containers.pgsql`."""

    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.key}"

    @classmethod
    def parse(cls, text: str) -> "Address":
        """Parse `kind.key`, raising ValueError with a readable message."""
        kind, dot, key = text.partition(".")
        if not dot or not key:
            raise ValueError(f"{text!r} is not a resource address (expected kind.key, e.g. containers.web)")
        if kind not in KINDS:
            raise ValueError(f"{text!r}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
        return cls(kind, key)
