"""PostgreSQL databases: owner, encoding, locale, extensions; never dropped implicitly.

Owner and extensions are changed in place. PostgreSQL cannot change a database's name,
encoding or locale in place and quayform never drops a database, so those differences are
held (shown, never applied). A database no longer in the spec is kept, `destroy` keeps
databases unless `--databases` is given, and `--replace` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from quayform.address import Address
from quayform.changes import EXISTED, UNKNOWN, Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, hold, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.postgres import RESERVED_DATABASES, PgKind, catalog, check_names, marker
from quayform.kinds.postgres.sql import EXISTED_MARK, drop_database, ensure_database, ensure_extensions, quote_ident
from quayform.kinds.postgres.user import privileges


@dataclass(frozen=True)
class DatabasePayload:
    """What creating the database needs beyond its form."""

    marker: str  # the COMMENT that marks it as the stack's
    grants: dict[str, list[str]]  # user name -> privileges, applied when the database is created
    encoding: str | None
    locale: str | None


def _ensure(kind: Any, change: Change, session: Any) -> str | None:
    session = kind.session(change, session)
    form, payload = change.after or {}, change.payload
    output = session.run(ensure_database(form, payload.marker, payload.grants, payload.encoding, payload.locale))
    if form["extensions"]:
        session.run(ensure_extensions(form))
    return EXISTED if EXISTED_MARK in output else None


class DatabaseKind(PgKind):
    section = "databases"
    noun = "database"
    attributes = (hold("name"), update("owner", _ensure), hold("encoding"), hold("locale"),
                  update("extensions", _ensure))
    rules = Rules(on_replace="refuse", orphan="keep", destroy_flag="databases",
                  destroy_keep_reason="PostgreSQL databases are kept with their data; add --databases to drop them",
                  hold_reason="PostgreSQL cannot change a database's {attributes} in place and quayform never drops "
                              "a database; dump, drop and restore it by hand if the change is needed",
                  adopt_by_name=True, renamed_is_new=True, ownership="comment",
                  replace_refusal="quayform never drops a database to recreate it; do that by hand if you must")

    def orphan_reason(self, live: LiveObject) -> str:
        return (f"it is no longer in the spec; quayform never drops a database implicitly "
                f"(DROP DATABASE {quote_ident(live.name)} by hand if it is no longer needed)")

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        server = spec.postgres.get(item.server)
        if server is not None:
            yield Address("containers", server.container), ()
        if item.owner:
            yield Address("users", item.owner), ()

    def name_problems(self, spec: Any, key: str, name: str) -> list[str]:
        if name in RESERVED_DATABASES:
            return [f"{name!r} is one of PostgreSQL's template databases, which quayform does not manage"]
        return []

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        check_names(self, spec, report)
        for key, database in spec.databases.items():
            if database.server not in spec.postgres:
                report(("databases", key, "server"), f"names postgres.{database.server}, which is not in the spec")
            owner = spec.users.get(database.owner) if database.owner else None
            if database.owner and owner is None:
                report(("databases", key, "owner"), f"is owned by users.{database.owner}, which is not in the spec")
            elif owner is not None and owner.server != database.server:
                report(("databases", key, "owner"), f"users.{database.owner} is on server {owner.server!r}, "
                                                    f"not {database.server!r}")

    def list_live(self, session: Any, stack: str, detail: bool) -> Iterable[Any]:
        read = catalog(session)
        return [(row, read["extensions"].get(row["name"])) for row in read.get("databases") or []]

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        row, extensions = raw
        form = {"name": row["name"], "owner": row["owner"], "encoding": row.get("encoding"),
                "locale": row.get("collate"), "extensions": sorted(extensions or [])}
        return self.live_object(row["name"], row.get("comment"), stack, target, form)

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        database = spec.databases[key]
        lifecycle = lifecycle_of(database)
        admin = spec.postgres[database.server].admin_user
        owner = ctx.name_of(Address("users", database.owner)) if database.owner else admin
        grants = {ctx.name_of(Address("users", u)): privileges(user.grants[key])
                  for u, user in spec.users.items() if key in user.grants}
        form = {
            "name": self.name_of(spec, key),
            "owner": owner,
            "encoding": database.encoding.upper() if database.encoding else UNKNOWN,
            "locale": database.locale or UNKNOWN,
            "extensions": sorted(set(database.extensions)),
        }
        payload = DatabasePayload(marker(spec.stack, Address(self.section, key), lifecycle.prevent_destroy), grants,
                                  database.encoding, database.locale)
        return Desired(form, payload, lifecycle, self.target_of(spec, key, ctx), partial=frozenset({"extensions"}))

    def create(self, change: Change, session: Any) -> str | None:
        return _ensure(self, change, session)

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        """Only reached from `destroy --databases`: plans never drop a database otherwise."""
        self.session(change, session).run(drop_database(change.name))


KIND = DatabaseKind()
