"""Quay teams of an organization: role, description and an exact set of members (users and robots).

Everything is changed in place (Quay's team PUT is an upsert; members are added and removed one
by one). Members the spec does not list are removed, robots included. Note that Quay invites a
user who is in no team of the organization yet, instead of adding them, unless mailing is off
(FEATURE_MAILING: false) or team invites are not required (FEATURE_REQUIRE_TEAM_INVITE: false).
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, replace, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.quay import OWNED_BY, QuayKind, record


def _path(name: str) -> str:
    organization, _, team = name.partition("/")
    return f"/organization/{organization}/team/{team}"


def _put_team(kind: Any, change: Change, session: Any) -> None:
    form = change.after or {}
    kind.session(session).call("PUT", _path(form["name"]), {"role": form["role"], "description": form["description"]})


def _sync_members(kind: Any, change: Change, session: Any) -> None:
    """Members as Quay has them now (a robot recreated since the plan has left the team), made exact."""
    form = change.after or {}
    session = kind.session(session)
    listed = (session.get(f"{_path(form['name'])}/members?includePending=true") or {}).get("members") or []
    want, have = set(form["members"]), {m["name"] for m in listed if m.get("name")}
    for member in sorted(have - want):
        session.call("DELETE", f"{_path(form['name'])}/members/{member}", missing=(400, 404))
    for member in sorted(want - have):
        session.call("PUT", f"{_path(form['name'])}/members/{member}")


OWNERS = "owners"  # every organization's administrators; Quay makes it with the organization


class TeamKind(QuayKind):
    section = "teams"
    noun = "team"
    attributes = (replace("name"), update("role", _put_team), update("description", _put_team),
                  update("members", _sync_members), OWNED_BY)
    rules = Rules(adopt_by_name=True, renamed_is_new=True, ownership="ledger", refreshed_with=(("robots", ("members",)),))

    def name_of(self, spec: Any, key: str) -> str:
        return f"{self.organization_name(spec, key)}/{spec.teams[key].name or key}"

    def raw_name(self, key: str, entry: Any, resolver: Any) -> str:
        given = entry.get("name") if isinstance(entry, dict) else None
        return given if isinstance(given, str) else key

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return ("quay", self.instance_of(spec, key))

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        yield from super().edges(spec, key, item)
        yield Address("organizations", item.organization), ()
        for robot in item.members.robots:
            yield Address("robots", robot), ()

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        super().check(spec, ctx, report)
        for key, team in spec.teams.items():
            if (team.name or key) == OWNERS:
                report(("teams", key), "'owners' is the team Quay keeps for an organization's administrators; "
                                       "quayform does not manage it (an exact member list could lock the admin "
                                       "out): give the team another name")
            if team.organization not in spec.organizations:
                report(("teams", key, "organization"), f"is in organizations.{team.organization}, which is not in "
                                                       "the spec")
            for i, robot in enumerate(team.members.robots):
                other = spec.robots.get(robot)
                if other is None:
                    report(("teams", key, "members", "robots", i), f"names robots.{robot}, which is not in the spec")
                elif other.organization != team.organization:
                    report(("teams", key, "members", "robots", i),
                           f"robots.{robot} is in organizations.{other.organization}, not "
                           f"organizations.{team.organization}")

    def read(self, item: dict[str, Any], entries: Any, target: Any) -> LiveObject | None:
        name = f"{item['organization']}/{item['name']}"
        members = sorted(m["name"] for m in item["members"] if m.get("name"))
        form = {"name": name, "role": item.get("role") or "member", "description": item.get("description") or "",
                "members": members}
        return self.live_object(entries, target, name, name, form)

    def uses(self, form: Any, target: Any) -> Iterable[tuple[str, str]]:
        yield "organizations", form["name"].split("/")[0]

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        team = spec.teams[key]
        members = sorted([*team.members.users, *(ctx.name_of(Address("robots", r)) for r in team.members.robots)])
        form = {"name": self.name_of(spec, key), "role": team.role, "description": team.description,
                "members": members, "owned_by": spec.stack}
        return Desired(form, None, lifecycle_of(team), self.target_of(spec, key, ctx))

    def make(self, change: Change, session: Any) -> None:
        session = self.session(session)
        _put_team(self, change, session)
        record(session, change.address, self.ledger_entry(change, (change.after or {})["name"]))
        _sync_members(self, change, session)

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        self.session(session).call("DELETE", _path(change.name), missing=(400, 404))
        self.forget(change, session)


KIND = TeamKind()
