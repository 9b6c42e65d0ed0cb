"""Repository notifications: an event, a method and its config (which may hold secrets), a title.

Quay has no call to change a notification, so any difference replaces it (delete, then create),
and the plan says why. Quay names them by a UUID only: quayform knows one by its repository and
its title (the key when no title is given), so titles must be unique per repository.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, replace
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.quay import OWNED_BY, QuayKind, record
from quayform.sensitive import reveal


class NotificationKind(QuayKind):
    section = "notifications"
    noun = "notification"
    attributes = (replace("name"), replace("event"), replace("method"), replace("config", mapping=True),
                  replace("event_config", mapping=True), OWNED_BY)
    rules = Rules(adopt_by_name=True, renamed_is_new=True, ownership="ledger",
                  replace_reason="Quay cannot change a notification in place")

    def organization_key(self, spec: Any, key: str) -> str:
        return spec.repositories[spec.notifications[key].repository].organization

    def repository_name(self, spec: Any, key: str) -> str:
        return spec.name_of("repositories", spec.notifications[key].repository)

    def name_of(self, spec: Any, key: str) -> str:
        return f"{self.repository_name(spec, key)}: {spec.notifications[key].title or key}"

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return ("quay", self.instance_of(spec, key))

    def secret_allowed(self, path: tuple) -> bool:
        return path[:1] == ("config",)

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        if item.repository in spec.repositories:
            yield from super().edges(spec, key, item)
        yield Address("repositories", item.repository), ()

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        super().check(spec, ctx, report)
        for key, item in spec.notifications.items():
            if item.repository not in spec.repositories:
                report((self.section, key, "repository"), f"is on repositories.{item.repository}, which is not in "
                                                          "the spec")

    def read(self, item: dict[str, Any], entries: Any, target: Any) -> LiveObject | None:
        name = f"{item['repository']}: {item.get('title') or ''}"
        form = {"name": name, "event": item.get("event"), "method": item.get("method"),
                "config": dict(item.get("config") or {}), "event_config": dict(item.get("event_config") or {})}
        return self.live_object(entries, target, name, item["uuid"], form)

    def uses(self, form: Any, target: Any) -> Iterable[tuple[str, str]]:
        yield "repositories", form["name"].split(": ")[0]

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        item = spec.notifications[key]
        form = {"name": self.name_of(spec, key), "event": item.event, "method": item.method,
                "config": dict(item.config), "event_config": dict(item.event_config), "owned_by": spec.stack}
        return Desired(form, None, lifecycle_of(item), self.target_of(spec, key, ctx))

    def make(self, change: Change, session: Any) -> None:
        form = change.after or {}
        repository, _, title = form["name"].partition(": ")
        created = self.session(session).call("POST", f"/repository/{repository}/notification/", {
            "event": form["event"], "method": form["method"], "config": reveal(form["config"]),
            "eventConfig": form["event_config"], "title": title})
        record(session, change.address, self.ledger_entry(change, (created or {}).get("uuid")))

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        repository = change.name.split(": ")[0]
        self.session(session).call("DELETE", f"/repository/{repository}/notification/{change.live_id}",
                                   missing=(400, 404))
        self.forget(change, session)


KIND = NotificationKind()
