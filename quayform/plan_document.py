"""The JSON plan document (`plan --json`, saved plans, `show`): its one schema, written and read here.

docs/json-format.md describes it. The human plan is rendered from this very dict (render.py),
and saved plans compare against it (planfile.py), so all three share these spellings.
Secrets are masked before anything enters the document.
"""

from __future__ import annotations

import json
from typing import Any

from quayform.changes import UNKNOWN, Action, AttributeChange, Change, Kept, reason_code
from quayform.kinds import REGISTRY
from quayform.plan import Plan
from quayform.sensitive import MASK, Sensitive, redact

FORMAT_VERSION = "1.0"

ACTION_NAMES = {Action.CREATE: "create", Action.UPDATE: "update", Action.REPLACE: "replace",
                Action.CREATE_THEN_DELETE: "replace", Action.DELETE: "delete", Action.NOOP: "no-op"}
# The steps, in order, as Terraform's `show -json` lists them in resource_changes[].change.actions.
ACTION_STEPS = {Action.CREATE: ["create"], Action.UPDATE: ["update"], Action.REPLACE: ["delete", "create"],
                Action.CREATE_THEN_DELETE: ["create", "delete"], Action.DELETE: ["delete"], Action.NOOP: ["no-op"]}


def action_of(change: dict[str, Any]) -> Action:
    """The Action a change entry of the document stands for."""
    steps = change.get("actions") or []
    if change["action"] == "replace" and steps == ["create", "delete"]:
        return Action.CREATE_THEN_DELETE
    return next(a for a, name in ACTION_NAMES.items() if name == change["action"] and a is not Action.CREATE_THEN_DELETE)


def public(form: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if form is None else redact(dict(form))


def attribute_json(attr: AttributeChange) -> dict[str, Any]:
    return {"path": attr.path, "before": redact(attr.before), "after": redact(attr.after),
            "forces_replacement": attr.forces_replace, "sensitive": attr.sensitive, "held": attr.held}


def change_json(change: Change) -> dict[str, Any]:
    kind = REGISTRY[change.address.kind] if change.address.kind in REGISTRY else None
    shows_after = change.action is Action.CREATE or change.action.is_replace
    computed = kind.computed() if kind is not None else frozenset()
    return {
        "address": str(change.address),
        "kind": change.address.kind,
        "type": kind.noun if kind is not None else change.address.kind,
        "name": change.name,
        "engine": getattr(change.target if change.target is not None else change.live_target, "engine_name", None),
        "action": ACTION_NAMES[change.action],
        "actions": ACTION_STEPS[change.action],
        "reason": str(change.reason) if change.reason is not None else None,
        "reason_code": reason_code(change.reason),
        "attributes": [attribute_json(a) for a in change.attributes],
        "after": public(change.after) if shows_after else None,
        "after_unknown": {k: True for k, v in (change.after or {}).items() if k in computed and v == UNKNOWN}
        if shows_after else {},
    }


def kept_json(kept: Kept) -> dict[str, Any]:
    return {"address": str(kept.address), "reason": str(kept.reason), "reason_code": reason_code(kept.reason),
            "attributes": [attribute_json(a) for a in kept.attributes]}


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The documented, versioned JSON form of a plan (no secret values in it)."""
    return {
        "format_version": FORMAT_VERSION,
        "stack": plan.stack,
        "destroy": plan.destroy,
        "changes": [change_json(c) for c in plan.changes],
        "kept": [kept_json(k) for k in plan.kept],
        "unchanged": [str(a) for a in plan.unchanged],
        "images_to_pull": list(plan.images_to_pull),
        "prerequisites": [{"action": p.action, "value": p.value, "text": p.text} for p in plan.prerequisites],
        "summary": plan.summary(),
        "differs": plan.differs,
        "outputs": {k: redact(v) for k, v in plan.outputs.items()},
        "notes": list(plan.notes),
        "engine_names": list(plan.engine_names),
    }


def live_to_json(stack: str, objects: list[Any]) -> dict[str, Any]:
    """`show --json` of the live stack: every object with its compared attributes (secrets masked)."""
    return {
        "format_version": FORMAT_VERSION,
        "stack": stack,
        "resources": [{"address": str(o.address), "kind": o.address.kind, "name": o.name, "id": o.id,
                       "attributes": public(o.form)} for o in objects],
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, default=lambda v: MASK if isinstance(v, Sensitive) else str(v))


def validation_json(problems: list[Any], stack: str | None = None, resources: int = 0) -> dict[str, Any]:
    """`validate -json`: Terraform's fields (valid, error_count, warning_count, diagnostics), each problem
    with its file, line and key path."""
    return {
        "format_version": FORMAT_VERSION,
        "valid": not problems,
        "error_count": len(problems),
        "warning_count": 0,
        "stack": stack,
        "resources": resources,
        "diagnostics": [{"severity": "error", "summary": p.message, "address": p.key_path or None,
                         "range": {"filename": p.file, "start": {"line": p.line}} if p.file else None}
                        for p in problems],
    }


DRIFT_STATES = {"create": "missing", "update": "changed", "replace": "changed", "delete": "not_in_spec"}


def drift_json(document: dict[str, Any]) -> dict[str, Any]:
    """`plan -refresh-only`: how the live stack differs from the spec, with no fix planned. Made from the plan
    document itself, so the two never disagree. quayform keeps no state file, so drift is measured against the
    spec: `missing` (not there), `changed` (live -> spec per attribute), `not_in_spec` (there, the spec no longer
    has it), `held` (differs, but is held back)."""
    drift = []
    for change in document["changes"]:
        if change["action"] == "replace" and not change["attributes"] and change["reason_code"] == "replace_requested":
            continue
        drift.append({"address": change["address"], "type": change["type"], "name": change["name"],
                      "state": DRIFT_STATES[change["action"]], "reason": change["reason"],
                      "attributes": [{"path": a["path"], "live": a["before"], "spec": a["after"],
                                      "sensitive": a["sensitive"]} for a in change["attributes"]]})
    for kept in document["kept"]:
        drift.append({"address": kept["address"], "type": None, "name": None,
                      "state": "held" if kept["attributes"] else "not_in_spec", "reason": kept["reason"],
                      "attributes": [{"path": a["path"], "live": a["before"], "spec": a["after"],
                                      "sensitive": a["sensitive"]} for a in kept["attributes"]]})
    return {"format_version": FORMAT_VERSION, "stack": document["stack"], "mode": "refresh-only",
            "drift": drift, "unchanged": document["unchanged"], "differs": bool(drift)}
