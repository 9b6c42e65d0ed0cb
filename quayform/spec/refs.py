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
# Compose's interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME:+other}...
_COMPOSE = re.compile(r"^(?:(variables|secrets)\.([A-Za-z0-9_-]+?)|([A-Za-z_][A-Za-z0-9_]*))(?:(:?[-?+])(.*))?$",
                      re.DOTALL)

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


def compose_hint(inner: str) -> str | None:
    """What to write instead of compose's `${NAME:-default}` (and its other forms), or None."""
    match = _COMPOSE.match(inner.strip())
    if not match:
        return None
    section, key, name, op, arg = match.groups()
    if section:
        if not op:
            return None
        if section == "secrets":
            return "a quayform reference takes no default or condition: a secret is read from its source"
        return f"a quayform reference takes no default or condition: the default is variables.{key}'s value"
    ref = f"${{variables.{name}}}"
    if not op:
        return (f"compose's spelling? quayform's is {ref} (declared under variables:) or ${{secrets.{name}}}; "
                f"for the text ${{{inner}}} itself (for a shell), write $${{{inner}}}")
    if "-" in op:
        return (f"compose's default-value form; in quayform, declare the default under variables: ({name}: "
                f"{arg}) and write {ref}; --var, QUAYFORM_VAR_{name}, --var-file or .env override it")
    if "?" in op:
        return (f"compose's required-value form; a quayform variable always has a value: declare it under "
                f"variables: and write {ref}, or read it from the environment as a secret (secrets: "
                f"{{{name}: {{env: {name}}}}}, then ${{secrets.{name}}}: an error when unset)")
    return ("compose's alternative-value form, which quayform has no spelling for: write the text itself, or a "
            "variable that holds it")


def parse_ref(inner: str) -> Ref:
    parts = inner.strip().split(".")
    text = "${" + inner + "}"
    if len(parts) not in (2, 3) or not all(_PART.match(p) for p in parts):
        hint = compose_hint(inner)
        raise RefSyntaxError(f"{text} is not a valid reference (expected ${{section.key}} or ${{section.key.attr}})"
                             + (f": {hint}" if hint else ""))
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
