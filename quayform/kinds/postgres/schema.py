"""PostgreSQL schemas inside the spec's databases: owner and marker; never dropped implicitly.

A schema lives in one database, so it is named by both (`app.reporting`: the form's name, which is
what tells two `reporting` schemas of two databases apart). Its owner is changed in place; a schema
owned by `pg_database_owner` (schema public since PostgreSQL 15) counts as owned by its database's
owner. What roles may do in it is declared on the roles (`users.X.privileges`), compared there, and
also granted here when the schema is created (the roles exist first: a schema depends on them).
A schema no longer in the spec is kept, like a database; `destroy --databases` drops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Mapping

from quayform.address import Address
from quayform.changes import EXISTED, Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, hold, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.postgres import PgKind, catalog, check_names, marker, read_marker, schema_place
from quayform.kinds.postgres.privileges import Target, in_database, qualified, statements_for
from quayform.kinds.postgres.sql import EXISTED_MARK, quote_ident, quote_literal
from quayform.kinds.postgres.user import privileges_of

DATABASE_OWNER_ROLE = "pg_database_owner"


@dataclass(frozen=True)
class SchemaPayload:
    """What apply needs beyond the form."""

    marker: str
    database: str
    schema: str
    privileges: tuple[tuple[str, Target, tuple[str, ...]], ...] = ()  # (role, where, wanted), granted on creation


@dataclass(frozen=True)
class LiveSchema:
    database: str
    schema: str
    database_owner: str | None  # who pg_database_owner stands for here


def judge_owner(desired: Any, live: Mapping[str, Any], payload: LiveSchema | None) -> Any:
    """pg_database_owner is the database's owner, whoever that is."""
    owner = live.get("owner")
    if owner == DATABASE_OWNER_ROLE and payload is not None and desired == payload.database_owner:
        return desired
    return owner


def ensure_schema(form: Mapping[str, Any], payload: SchemaPayload) -> str:
    """Inside its database: create it if missing, set its owner (unless pg_database_owner already means
    that role) and marker, and grant what the spec's roles may do in it."""
    s, owner, literal = quote_ident(payload.schema), form["owner"], quote_literal(payload.schema)
    body = (f"SELECT {quote_literal(EXISTED_MARK)} WHERE EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {literal});\n"
            f"CREATE SCHEMA IF NOT EXISTS {s} AUTHORIZATION {quote_ident(owner)};\n")
    owner_oid = f"(SELECT oid FROM pg_roles WHERE rolname = {quote_literal(owner)})"
    already = (f"nspowner = {owner_oid} OR (nspowner = (SELECT oid FROM pg_roles WHERE rolname = "
               f"{quote_literal(DATABASE_OWNER_ROLE)}) AND {owner_oid} = (SELECT datdba FROM pg_database "
               f"WHERE datname = current_database()))")
    alter = f"ALTER SCHEMA {s} OWNER TO {quote_ident(owner)}"
    body += (f"SELECT {quote_literal(alter)} WHERE NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {literal} "
             f"AND ({already}))\n\\gexec\n")
    body += f"COMMENT ON SCHEMA {s} IS {quote_literal(payload.marker)};\n"
    body += "".join(statements_for(role, target, list(wanted)) for role, target, wanted in payload.privileges)
    return in_database(payload.database, body)


