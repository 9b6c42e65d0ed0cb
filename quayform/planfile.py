"""Saved plans (`plan -out FILE`, `apply FILE`): what was shown, plus how to tell it is stale.

A saved plan holds no secret values: the plan document (secrets already masked), the
options that made it, and keyed digests (HMAC with a random salt kept in the file) of
every desired and live form, in which each secret enters only through a slow salted
digest (scrypt), so the file is no fast oracle for guessing a secret. `apply FILE` makes the plan again and refuses to go on if
any digest differs: the spec, a secret or the live state changed in between.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from quayform.errors import PlanStaleError, QuayformError
from quayform.labels import fingerprint
from quayform.plan import Plan
from quayform.plan_document import ACTION_NAMES, ACTION_STEPS

SAVED_FORMAT = "quayform-plan/1"


def digests(plan: Plan, salt: bytes) -> dict[str, dict[str, str]]:
    seen: dict[str, str] = {}
    return {
        "desired": {str(a): fingerprint(f, salt, seen) for a, f in sorted(plan.desired_forms.items())},
        "live": {str(a): fingerprint(f, salt, seen) for a, f in sorted(plan.live_forms.items())},
    }


def save_plan(path: str, plan: Plan, document: dict[str, Any], options: dict[str, Any]) -> None:
    """Write the plan readable by its owner only (0600)."""
    salt = secrets.token_bytes(16)
    saved = {"format": SAVED_FORMAT, "plan": document, "options": options, "salt": salt.hex(),
             "digests": digests(plan, salt)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(saved, handle, indent=1)  # the plan document keeps its order: `show FILE` reads as `plan`


def load_plan(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
    except OSError as exc:
        raise QuayformError(f"cannot read saved plan {path}: {exc.strerror}") from None
    except ValueError:
        raise QuayformError(f"{path} is not a saved quayform plan (not JSON)") from None
    if not isinstance(saved, dict) or saved.get("format") != SAVED_FORMAT:
        raise QuayformError(f"{path} is not a saved quayform plan (expected format {SAVED_FORMAT})")
    return saved


def check_fresh(saved: dict[str, Any], fresh: Plan) -> None:
    """Raise PlanStaleError naming what changed since the saved plan was made."""
    if saved["plan"]["stack"] != fresh.stack:
        raise PlanStaleError(f"the saved plan is for stack {saved['plan']['stack']!r}, not {fresh.stack!r}")
    now = digests(fresh, bytes.fromhex(saved["salt"]))
    reasons = []
    for side, what in (("desired", "the spec or its secrets changed"), ("live", "the live state changed")):
        before, after = saved["digests"][side], now[side]
        changed = sorted(a for a in set(before) | set(after) if before.get(a) != after.get(a))
        if changed:
            reasons.append(f"{what} ({', '.join(changed)})")
    shown = [(c["address"], c["action"], c.get("actions")) for c in saved["plan"]["changes"]]
    again = [(str(c.address), ACTION_NAMES[c.action], ACTION_STEPS[c.action]) for c in fresh.changes]
    if not reasons and shown != again:
        reasons.append("planning again gives other changes")
    if reasons:
        raise PlanStaleError("the saved plan is stale: " + "; ".join(reasons) + ". Run `quayform plan` again.")
