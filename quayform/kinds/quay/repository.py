"""Quay repositories: visibility, description, state, who may use them, auto-prune policies.

All of it is changed in place. Permissions are an exact set over users, the spec's robots and
the spec's teams; the admin permission Quay gives the creator is removed when the repository
is created (quayform's admin is a superuser and needs none), and the write permission Quay
gives a mirror's robot, and what the spec's default permissions of its organization give it,
count as declared. A repository that holds images
is data: never deleted implicitly (removed from the spec, or by destroy) unless `destroy
--repositories` releases it. A repository with a mirror is in state MIRROR.
"""

from __future__ import annotations

from typing import Any, Iterable

from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, replace, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.quay import OWNED_BY, QuayKind, record
from quayform.kinds.quay.policies import auto_prune_form, live_auto_prune, sync_auto_prune


def _defaults_for(spec: Any, key: str) -> list[Any]:
    """The spec's default permissions that Quay applies to this repository when quayform creates it:
    those of its organization for any creator, or for the admin quayform works as. They count as
    declared (an explicit permission for the same user, robot or team wins)."""
    repository = spec.repositories[key]
    organization = spec.organizations.get(repository.organization)
    if organization is None:
        return []
    instance = spec.quay.get(organization.quay or next(iter(spec.quay), ""))
    admin = instance.admin.username if instance is not None else None
    return [d for d in spec.default_permissions.values()
            if d.organization == repository.organization and d.activating_user in (None, admin)]


def _delegate_key(granted: Any, name_of: Any) -> str:
    if granted.team is not None:
        return f"team:{name_of(Address('teams', granted.team)).split('/')[-1]}"
    if granted.robot is not None:
        return f"robot:{name_of(Address('robots', granted.robot))}"
    return f"user:{granted.user}"


def permission_form(spec: Any, repository: Any, name_of: Any) -> dict[str, str]:
    form = {f"user:{user}": role for user, role in repository.permissions.users.items()}
    form.update({f"robot:{name_of(Address('robots', robot))}": role for robot, role in repository.permissions.robots.items()})
    form.update({f"team:{name_of(Address('teams', team)).split('/')[-1]}": role
                 for team, role in repository.permissions.teams.items()})
    return form


def live_permissions(users: dict[str, Any], teams: dict[str, Any]) -> dict[str, str]:
    form = {f"{'robot' if p.get('is_robot') else 'user'}:{name}": p.get("role", "") for name, p in users.items()}
    form.update({f"team:{name}": p.get("role", "") for name, p in teams.items()})
    return form


def _permission_path(full: str, entry: str) -> str:
    kind, _, name = entry.partition(":")
    return f"/repository/{full}/permissions/{'team' if kind == 'team' else 'user'}/{name}"


def _sync_permissions(kind: Any, change: Change, session: Any) -> None:
    """Permissions as Quay has them now (a robot or team recreated since the plan has lost its own),
    made exactly the spec's."""
    full = (change.after or {})["name"]
    want = (change.after or {})["permissions"]
    session = kind.session(session)
    have = live_permissions((session.get(f"/repository/{full}/permissions/user/") or {}).get("permissions") or {},
                            (session.get(f"/repository/{full}/permissions/team/") or {}).get("permissions") or {})
    for entry in sorted(set(have) - set(want)):
        session.call("DELETE", _permission_path(full, entry), missing=(400, 404))
    for entry, role in sorted(want.items()):
        if have.get(entry) != role:
            session.call("PUT", _permission_path(full, entry), {"role": role})


def _put_description(kind: Any, change: Change, session: Any) -> None:
    form = change.after or {}
    kind.session(session).call("PUT", f"/repository/{form['name']}", {"description": form["description"]})


def _put_visibility(kind: Any, change: Change, session: Any) -> None:
    form = change.after or {}
    kind.session(session).call("POST", f"/repository/{form['name']}/changevisibility", {"visibility": form["visibility"]})


def _put_state(kind: Any, change: Change, session: Any) -> None:
    form = change.after or {}
    kind.session(session).call("PUT", f"/repository/{form['name']}/changestate", {"state": form["state"]})


def _sync_auto_prune(kind: Any, change: Change, session: Any) -> None:
    sync_auto_prune(kind.session(session), f"/repository/{(change.after or {})['name']}/autoprunepolicy/", change)


