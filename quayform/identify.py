"""Which live object is which resource: pure, beside diff.

Kinds read back every object they see and say which stack and address each one is marked
with (labels, a COMMENT, ...). This step decides, for the spec's addresses:

- an object marked with an address the spec declares is that resource; when its kind
  says a different name means a different object (PostgreSQL), it becomes an orphan
  `key#oldname` instead, and a second object claiming the same address an orphan `key#id`;
- an object of the stack whose address left the spec, but whose name another address now
  wants, is that address's object (a key renamed in the spec keeps its volume);
- an unmarked object with the name the spec wants is adopted where the kind allows it
  (PostgreSQL roles and databases); anywhere else it is a clash, reported before anything
  changes, with the kind's hint (`quayform import` for containers).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Hashable, Iterable, Mapping

from quayform.address import Address
from quayform.changes import Desired, LiveObject
from quayform.errors import PlanError


def _suffixed(live: LiveObject, suffix: str) -> LiveObject:
    assert live.address is not None
    return replace(live, address=Address(live.address.kind, f"{live.address.key}#{suffix}"))


def identify(desired: Mapping[Address, Desired], objects: Iterable[LiveObject], kinds: Any,
             stack: str) -> dict[Address, LiveObject]:
    """The stack's live objects by address (orphans included); PlanError listing every clash."""
    matched: dict[Address, LiveObject] = {}
    foreign: dict[tuple[str, Hashable, str], LiveObject] = {}
    for live in objects:
        if live.address is None:
            foreign.setdefault((live.kind, live.target, live.name), live)
            continue
        want = desired.get(live.address)
        if want is not None and kinds[live.kind].rules.renamed_is_new and want.form.get("name") != live.name:
            live = _suffixed(live, live.name)
        existing = matched.get(live.address)
        if existing is None:
            matched[live.address] = live
        elif want is not None and live.name == want.form.get("name") and existing.name != live.name:
            matched[live.address] = live
            matched[_suffixed(existing, existing.id[:12]).address] = _suffixed(existing, existing.id[:12])
        else:
            matched[_suffixed(live, live.id[:12]).address] = _suffixed(live, live.id[:12])
    _move_renamed_keys(desired, matched)
    problems = []
    for address, want in desired.items():
        if address in matched:
            continue
        other = foreign.get((address.kind, want.target, want.form.get("name")))
        if other is None:
            continue
        kind = kinds[address.kind]
        if kind.rules.adopt_by_name and other.owner is None:
            matched[address] = replace(other, address=address)
        else:
            problems.append(kind.clash(address, other, stack))
    if problems:
        raise PlanError("\n".join(problems))
    return matched


def _move_renamed_keys(desired: Mapping[Address, Desired], matched: dict[Address, LiveObject]) -> None:
    wanted = {(a.kind, d.target, d.form.get("name")): a for a, d in desired.items() if a not in matched}
    for address, live in list(matched.items()):
        if address in desired:
            continue
        new = wanted.pop((live.kind, live.target, live.name), None)
        if new is not None:
            del matched[address]
            matched[new] = replace(live, address=new)
