"""Desired vs live -> changes. Pure: plain dicts in, Change values out; no Docker, no spec loading.

Both sides are the normalised dicts the providers build. Keys starting with "_" are
apply's payload and never compared; desired values equal to UNKNOWN are not compared.
Field policies are passed in, so this module can be tested on plain data.
"""

from __future__ import annotations

from typing import Any, Mapping

from quayform.address import Address
from quayform.changes import UNKNOWN, Action, AttributeChange, Change, Kept
from quayform.sensitive import MASK, Sensitive, contains_sensitive, reveal

# Kinds whose changed definition would destroy data or cut off containers: held unless asked.
HELD_KINDS = ("volumes", "networks", "databases")


def comparable(desired: Mapping[str, Any], live: Mapping[str, Any], ignored: frozenset[str] = frozenset()
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two sides reduced to what can be compared (payload, unknowns and ignored fields dropped)."""
    want = {k: reveal(v) for k, v in desired.items()
            if not k.startswith("_") and k not in ignored and not (isinstance(v, str) and v == UNKNOWN)}
    have = {k: reveal(v) for k, v in live.items() if k in want}
    for name in ignored:
        key, dot, sub = name.partition(".")
        if dot:  # ignore one key of a mapping attribute, e.g. env.BUILD_ID
            for side in (want, have):
                if isinstance(side.get(key), dict):
                    side[key] = {k: v for k, v in side[key].items() if k != sub}
    for key in desired.get("_partial", ()):
        if isinstance(want.get(key), dict) and isinstance(have.get(key), dict):
            have[key] = {k: v for k, v in have[key].items() if k in want[key]}
        elif isinstance(want.get(key), list) and isinstance(have.get(key), list):
            have[key] = [v for v in have[key] if v in want[key]]
    return want, have


def _lookup(data: Mapping[str, Any], path: tuple[Any, ...]) -> Any:
    value: Any = data
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def attribute_changes(desired: Mapping[str, Any], live: Mapping[str, Any], replace_on: frozenset[str],
                      mappings: frozenset[str], ignored: frozenset[str] = frozenset()) -> tuple[AttributeChange, ...]:
    """Every attribute that differs, per key inside mapping attributes (env.FOO), sensitive ones masked."""
    want, have = comparable(desired, live, ignored)
    if want == have:
        return ()
    from deepdiff import DeepDiff  # imported only when something differs: a no-op plan never pays for it

    paths: set[tuple[Any, ...]] = set()
    for report in DeepDiff(have, want, view="tree", verbose_level=2).values():
        for level in report:
            full = tuple(level.path(output_format="list"))
            depth = 2 if full and full[0] in mappings and len(full) > 1 else 1
            paths.add(full[:depth])
    changes = []
    for path in sorted(paths, key=lambda p: tuple(str(x) for x in p)):
        secret = contains_sensitive(_lookup(desired, path)) or contains_sensitive(_lookup(live, path))
        before, after = _lookup(have, path), _lookup(want, path)
        if secret:
            before, after = (MASK if before is not None else None), (MASK if after is not None else None)
        changes.append(AttributeChange(".".join(str(p) for p in path), before, after, path[0] in replace_on, secret))
    return tuple(changes)


def choose_action(live_exists: bool, attributes: tuple[AttributeChange, ...], replace_requested: bool) -> Action:
    """Absent -> create; replace asked or a replace-forcing attribute changed -> replace; equal -> no-op; else update."""
    if not live_exists:
        return Action.CREATE
    if replace_requested or any(a.forces_replace for a in attributes):
        return Action.REPLACE
    return Action.UPDATE if attributes else Action.NOOP


def diff_resource(address: Address, desired: dict[str, Any], live: dict[str, Any] | None, live_id: str | None,
                  policy: Any, replace_requested: bool = False) -> Change | Kept:
    """The change for one resource in the spec (held kinds come back as Kept unless replace is asked)."""
    if live is None:
        return Change(address, Action.CREATE, reason=None, after=desired)
    ignored = policy.ignored | frozenset(desired.get("_ignore", ()))
    attributes = attribute_changes(desired, live, policy.replace_on, policy.mappings, ignored)
    action = choose_action(True, attributes, replace_requested)
    if action is Action.REPLACE and address.kind == "databases":
        fixed = ", ".join(a.path for a in attributes if a.forces_replace)
        return Kept(address, f"PostgreSQL cannot change a database's {fixed} in place and quayform never drops a "
                             "database; dump, drop and restore it by hand if the change is needed", attributes)
    if action is Action.REPLACE and address.kind in HELD_KINDS and not replace_requested:
        return Kept(address, f"its definition changed, but recreating it would {_held_cost(address.kind)}; "
                             f"run with --replace {address} to recreate it", attributes)
    reason = "replacement requested with --replace" if replace_requested else None
    return Change(address, action, attributes, reason, before=live, after=desired, live_id=live_id)


def _held_cost(kind: str) -> str:
    return "delete the data in it" if kind == "volumes" else "disconnect every container on it"


def diff_stack(desired: Mapping[Address, dict[str, Any]], live: Mapping[Address, tuple[str, dict[str, Any]]],
               policies: Mapping[str, Any], replace: set[Address] | frozenset[Address] = frozenset()
               ) -> tuple[list[Change], list[Kept]]:
    """Changes for every address in the spec or on the engine; orphans are deleted (volumes kept)."""
    changes: list[Change] = []
    kept: list[Kept] = []
    for address, want in desired.items():
        live_id, have = live.get(address, (None, None))
        result = diff_resource(address, want, have, live_id, policies[address.kind], address in replace)
        (kept if isinstance(result, Kept) else changes).append(result)
    for address, (live_id, have) in live.items():
        if address in desired:
            continue
        if address.kind == "volumes":
            kept.append(Kept(address, f"it is no longer in the spec but may hold data; delete it with "
                                      f"`docker volume rm {have.get('name')}` if it is no longer needed"))
        elif address.kind == "databases":
            kept.append(Kept(address, f"it is no longer in the spec; quayform never drops a database implicitly "
                                      f"(DROP DATABASE {have.get('name')!r} by hand if it is no longer needed)"))
        else:
            changes.append(Change(address, Action.DELETE, reason="it is no longer in the spec", before=have,
                                  live_id=live_id))
    return changes, kept


def sensitive_paths(desired: Mapping[str, Any]) -> list[str]:
    """Top-level and mapping-level keys holding secrets (for renderers that show whole values)."""
    found = []
    for key, value in desired.items():
        if isinstance(value, Sensitive):
            found.append(key)
        elif isinstance(value, Mapping):
            found += [f"{key}.{k}" for k, v in value.items() if contains_sensitive(v)]
    return found
