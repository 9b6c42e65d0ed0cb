"""Quay robot accounts of an organization: `org+name`, with a token others can use.

`${robots.KEY.token}` is a secret the spec may put in a container's env or files, or in an
output: it is read back once the robot exists (in the same apply that creates it, the container
is made after the robot and gets the new token). Quay cannot change a robot's description, so a
changed description replaces the robot (and gives it a new token).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, replace
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.quay import OWNED_BY, QuayKind, record
from quayform.later import Later, Ref
from quayform.sensitive import Sensitive


def short_name(full: str) -> str:
    return full.split("+", 1)[-1]


class RobotKind(QuayKind):
    section = "robots"
    noun = "robot account"
    reference_attrs = ("name", "token")
    attributes = (replace("name"), replace("description"), OWNED_BY)
    rules = Rules(adopt_by_name=True, renamed_is_new=True, ownership="ledger",
                  replace_reason="Quay cannot change a robot account's description in place")

    def name_of(self, spec: Any, key: str) -> str:
        return f"{self.organization_name(spec, key)}+{spec.robots[key].name or key}"

    def raw_name(self, key: str, entry: Any, resolver: Any) -> str:
        organization = entry.get("organization") if isinstance(entry, dict) else None
        short = entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) else key
        return f"{resolver.resource_name('organizations', organization)}+{short}"

    def resolve_reference(self, attr: str, key: str, entry: Any, resolver: Any) -> Any:
        if attr == "token":
            return Later((Ref(Address(self.section, key), attr),))
        return super().resolve_reference(attr, key, entry, resolver)

    def secret_allowed(self, path: tuple) -> bool:
        return False

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        yield from super().edges(spec, key, item)
        yield Address("organizations", item.organization), ()

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        super().check(spec, ctx, report)
        for key, robot in spec.robots.items():
            if robot.organization not in spec.organizations:
                report(("robots", key, "organization"), f"is in organizations.{robot.organization}, which is not in "
                                                        "the spec")

    def read(self, item: dict[str, Any], entries: Any, target: Any) -> LiveObject | None:
        form = {"name": item["name"], "description": item.get("description") or ""}
        return self.live_object(entries, target, item["name"], item["name"], form, Sensitive(item.get("token") or ""))

    def values_of(self, live: LiveObject) -> Mapping[str, Any]:
        return {"token": live.payload} if live.payload is not None and live.payload.reveal() else {}

    def uses(self, form: Any, target: Any) -> Iterable[tuple[str, str]]:
        yield "organizations", form["name"].split("+")[0]

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        robot = spec.robots[key]
        form = {"name": self.name_of(spec, key), "description": robot.description, "owned_by": spec.stack}
        return Desired(form, None, lifecycle_of(robot), self.target_of(spec, key, ctx))

    def _path(self, name: str) -> str:
        organization, _, short = name.partition("+")
        return f"/organization/{organization}/robots/{short}"

    def make(self, change: Change, session: Any) -> None:
        form = change.after or {}
        session = self.session(session)
        session.call("PUT", self._path(form["name"]), {"description": form["description"]})
        record(session, change.address, self.ledger_entry(change, form["name"]))

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        self.session(session).call("DELETE", self._path(change.name), missing=(400, 404))
        self.forget(change, session)

    def value_of(self, session: Any, address: Address, attr: str, name: str) -> Any:
        robot = self.session(session).get(self._path(name), missing=(400, 404)) or {}
        return Sensitive(robot["token"]) if robot.get("token") else None


KIND = RobotKind()
