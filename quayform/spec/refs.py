"""`${section.key[.attr]}` references: find them, check them, substitute them once.

Substitution is single-pass: a value that itself contains `${...}` is inserted as
literal text and never expanded again. `$${` writes a literal `${`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from quayform.kinds import REGISTRY
from quayform.later import join
from quayform.sensitive import Sensitive

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_PART = re.compile(r"^[A-Za-z0-9_-]+$")

SECTIONS = ("variables", "secrets", *REGISTRY.sections)
RESOURCE_ATTRS = {kind.section: kind.reference_attrs for kind in REGISTRY}


@dataclass(frozen=True)
class Ref:
    """One parsed reference such as ${containers.pgsql.name}."""

    section: str
    key: str
    attr: str | None
    text: str

    def __str__(self) -> str:
        return self.text


class RefSyntaxError(ValueError):
    """A `${...}` that cannot be parsed."""


def parse_ref(inner: str) -> Ref:
    parts = inner.strip().split(".")
    text = "${" + inner + "}"
    if len(parts) not in (2, 3) or not all(_PART.match(p) for p in parts):
        raise RefSyntaxError(f"{text} is not a valid reference (expected ${{section.key}} or ${{section.key.attr}})")
    section = parts[0]
    if section not in SECTIONS:
        raise RefSyntaxError(f"{text}: unknown section {section!r} (expected one of {', '.join(SECTIONS)})")
    attr = parts[2] if len(parts) == 3 else None
    if section in ("variables", "secrets") and attr is not None:
        raise RefSyntaxError(f"{text}: {section} have no attributes")
    if section in RESOURCE_ATTRS:
        if attr is None:
            raise RefSyntaxError(f"{text}: name an attribute, e.g. ${{{section}.{parts[1]}.name}}")
        if attr not in RESOURCE_ATTRS[section]:
            allowed = ", ".join(RESOURCE_ATTRS[section])
            raise RefSyntaxError(f"{text}: {section} have no attribute {attr!r} (available: {allowed})")
    return Ref(section, parts[1], attr, text)


def find_refs(text: str) -> list[Ref]:
    """Every reference in `text`, in order; raises RefSyntaxError on a malformed one."""
    refs = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token == "$${":
            continue
        if match.group(1) is None:
            raise RefSyntaxError("unterminated '${' (write '$${' for a literal '${')")
        refs.append(parse_ref(match.group(1)))
    return refs


def substitute(text: str, resolve: Callable[[Ref], str | Sensitive]) -> Any:
    """Replace every reference by its value; the result is Sensitive if any part was, and a Later
    (settled once the resources it names exist) if any part is known only after apply."""
    out: list[Any] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(text[pos:match.start()])
        pos = match.end()
        if match.group(0) == "$${":
            out.append("${")
            continue
        if match.group(1) is None:
            raise RefSyntaxError("unterminated '${' (write '$${' for a literal '${')")
        out.append(resolve(parse_ref(match.group(1))))
    out.append(text[pos:])
    return join(out)
