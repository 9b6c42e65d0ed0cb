"""Resource addresses `kind.key`: what plans print and what --target and --replace take.

Leaf module: imports the standard library only. Which kinds exist is the kind registry's
business (`quayform.kinds.REGISTRY.parse_address` checks the kind too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KIND = re.compile(r"^[a-z][a-z_]*$")


@dataclass(frozen=True, order=True)
class Address:
    """A resource address such as `containers.pgsql`."""

    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.key}"

    @classmethod
    def parse(cls, text: str) -> "Address":
        """Parse `kind.key` (syntax only), raising ValueError with a readable message."""
        kind, dot, key = text.partition(".")
        if not dot or not key or not _KIND.match(kind):
            raise ValueError(f"{text!r} is not a resource address (expected kind.key, e.g. containers.web)")
        return cls(kind, key)
