"""PostgreSQL databases: owner, limits, PUBLIC's privileges, settings, extensions; never dropped implicitly.

Owner, connection limit, allow_connections, what PUBLIC may do (on the database, and in its schema
`public`), settings and extensions (with their version and schema) are changed in place. PostgreSQL
cannot change a database's name, encoding or locale (lc_collate, lc_ctype) in place and quayform never
drops a database, so those differences are held (shown, never applied); `template` is used when the
database is created and is not recorded by the server, so it is not compared. A database no longer in
the spec is kept, `destroy` keeps databases unless `--databases` is given, and `--replace` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping

from quayform.address import Address
from quayform.changes import EXISTED, UNKNOWN, Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, hold, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.postgres import RESERVED_DATABASES, PgKind, catalog, check_names, marker, server_versions
from quayform.kinds.postgres.catalog import parse_settings
from quayform.kinds.postgres.sql import (EXISTED_MARK, drop_database, ensure_database, inside_database, quote_ident,
                                         refuse_connections, setting_value)
from quayform.kinds.postgres.user import privileges

PUBLIC_DATABASE_DEFAULT = ["CONNECT", "TEMPORARY"]  # what every new database lets PUBLIC do


def public_schema_default(version: int | None) -> list[str] | None:
    """What PUBLIC may do in schema public of a new database: CREATE too before PostgreSQL 15."""
    if version is None:
        return None
    return ["USAGE"] if version >= 150000 else ["CREATE", "USAGE"]


@dataclass(frozen=True)
class DatabasePayload:
    """What creating the database needs beyond its form."""

    marker: str  # the COMMENT that marks it as the stack's
    grants: dict[str, list[str]]  # user name -> privileges, applied when the database is created
    encoding: str | None
    locale: str | None
    template: str | None = None
    lc_collate: str | None = None
    lc_ctype: str | None = None
    extensions: dict[str, dict[str, str | None]] = field(default_factory=dict)  # name -> {version, schema} given


def _ensure(kind: Any, change: Change, session: Any) -> str | None:
    session = kind.session(change, session)
    form, payload = change.after or {}, change.payload
    script = ensure_database(form, payload.marker, payload.grants, payload.encoding, payload.locale, payload.template,
                             payload.lc_collate, payload.lc_ctype)
    script += inside_database(form, payload.extensions)
    if not form.get("allow_connections", True):
        script += refuse_connections(form["name"])  # last: nothing above needs to connect after it
    output = session.run(script)
    return EXISTED if EXISTED_MARK in output else None


def judge_public(desired: Any, live: Mapping[str, Any], payload: Any) -> Any:
    """A database without schema public (or not read inside) has nothing to compare there."""
    public = dict(live.get("public") or {})
    if isinstance(desired, Mapping) and "public_schema" in desired and "public_schema" not in public:
        public["public_schema"] = desired["public_schema"]
    return public


def live_database(row: Mapping[str, Any], inside: Mapping[str, Any] | None) -> dict[str, Any]:
    """A database as the catalog has it (what is inside only if it was read: it exists and accepts connections)."""
    inside = inside or {}
    extensions = inside.get("extensions") or []
    public = {"database": sorted(row.get("public") or [])}
    for schema in inside.get("schemas") or []:
        if schema["name"] == "public":
            public["public_schema"] = sorted({g["privilege"] for g in schema.get("grants") or []
                                              if g.get("grantee") == ""})
    limit = row.get("connection_limit")
    return {"name": row["name"], "owner": row["owner"], "encoding": row.get("encoding"),
            "locale": row.get("collate"), "lc_collate": row.get("collate"), "lc_ctype": row.get("ctype"),
            "connection_limit": None if limit in (None, -1) else limit,
            "allow_connections": bool(row.get("allow_connections", True)), "public": public,
            "settings": parse_settings(row.get("settings")),
            "extensions": sorted(e["name"] if isinstance(e, dict) else e for e in extensions),
            "extension_versions": {e["name"]: e.get("version") for e in extensions if isinstance(e, dict)},
            "extension_schemas": {e["name"]: e.get("schema") for e in extensions if isinstance(e, dict)}}


class DatabaseKind(PgKind):
    section = "databases"
    noun = "database"
    attributes = (hold("name"), update("owner", _ensure), hold("encoding"), hold("locale"), hold("lc_collate"),
                  hold("lc_ctype"), update("connection_limit", _ensure), update("allow_connections", _ensure),
                  update("public", _ensure, mapping=True, judge=judge_public),
                  update("settings", _ensure, mapping=True), update("extensions", _ensure),
                  update("extension_versions", _ensure, mapping=True),
                  update("extension_schemas", _ensure, mapping=True))
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
            if not database.allow_connections:
                _check_closed(spec, key, database, self.name_of(spec, key), report)

    def list_live(self, session: Any, stack: str, detail: bool) -> Iterable[Any]:
        read = catalog(session)
        return [(row, read["inside"].get(row["name"])) for row in read.get("databases") or []]

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        row, inside = raw
        return self.live_object(row["name"], row.get("comment"), stack, target, live_database(row, inside))

    def read_facts(self, connections: Any, spec: Any, ctx: Ctx) -> dict[str, int]:
        """Each readable server's version (for PostgreSQL's defaults), from the catalog read it shares."""
        return server_versions(self, connections, spec, ctx)

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        database = spec.databases[key]
        lifecycle = lifecycle_of(database)
        admin = spec.postgres[database.server].admin_user
        owner = ctx.name_of(Address("users", database.owner)) if database.owner else admin
        grants = {ctx.name_of(Address("users", u)): privileges(user.grants[key])
                  for u, user in spec.users.items() if key in user.grants}
        public = {"database": database.public.database if database.public.database is not None
                  else PUBLIC_DATABASE_DEFAULT}
        schema = database.public.public_schema
        if schema is None and database.allow_connections:
            schema = public_schema_default((ctx.facts.get(self.section) or {}).get(database.server))
        if schema is not None:
            public["public_schema"] = schema
        extensions = {name: {"version": e.version, "schema": e.schema_} for name, e in database.extensions.items()}
        form = {
            "name": self.name_of(spec, key), "owner": owner,
            "encoding": database.encoding.upper() if database.encoding else UNKNOWN,
            "locale": database.locale or UNKNOWN, "lc_collate": database.lc_collate or UNKNOWN,
            "lc_ctype": database.lc_ctype or UNKNOWN,
            "connection_limit": None if database.connection_limit in (None, -1) else database.connection_limit,
            "allow_connections": database.allow_connections, "public": public,
            "settings": {name: setting_value(name, value) for name, value in database.settings.items()},
            "extensions": sorted(extensions),
            "extension_versions": {n: e["version"] for n, e in extensions.items() if e["version"]},
            "extension_schemas": {n: e["schema"] for n, e in extensions.items() if e["schema"]},
        }
        payload = DatabasePayload(marker(spec.stack, Address(self.section, key), lifecycle.prevent_destroy), grants,
                                  database.encoding, database.locale, database.template, database.lc_collate,
                                  database.lc_ctype, extensions)
        return Desired(form, payload, lifecycle, self.target_of(spec, key, ctx),
                       partial=frozenset({"extensions", "extension_versions", "extension_schemas", "public"}))

    def create(self, change: Change, session: Any) -> str | None:
        return _ensure(self, change, session)

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        """Only reached from `destroy --databases`: plans never drop a database otherwise."""
        self.session(change, session).run(drop_database(change.name))


def _check_closed(spec: Any, key: str, database: Any, name: str, report: Any) -> None:
    """A database that refuses connections cannot be worked inside (quayform connects to it too)."""
    why = "allow_connections is false, so quayform cannot connect to it"
    server = spec.postgres.get(database.server)
    if server is not None and name == server.admin_database:
        report(("databases", key, "allow_connections"), f"it is the admin database postgres.{database.server} "
                                                         "connects to; it must accept connections")
    if database.extensions:
        report(("databases", key, "extensions"), f"{why} to create extensions")
    if database.public.public_schema is not None:
        report(("databases", key, "public", "public_schema"), f"{why} to change schema public")
    for schema_key, schema in spec.schemas.items():
        if schema.database == key:
            report(("schemas", schema_key, "database"), f"databases.{key}: {why} to manage its schemas")


KIND = DatabaseKind()