class RepositoryKind(QuayKind):
    section = "repositories"
    noun = "repository"
    attributes = (replace("name"), update("visibility", _put_visibility), update("description", _put_description),
                  update("state", _put_state), update("permissions", _sync_permissions, mapping=True),
                  update("auto_prune", _sync_auto_prune), OWNED_BY)
    rules = Rules(adopt_by_name=True, renamed_is_new=True, ownership="ledger", data_flag="repositories",
                  refreshed_with=(("robots", ("permissions",)), ("teams", ("permissions",))))

    def name_of(self, spec: Any, key: str) -> str:
        return f"{self.organization_name(spec, key)}/{spec.repositories[key].name or key}"

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        yield from super().edges(spec, key, item)
        yield Address("organizations", item.organization), ()
        for robot in item.permissions.robots:
            yield Address("robots", robot), ()
        for team in item.permissions.teams:
            yield Address("teams", team), ()
        for mirror in spec.mirrors.values():  # the mirror's robot gets write access when the repository is made
            if mirror.repository == key:
                yield Address("robots", mirror.robot), ()
        for granted in _defaults_for(spec, key):
            for section, delegate in (("robots", granted.robot), ("teams", granted.team)):
                if delegate is not None:
                    yield Address(section, delegate), ()

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        super().check(spec, ctx, report)
        for key, repository in spec.repositories.items():
            if repository.organization not in spec.organizations:
                report(("repositories", key, "organization"),
                       f"is in organizations.{repository.organization}, which is not in the spec")
                continue
            for section, names in (("robots", repository.permissions.robots), ("teams", repository.permissions.teams)):
                for name in names:
                    other = getattr(spec, section).get(name)
                    if other is None:
                        report(("repositories", key, "permissions", section, name),
                               f"names {section}.{name}, which is not in the spec")
                    elif other.organization != repository.organization:
                        report(("repositories", key, "permissions", section, name),
                               f"{section}.{name} is in organizations.{other.organization}, not "
                               f"organizations.{repository.organization}")

    def read(self, item: dict[str, Any], entries: Any, target: Any) -> LiveObject | None:
        form = {"name": item["full_name"], "visibility": "public" if item.get("is_public") else "private",
                "description": item.get("description") or "", "state": item.get("state") or "NORMAL",
                "permissions": live_permissions(item["user_permissions"], item["team_permissions"]),
                "auto_prune": live_auto_prune(item["auto_prune"])}
        return self.live_object(entries, target, item["full_name"], item["full_name"], form, item["has_tags"])

    def uses(self, form: Any, target: Any) -> Iterable[tuple[str, str]]:
        yield "organizations", form["name"].split("/")[0]

    def holds_data(self, change: Change) -> str:
        return "it holds images" if change.live_payload else ""

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        repository = spec.repositories[key]
        mirrors = [m for m in spec.mirrors.values() if m.repository == key]
        permissions = permission_form(spec, repository, ctx.name_of)
        for mirror in mirrors:  # Quay gives a mirror's robot write access to the repository it fills
            permissions.setdefault(f"robot:{ctx.name_of(Address('robots', mirror.robot))}", "write")
        for granted in _defaults_for(spec, key):  # what the organization's default permissions give it
            permissions.setdefault(_delegate_key(granted, ctx.name_of), granted.role)
        form = {"name": self.name_of(spec, key), "visibility": repository.visibility,
                "description": repository.description, "state": "MIRROR" if mirrors else "NORMAL",
                "permissions": permissions,
                "auto_prune": auto_prune_form(repository.auto_prune), "owned_by": spec.stack}
        return Desired(form, None, lifecycle_of(repository), self.target_of(spec, key, ctx))

    def make(self, change: Change, session: Any) -> None:
        form = change.after or {}
        session = self.session(session)
        namespace, _, name = form["name"].partition("/")
        session.call("POST", "/repository", {"namespace": namespace, "repository": name, "repo_kind": "image",
                                             "visibility": form["visibility"], "description": form["description"]})
        record(session, change.address, self.ledger_entry(change, form["name"]))
        _sync_permissions(self, change, session)  # the admin permission Quay gave the creator goes too
        _sync_auto_prune(self, change, session)  # only when the spec lists policies

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        session = self.session(session)
        if "repositories" not in release:
            tags = (session.get(f"/repository/{change.name}/tag/?onlyActiveTags=true&limit=1") or {}).get("tags")
            if tags:
                raise RuntimeError(f"repository {change.name} holds images now; it is kept (destroy --repositories "
                                   "deletes it)")
        session.call("DELETE", f"/repository/{change.name}")
        self.forget(change, session)


KIND = RepositoryKind()
