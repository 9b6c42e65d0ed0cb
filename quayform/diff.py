"""Desired vs live -> changes. Pure: plain values in, Change values out; no Docker, no spec loading.

Both sides are the normalised forms the kinds build. Desired values equal to UNKNOWN are
not compared. Each kind's rules come in as a `FieldPolicy` (which attributes replace,
update in place, are held or ignored; judges that read a live value against the desired
one; what a replacement or an orphan means), passed in by the pipeline, so this module can
be tested on plain data.
"""

from __future__ import annotations

from dataclasses import replace as with_fields
from typing import Any, Hashable, Mapping

from quayform.address import Address
from quayform.changes import NO_LIFECYCLE, UNKNOWN, Action, AttributeChange, Change, Desired, Kept, LiveObject, Reason
from quayform.sensitive import MASK, Sensitive, contains_sensitive, reveal

REPLACE_REQUESTED = Reason("replace_requested", "replacement requested with --replace")
ORPHAN = Reason("orphan", "it is no longer in the spec")


def comparable(desired: Mapping[str, Any], live: Mapping[str, Any], ignored: frozenset[str] = frozenset(),
               partial: frozenset[str] | tuple[str, ...] = frozenset()) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two sides reduced to what can be compared (unknowns and ignored fields dropped)."""
    want = {k: reveal(v) for k, v in desired.items()
            if k not in ignored and not (isinstance(v, str) and v == UNKNOWN)}
    have = {k: reveal(v) for k, v in live.items() if k in want}
    for name in ignored:
        key, dot, sub = name.partition(".")
        if dot:  # ignore one key of a mapping attribute, e.g. env.BUILD_ID
            for side in (want, have):
                if isinstance(side.get(key), dict):
                    side[key] = {k: v for k, v in side[key].items() if k != sub}
    for key in partial:
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
                      mappings: frozenset[str], ignored: frozenset[str] = frozenset(),
                      partial: frozenset[str] | tuple[str, ...] = frozenset(),
                      held: frozenset[str] = frozenset()) -> tuple[AttributeChange, ...]:
    """Every attribute that differs, per key inside mapping attributes (env.FOO), sensitive ones masked."""
    want, have = comparable(desired, live, ignored, partial)
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
        changes.append(AttributeChange(".".join(str(p) for p in path), before, after, path[0] in replace_on, secret,
                                       path[0] in held))
    return tuple(changes)


def moved(target: Hashable, live_target: Hashable) -> tuple[AttributeChange, ...]:
    """An object found on another engine than the spec puts it on: a new one is made there (Docker
    cannot move objects between engines), so the move forces replacement."""
    before, after = getattr(live_target, "engine_name", None), getattr(target, "engine_name", None)
    if before is None or after is None or before == after:
        return ()
    return (AttributeChange("engine", before, after, True),)


def choose_action(live_exists: bool, attributes: tuple[AttributeChange, ...], replace_requested: bool) -> Action:
    """Absent -> create; replace asked or a replace-forcing attribute changed -> replace; equal -> no-op; else update.

    Held differences are shown but never acted on, so they alone make no change.
    """
    if not live_exists:
        return Action.CREATE
    if replace_requested or any(a.forces_replace for a in attributes):
        return Action.REPLACE
    return Action.UPDATE if any(not a.held for a in attributes) else Action.NOOP


def judged(live: LiveObject, desired: Desired, policy: Any) -> dict[str, Any]:
    """The live form with every judged attribute read against the desired value (e.g. a password verifier)."""
    form = dict(live.form)
    for name, judge in policy.judges.items():
        form[name] = judge(desired.form.get(name), live.form, live.payload)
    return form


def _change(address: Address, action: Action, attributes: tuple[AttributeChange, ...], reason: str | None,
            desired: Desired | None, live: LiveObject | None, live_form: dict[str, Any] | None = None) -> Change:
    return Change(address, action, attributes, reason,
                  before=live_form if live_form is not None else (live.form if live else None),
                  after=desired.form if desired else None, live_id=live.id if live else None,
                  payload=desired.payload if desired else None, live_payload=live.payload if live else None,
                  lifecycle=desired.lifecycle if desired else NO_LIFECYCLE,
                  target=desired.target if desired else None, live_target=live.target if live else None,
                  guarded=live.guarded if live else False)


def diff_resource(address: Address, desired: Desired, live: LiveObject | None, policy: Any,
                  replace_requested: bool = False) -> Change | Kept:
    """The change for one resource in the spec (held replacements come back as Kept)."""
    if live is None:
        return _change(address, Action.CREATE, (), None, desired, None)
    live_form = judged(live, desired, policy)
    ignored = policy.ignored | frozenset(desired.lifecycle.ignore_changes)
    attributes = attribute_changes(desired.form, live_form, policy.replace_on, policy.mappings, ignored,
                                   desired.partial, policy.held) + moved(desired.target, live.target)
    forced = replace_requested or live.replace_reason is not None
    action = choose_action(True, attributes, forced)
    held = [a.path for a in attributes if a.held]
    hold_text = policy.hold_reason.format(address=address, attributes=", ".join(held))
    if action is Action.REPLACE and policy.on_replace == "refuse":
        return Kept(address, Reason("cannot_replace", hold_text), attributes)
    if action is Action.REPLACE and policy.on_replace == "hold" and not forced:
        return Kept(address, Reason("held", hold_text), attributes)
    if action is Action.NOOP and held:
        return Kept(address, Reason("held", hold_text), attributes)
    if action is Action.REPLACE and desired.lifecycle.create_before_destroy:
        action = Action.CREATE_THEN_DELETE
    reason = live.replace_reason or (REPLACE_REQUESTED if replace_requested else None)
    if reason is None and action.is_replace and policy.replace_reason:
        reason = Reason("cannot_update", policy.replace_reason)
    return _change(address, action, attributes, reason, desired, live, live_form)


def diff_stack(desired: Mapping[Address, Desired], live: Mapping[Address, LiveObject],
               policies: Mapping[str, Any], replace: set[Address] | frozenset[Address] = frozenset(),
               unreadable: Mapping[tuple[str, Hashable], str] | None = None) -> tuple[list[Change], list[Kept]]:
    """Changes for every address in the spec or live; orphans are deleted or kept as their kind says.

    `unreadable` names the (kind, target) pairs that could not be read, and why: what the
    spec wants there is planned as created if missing, and the plan says why it could not tell.
    """
    changes: list[Change] = []
    kept: list[Kept] = []
    for address, want in desired.items():
        result = diff_resource(address, want, live.get(address), policies[address.kind], address in replace)
        why = (unreadable or {}).get((address.kind, want.target))
        if isinstance(result, Change) and result.action is Action.CREATE and why:
            result = with_fields(result, reason=Reason("target_unreadable", f"{why}; created if missing once it is"))
        (kept if isinstance(result, Kept) else changes).append(result)
    for address, have in live.items():
        if address in desired:
            continue
        policy = policies[address.kind]
        if policy.orphan == "keep":
            kept.append(Kept(address, Reason("orphan_kept", policy.orphan_reason(have))))
        else:
            note = policy.delete_note(have)
            reason = Reason(ORPHAN.code, f"{ORPHAN}; {note}") if note else ORPHAN
            changes.append(_change(address, Action.DELETE, (), reason, None, have))
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
