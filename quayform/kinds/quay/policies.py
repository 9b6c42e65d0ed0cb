"""Auto-prune policies, shared by organizations and repositories: an exact set, compared as plain values."""

from __future__ import annotations

from typing import Any, Iterable

from quayform.changes import UNKNOWN, Change


def _policy(method: str, value: Any, pattern: str | None, matches: bool) -> dict[str, Any]:
    return {"method": method, "value": str(value), "tag_pattern": pattern or None,
            "tag_pattern_matches": bool(matches) if pattern else True}


def auto_prune_form(policies: Iterable[Any] | None) -> Any:
    """The spec's policies, compared as an exact set; left out (None) they are not managed at all."""
    if policies is None:
        return UNKNOWN
    forms = [_policy(p.method, p.value, p.tag_pattern, p.tag_pattern_matches) for p in policies]
    return sorted(forms, key=lambda f: (f["method"], f["value"], f["tag_pattern"] or ""))


def live_auto_prune(policies: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    forms = [_policy(p.get("method", ""), p.get("value", ""), p.get("tagPattern"), p.get("tagPatternMatches", True))
             for p in policies]
    return sorted(forms, key=lambda f: (f["method"], f["value"], f["tag_pattern"] or ""))


def sync_auto_prune(session: Any, collection: str, change: Change) -> None:
    """Delete the policies the spec does not list, create the ones Quay lacks (Quay refuses duplicates)."""
    want = (change.after or {}).get("auto_prune")
    if want is None or want == UNKNOWN:
        return
    have = (session.get(collection) or {}).get("policies") or []
    kept = []
    for policy in have:
        form = _policy(policy.get("method", ""), policy.get("value", ""), policy.get("tagPattern"),
                       policy.get("tagPatternMatches", True))
        if form in want and form not in kept:
            kept.append(form)
        else:
            session.call("DELETE", f"{collection}{policy['uuid']}")
    for form in want:
        if form in kept:
            continue
        body: dict[str, Any] = {"method": form["method"],
                                "value": int(form["value"]) if form["method"] == "number_of_tags" else form["value"]}
        if form["tag_pattern"]:
            body.update(tagPattern=form["tag_pattern"], tagPatternMatches=form["tag_pattern_matches"])
        session.call("POST", collection, body)