def drop_schema(database: str, schema: str) -> str:
    return in_database(database, f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE;\n")


def _ensure(kind: Any, change: Change, session: Any) -> str | None:
    output = kind.session(change, session).run(ensure_schema(change.after or {}, change.payload))
    return EXISTED if EXISTED_MARK in output else None


RESERVED_SCHEMAS = ("information_schema",)


class SchemaKind(PgKind):
    section = "schemas"
    noun = "schema"
    # owned_by: the stack its marker names (as Quay's kinds have it); an adopted schema is marked by the next
    # apply, and only then are the privileges in it compared (privileges.py reads the marked ones).
    attributes = (hold("name"), update("owner", _ensure, judge=judge_owner), update("owned_by", _ensure))
    rules = Rules(on_replace="refuse", orphan="keep", destroy_flag="databases",
                  destroy_keep_reason="PostgreSQL schemas are kept with their tables; add --databases to drop them",
                  hold_reason="a schema is another schema once its {attributes} differs", adopt_by_name=True,
                  renamed_is_new=True, ownership="comment",
                  replace_refusal="quayform never drops a schema to recreate it; do that by hand if you must")

    def server_of(self, spec: Any, key: str) -> str:
        schema = spec.schemas[key]
        return schema.server or spec.databases[schema.database].server

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return ("postgres", self.server_of(spec, key), spec.schemas[key].database)

    def orphan_reason(self, live: LiveObject) -> str:
        where = live.payload
        hint = (f" (DROP SCHEMA {quote_ident(where.schema)} in database {quote_ident(where.database)} by hand if it "
                "is no longer needed)") if isinstance(where, LiveSchema) else ""
        return f"it is no longer in the spec; quayform never drops a schema implicitly{hint}"

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        """Its database, its owner, and every user given privileges in it (granted when it is created)."""
        if item.database in spec.databases:
            yield Address("databases", item.database), ("database",)
        if item.owner:
            yield Address("users", item.owner), ("owner",)
        for user_key, user in spec.users.items():
            if key in user.privileges or key in user.default_privileges:
                yield Address("users", user_key), ()

    def name_problems(self, spec: Any, key: str, name: str) -> list[str]:
        if name in RESERVED_SCHEMAS or name.lower().startswith("pg_"):
            return [f"{name!r} is a name PostgreSQL keeps for its own schemas (information_schema, pg_*)"]
        return []

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        check_names(self, spec, report)
        for key, schema in spec.schemas.items():
            database = spec.databases.get(schema.database)
            if database is None:
                report(("schemas", key, "database"), f"names databases.{schema.database}, which is not in the spec")
                continue
            if schema.server is not None and schema.server != database.server:
                report(("schemas", key, "server"), f"databases.{schema.database} is on server "
                                                   f"{database.server!r}, not {schema.server!r}")
            owner = spec.users.get(schema.owner) if schema.owner else None
            if schema.owner and owner is None:
                report(("schemas", key, "owner"), f"is owned by users.{schema.owner}, which is not in the spec")
            elif owner is not None and owner.server != database.server:
                report(("schemas", key, "owner"), f"users.{schema.owner} is on server {owner.server!r}, "
                                                  f"not {database.server!r}")

    def list_live(self, session: Any, stack: str, detail: bool) -> Iterable[Any]:
        read = catalog(session)
        owners = {row["name"]: row.get("owner") for row in read.get("databases") or []}
        return [(database, row, owners.get(database)) for database, inside in (read.get("inside") or {}).items()
                for row in inside.get("schemas") or []]

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        database, row, owner = raw
        name = qualified(database, row["name"])
        form = {"name": name, "owner": row.get("owner"), "owned_by": read_marker(row.get("comment"))[0]}
        return self.live_object(name, row.get("comment"), stack, target, form, LiveSchema(database, row["name"], owner))

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        lifecycle = lifecycle_of(spec.schemas[key])
        database, schema, owner = schema_place(spec, ctx, key)
        granted = []
        for user_key, user in spec.users.items():
            if key in user.privileges or key in user.default_privileges:
                privileges, defaults, targets = privileges_of(spec, ctx, user)
                wanted = {**privileges, **defaults}
                granted += [(ctx.name_of(Address("users", user_key)), target, tuple(wanted.get(k, ())))
                            for k, target in sorted(targets.items())
                            if (target.database, target.schema) == (database, schema)]
        payload = SchemaPayload(marker(spec.stack, Address(self.section, key), lifecycle.prevent_destroy), database,
                                schema, tuple(granted))
        return Desired({"name": qualified(database, schema), "owner": owner, "owned_by": spec.stack}, payload,
                       lifecycle, self.target_of(spec, key, ctx))

    def create(self, change: Change, session: Any) -> str | None:
        return _ensure(self, change, session)

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        """Only reached from `destroy --databases`: plans never drop a schema otherwise."""
        where = change.live_payload
        self.session(change, session).run(drop_schema(where.database, where.schema))


KIND = SchemaKind()
