"""Default permissions of an organization (Quay's "prototypes"): a role given on every new repository.

Quay names them by a UUID only, so quayform knows one by what it is: the delegate (a user, a robot
or a team) and the activating user. The role is changed in place; another delegate or activating
user is another default permission (the old one is replaced).
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, replace, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.quay import OWNED_BY, QuayKind, record


def identity(organization: str, delegate_kind: str, delegate: str, activating: str | None) -> str:
    """`org: team devs` or `org: user alice (when bob creates)`: what a default permission is."""
    return f"{organization}: {delegate_kind} {delegate}" + (f" (when {activating} creates)" if activating else "")


def _put_role(kind: Any, change: Change, session: Any) -> None:
    form = change.after or {}
    organization = form["name"].split(":")[0]
    kind.session(session).call("PUT", f"/organization/{organization}/prototypes/{change.live_id}",
                               {"role": form["role"]})


class DefaultPermissionKind(QuayKind):
    section = "default_permissions"
    noun = "default permission"
    attributes = (replace("name"), replace("delegate"), replace("activating_user"), update("role", _put_role),
                  OWNED_BY)
    rules = Rules(adopt_by_name=True, renamed_is_new=True, ownership="ledger")

    def name_of(self, spec: Any, key: str) -> str:
        item = spec.default_permissions[key]
        kind, delegate = self._delegate(spec, item, lambda a: spec.name_of(a.kind, a.key))
        return identity(self.organization_name(spec, key), kind, delegate, item.activating_user)

    @staticmethod
    def _delegate(spec: Any, item: Any, name_of: Any) -> tuple[str, str]:
        if item.team is not None:
            return "team", name_of(Address("teams", item.team)).split("/")[-1]
        if item.robot is not None:
            return "user", name_of(Address("robots", item.robot))
        return "user", item.user

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return ("quay", self.instance_of(spec, key))

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        yield from super().edges(spec, key, item)
        yield Address("organizations", item.organization), ()
        if item.team is not None:
            yield Address("teams", item.team), ()
        if item.robot is not None:
            yield Address("robots", item.robot), ()

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        super().check(spec, ctx, report)
        for key, item in spec.default_permissions.items():
            if item.organization not in spec.organizations:
                report((self.section, key, "organization"), f"is in organizations.{item.organization}, which is not "
                                                            "in the spec")
            for section, name in (("teams", item.team), ("robots", item.robot)):
                if name is not None and name not in getattr(spec, section):
                    report((self.section, key, section[:-1]), f"names {section}.{name}, which is not in the spec")

    def read(self, item: dict[str, Any], entries: Any, target: Any) -> LiveObject | None:
        delegate = item.get("delegate") or {}
        activating = (item.get("activating_user") or {}).get("name")
        name = identity(item["organization"], delegate.get("kind", "user"), delegate.get("name", ""), activating)
        form = {"name": name, "delegate": f"{delegate.get('kind', 'user')}:{delegate.get('name', '')}",
                "activating_user": activating, "role": item.get("role")}
        return self.live_object(entries, target, name, item["id"], form)

    def uses(self, form: Any, target: Any) -> Iterable[tuple[str, str]]:
        yield "organizations", form["name"].split(":")[0]

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        item = spec.default_permissions[key]
        kind, delegate = self._delegate(spec, item, ctx.name_of)
        form = {"name": self.name_of(spec, key), "delegate": f"{kind}:{delegate}",
                "activating_user": item.activating_user, "role": item.role, "owned_by": spec.stack}
        return Desired(form, None, lifecycle_of(item), self.target_of(spec, key, ctx))

    def make(self, change: Change, session: Any) -> None:
        form = change.after or {}
        session = self.session(session)
        kind, _, delegate = form["delegate"].partition(":")
        body: dict[str, Any] = {"role": form["role"], "delegate": {"kind": kind, "name": delegate}}
        if form["activating_user"]:
            body["activating_user"] = {"name": form["activating_user"]}
        created = session.call("POST", f"/organization/{form['name'].split(':')[0]}/prototypes", body)
        record(session, change.address, self.ledger_entry(change, (created or {}).get("id")))

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        organization = change.name.split(":")[0]
        self.session(session).call("DELETE", f"/organization/{organization}/prototypes/{change.live_id}",
                                   missing=(404,))
        self.forget(change, session)


KIND = DefaultPermissionKind()
