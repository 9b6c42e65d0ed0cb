"""OAuth applications of an organization, whose client secret the spec may hand to a container.

`${applications.KEY.client_id}` and `${applications.KEY.client_secret}` are read back once the
application exists (the secret is a secret, like a robot's token). Name, description and URIs are
changed in place. Quay lets two applications share a name; quayform knows one by its
organization and name, so names must be unique per organization in the spec.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping

from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, replace, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.quay import OWNED_BY, QuayKind, record
from quayform.later import Later, Ref
from quayform.sensitive import Sensitive


def _body(form: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": form["name"].split("/", 1)[1], "description": form["description"],
            "application_uri": form["application_uri"], "redirect_uri": form["redirect_uri"]}


def _put_application(kind: Any, change: Change, session: Any) -> None:
    form = change.after or {}
    organization = form["name"].split("/")[0]
    kind.session(session).call("PUT", f"/organization/{organization}/applications/{change.live_id}", _body(form))


class ApplicationKind(QuayKind):
    section = "applications"
    noun = "OAuth application"
    reference_attrs = ("name", "client_id", "client_secret")
    attributes = (replace("name"), update("description", _put_application),
                  update("application_uri", _put_application), update("redirect_uri", _put_application), OWNED_BY)
    rules = Rules(adopt_by_name=True, renamed_is_new=True, ownership="ledger")

    def name_of(self, spec: Any, key: str) -> str:
        return f"{self.organization_name(spec, key)}/{spec.applications[key].name or key}"

    def raw_name(self, key: str, entry: Any, resolver: Any) -> str:
        given = entry.get("name") if isinstance(entry, dict) else None
        return given if isinstance(given, str) else key

    def resolve_reference(self, attr: str, key: str, entry: Any, resolver: Any) -> Any:
        if attr in ("client_id", "client_secret"):
            return Later((Ref(Address(self.section, key), attr),))
        return super().resolve_reference(attr, key, entry, resolver)

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return ("quay", self.instance_of(spec, key))

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        yield from super().edges(spec, key, item)
        yield Address("organizations", item.organization), ()

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        super().check(spec, ctx, report)
        for key, item in spec.applications.items():
            if item.organization not in spec.organizations:
                report((self.section, key, "organization"), f"is in organizations.{item.organization}, which is not "
                                                            "in the spec")

    def read(self, item: dict[str, Any], entries: Any, target: Any) -> LiveObject | None:
        name = f"{item['organization']}/{item.get('name') or ''}"
        form = {"name": name, "description": item.get("description") or "",
                "application_uri": item.get("application_uri") or "", "redirect_uri": item.get("redirect_uri") or ""}
        secrets = {"client_id": Sensitive(item.get("client_id") or ""),
                   "client_secret": Sensitive(item.get("client_secret") or "")}
        return self.live_object(entries, target, name, item["client_id"], form, secrets)

    def values_of(self, live: LiveObject) -> Mapping[str, Any]:
        return dict(live.payload or {})

    def uses(self, form: Any, target: Any) -> Iterable[tuple[str, str]]:
        yield "organizations", form["name"].split("/")[0]

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        item = spec.applications[key]
        form = {"name": self.name_of(spec, key), "description": item.description,
                "application_uri": item.application_uri, "redirect_uri": item.redirect_uri, "owned_by": spec.stack}
        return Desired(form, None, lifecycle_of(item), self.target_of(spec, key, ctx))

    def make(self, change: Change, session: Any) -> None:
        form = change.after or {}
        session = self.session(session)
        created = session.call("POST", f"/organization/{form['name'].split('/')[0]}/applications", _body(form))
        record(session, change.address, self.ledger_entry(change, (created or {}).get("client_id")))

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        organization = change.name.split("/")[0]
        self.session(session).call("DELETE", f"/organization/{organization}/applications/{change.live_id}",
                                   missing=(404,))
        self.forget(change, session)

    def value_of(self, session: Any, address: Address, attr: str, name: str) -> Any:
        from quayform.kinds.quay import ledger

        entry = ledger(self.session(session)).get(str(address)) or {}
        organization = name.split("/")[0]
        application = session.get(f"/organization/{organization}/applications/{entry.get('id')}") or {}
        value = application.get(attr)
        return Sensitive(value) if value else None


KIND = ApplicationKind()
