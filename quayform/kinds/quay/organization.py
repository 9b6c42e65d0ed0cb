"""Quay organizations: email, the window for restoring deleted tags, a quota, auto-prune policies.

Everything is changed in place. An organization is data: it is deleted (removed from the spec,
or by destroy) only when it holds no repository that is kept or that the stack does not own;
otherwise it is kept, and the plan says what it still holds. Quay queues the deletion of an
organization, and its name stays taken until Quay's namespace worker has run.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from quayform.address import Address
from quayform.changes import UNKNOWN, Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, replace, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.quay import OWNED_BY, QuayKind, record
from quayform.kinds.quay.policies import auto_prune_form, live_auto_prune, sync_auto_prune


def quota_form(quota: Any) -> Any:
    if quota is None:
        return UNKNOWN  # not managed: whatever quota Quay has is left alone
    return {"limit_bytes": quota.limit, "limits": sorted(f"{limit.type}:{limit.percent}" for limit in quota.limits)}


def live_quota(quotas: list[dict[str, Any]]) -> Any:
    if not quotas:
        return None
    quota = quotas[0]
    return {"limit_bytes": int(quota.get("limit_bytes") or 0),
            "limits": sorted(f"{(l.get('type') or '').lower()}:{l.get('limit_percent')}" for l in quota.get("limits") or [])}


def _put_organization(kind: Any, change: Change, session: Any) -> None:
    form = change.after or {}
    body = {k: v for k, v in (("email", form["email"]), ("tag_expiration_s", form["tag_expiration"]))
            if v not in (UNKNOWN, None)}
    if body:
        kind.session(session).call("PUT", f"/organization/{form['name']}", body)


def _sync_quota(kind: Any, change: Change, session: Any) -> None:
    """Make the organization's quota and its limits what the spec says (superuser only, in Quay)."""
    form, name = change.after or {}, (change.after or {})["name"]
    want = form["quota"]
    quotas = kind.session(session).get(f"/organization/{name}/quota") or []
    if want is None or want == UNKNOWN:
        return
    if not quotas:
        session.call("POST", f"/organization/{name}/quota", {"limit_bytes": want["limit_bytes"]})
        quotas = session.get(f"/organization/{name}/quota") or []
    quota = quotas[0]
    if int(quota.get("limit_bytes") or 0) != want["limit_bytes"]:
        session.call("PUT", f"/organization/{name}/quota/{quota['id']}", {"limit_bytes": want["limit_bytes"]})
    have = {f"{(l.get('type') or '').lower()}:{l.get('limit_percent')}": l for l in quota.get("limits") or []}
    for text, limit in have.items():
        if text not in want["limits"]:
            session.call("DELETE", f"/organization/{name}/quota/{quota['id']}/limit/{limit['id']}")
    for text in want["limits"]:
        if text not in have:
            kind_of, percent = text.split(":")
            session.call("POST", f"/organization/{name}/quota/{quota['id']}/limit",
                         {"type": kind_of.capitalize(), "threshold_percent": int(percent)})


def _sync_auto_prune(kind: Any, change: Change, session: Any) -> None:
    name = (change.after or {})["name"]
    sync_auto_prune(kind.session(session), f"/organization/{name}/autoprunepolicy/", change)


class OrganizationKind(QuayKind):
    section = "organizations"
    noun = "organization"
    attributes = (replace("name"), update("email", _put_organization), update("tag_expiration", _put_organization),
                  update("quota", _sync_quota), update("auto_prune", _sync_auto_prune), OWNED_BY)
    rules = Rules(adopt_by_name=True, renamed_is_new=True, ownership="ledger", data_flag="repositories")

    def organization_key(self, spec: Any, key: str) -> str:
        return key

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return ("quay", self.instance_of(spec, key))

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        super().check(spec, ctx, report)
        for key, organization in spec.organizations.items():
            if organization.quay is not None and organization.quay not in spec.quay:
                report(("organizations", key, "quay"), f"names quay.{organization.quay}, which is not in the spec")
            elif organization.quay is None and len(spec.quay) != 1:
                report(("organizations", key), "name its Quay instance with `quay:` (the spec declares "
                                               f"{len(spec.quay)})")

    def read(self, item: dict[str, Any], entries: Any, target: Any) -> LiveObject | None:
        view = item["view"]
        form = {"name": item["name"], "email": view.get("email") or None,
                "tag_expiration": view.get("tag_expiration_s"), "quota": live_quota(item["quota"]),
                "auto_prune": live_auto_prune(item["auto_prune"])}
        return self.live_object(entries, target, item["name"], item["name"], form,
                                tuple(r["name"] for r in item["repositories"]))

    def contains(self, change: Change) -> Iterable[tuple[str, str]]:
        for repository in change.live_payload or ():
            yield "repositories", f"{change.name}/{repository}"

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        organization = spec.organizations[key]
        form = {"name": self.name_of(spec, key), "email": organization.email if organization.email else UNKNOWN,
                "tag_expiration": organization.tag_expiration if organization.tag_expiration is not None else UNKNOWN,
                "quota": quota_form(organization.quota), "auto_prune": auto_prune_form(organization.auto_prune),
                "owned_by": spec.stack}
        return Desired(form, None, lifecycle_of(organization), self.target_of(spec, key, ctx))

    def make(self, change: Change, session: Any) -> None:
        form = change.after or {}
        session = self.session(session)
        body = {"name": form["name"]}
        if form["email"] not in (UNKNOWN, None):
            body["email"] = form["email"]
        session.call("POST", "/organization/", body)
        record(session, change.address, self.ledger_entry(change, form["name"]))
        if form["tag_expiration"] not in (UNKNOWN, None):
            _put_organization(self, change, session)
        _sync_quota(self, change, session)
        _sync_auto_prune(self, change, session)

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        session = self.session(session)
        left = session.paged(f"/repository?namespace={change.name}", "repositories")
        if left:
            raise RuntimeError(f"organization {change.name} still holds {len(left)} repositories "
                               f"({', '.join(sorted(r['name'] for r in left)[:5])}); it is kept")
        session.call("DELETE", f"/organization/{change.name}", missing=(404,))
        self.forget(change, session)


KIND = OrganizationKind()
