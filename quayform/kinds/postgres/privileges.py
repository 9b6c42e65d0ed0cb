"""What a role may do inside schemas: on the schema itself, on every table, sequence and function in
it, and on what given roles create there later (default privileges). Pure: the live side read from
the catalog rows, and the SQL that makes a role's privileges exactly what the spec says.

Compared in the schemas this stack declares (their COMMENT marks them), per role:

- a key per schema and class of object, `tables in app.reporting`, holds the privileges the role
  has on every such object it does not own; one held on only some of them reads `INSERT (on 1 of
  3)`, so the plan says what is partly granted. A role that owns the schema, or owns every object
  of that class in it (or there is none), needs nothing granted there: what the spec asks counts
  as held;
- a key per schema, class and creating role, `tables created by app in app.reporting`, holds the
  default privileges (pg_default_acl) the role gets on objects that role creates there later.

SQL: GRANT ... ON ALL TABLES IN SCHEMA for what is wanted, and REVOKE of the rest object by object,
only on objects the role does not own (an owner's REVOKE would take its own privileges away) and
only where it holds one (psql's \\gexec runs the REVOKEs the server lists, identifiers quoted by
format(%I) and regclass); never a REVOKE ALL first, so no moment lacks what is wanted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from quayform.kinds.postgres import read_marker
from quayform.kinds.postgres.sql import psql_connect, quote_ident, quote_literal
from quayform.spec.pg_models import CLASS_PRIVILEGES

OBJECT_CLASSES = ("tables", "sequences", "functions")
DEFAULT_CLASSES = {"r": "tables", "S": "sequences", "f": "functions"}  # pg_default_acl.defaclobjtype
_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")


def display(name: str) -> str:
    """A name as PostgreSQL prints one: bare when it is a plain lower-case identifier, else quoted."""
    return name if _PLAIN.match(name) else quote_ident(name)


def qualified(database: str, schema: str) -> str:
    """`app.reporting`: a schema is named by its database too (each database has its own schemas)."""
    return f"{display(database)}.{display(schema)}"


def privilege_key(cls: str, database: str, schema: str) -> str:
    where = qualified(database, schema)
    return f"schema {where}" if cls == "schema" else f"{cls} in {where}"


def default_key(cls: str, creator: str, database: str, schema: str) -> str:
    return f"{cls} created by {display(creator)} in {qualified(database, schema)}"


@dataclass(frozen=True)
class Target:
    """What one privileges key stands for: where, which class of object, and (defaults) whose new objects."""

    database: str
    schema: str
    cls: str
    creator: str | None = None


@dataclass(frozen=True)
class LivePrivileges:
    """One role's privileges in the stack's schemas, as read back."""

    privileges: dict[str, list[str]]
    defaults: dict[str, list[str]]
    targets: dict[str, Target]  # every key above
    nothing_to_grant: frozenset[str] = frozenset()  # keys where the role owns all there is (or there is nothing)
    # The same in schemas no stack has marked yet: shown only for a schema the spec names (being adopted).
    unmarked: "LivePrivileges | None" = None


def _ours(comment: str | None, stack: str | None) -> bool:
    owner, address, _ = read_marker(comment)
    return stack is not None and owner == stack and address is not None and address.kind == "schemas"


def stack_schemas(inside: Mapping[str, Any], stack: str | None) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(database, schema) -> catalog row, for the schemas whose COMMENT marks them as the stack's."""
    return {(database, row["name"]): row for database, read in inside.items() for row in read.get("schemas") or []
            if _ours(row.get("comment"), stack)}


def unmarked_schemas(inside: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The schemas no stack has marked (one the spec names is adopted by the next apply)."""
    return {(database, row["name"]): row for database, read in inside.items() for row in read.get("schemas") or []
            if read_marker(row.get("comment"))[0] is None}


def _count(privilege: str, held: int, of: int) -> str:
    return privilege if held >= of else f"{privilege} (on {held} of {of})"


def _objects_held(role: str, database: str, read: Mapping[str, Any], schemas: Iterable[str],
                  found: LivePrivileges) -> None:
    """Into `found`: what the role holds on each class of object of `database`'s stack schemas."""
    totals: dict[tuple[str, str], int] = {}
    for row in read.get("objects") or []:
        if row["schema"] in schemas and row.get("owner") != role:
            totals[(row["schema"], row["class"])] = totals.get((row["schema"], row["class"]), 0) + int(row["n"])
    held_by: dict[tuple[str, str], dict[str, int]] = {}
    for row in read.get("object_grants") or []:
        if row["schema"] in schemas and row.get("grantee") == role:
            held_by.setdefault((row["schema"], row["class"]), {})[row["privilege"]] = int(row["n"])
    for schema in schemas:
        for cls in OBJECT_CLASSES:
            key = privilege_key(cls, database, schema)
            found.targets[key] = Target(database, schema, cls)
            of = totals.get((schema, cls), 0)
            if not of:
                found.nothing_to_grant.add(key)
            if held_by.get((schema, cls)):
                found.privileges[key] = sorted(_count(p, n, of) for p, n in held_by[(schema, cls)].items())


def _defaults_held(role: str, database: str, read: Mapping[str, Any], schemas: Iterable[str],
                   found: LivePrivileges) -> None:
    for row in read.get("default_acl") or []:
        cls = DEFAULT_CLASSES.get(row.get("class"))
        if cls and row["schema"] in schemas and row.get("grantee") == role:
            key = default_key(cls, row["creator"], database, row["schema"])
            found.targets[key] = Target(database, row["schema"], cls, row["creator"])
            found.defaults[key] = sorted(set(found.defaults.get(key, [])) | {row["privilege"]})


def _held_in(role: str, inside: Mapping[str, Any], schemas: Mapping[tuple[str, str], Mapping[str, Any]]
             ) -> LivePrivileges:
    found = LivePrivileges({}, {}, {}, set())
    for (database, schema), row in schemas.items():
        key = privilege_key("schema", database, schema)
        found.targets[key] = Target(database, schema, "schema")
        held = sorted({g["privilege"] for g in row.get("grants") or [] if g.get("grantee") == role})
        if held:
            found.privileges[key] = held
        if row.get("owner") == role:
            found.nothing_to_grant.add(key)
    for database, read in inside.items():
        here = [schema for d, schema in schemas if d == database]
        _objects_held(role, database, read, here, found)
        _defaults_held(role, database, read, here, found)
    return LivePrivileges(found.privileges, found.defaults, found.targets, frozenset(found.nothing_to_grant))


def live_privileges(role: str, inside: Mapping[str, Any], stack: str | None) -> LivePrivileges:
    """The role's privileges and default privileges in the stack's schemas, from the catalog's rows
    (and, aside, in the schemas nobody has marked: the plan shows them for one the spec adopts)."""
    ours = _held_in(role, inside, stack_schemas(inside, stack))
    return replace(ours, unmarked=_held_in(role, inside, unmarked_schemas(inside)))


def _adopted(desired: Any, held: LivePrivileges | None, attribute: str) -> dict[str, list[str]]:
    """What the role holds in the unmarked schemas a desired key names (each such schema as a whole)."""
    if held is None or not isinstance(desired, Mapping):
        return {}
    places = {(t.database, t.schema) for k, t in held.targets.items() if k in desired}
    return {k: v for k, v in getattr(held, attribute).items()
            if (held.targets[k].database, held.targets[k].schema) in places}


def judge_privileges(desired: Any, live: Mapping[str, Any], payload: Any) -> Any:
    """What the spec asks counts as held where the role needs nothing granted (it owns all there is); in a
    schema about to be adopted, what the role holds there is shown (apply makes it exact)."""
    found: LivePrivileges | None = getattr(payload, "privileges", None)
    unmarked = found.unmarked if found is not None else None
    held = {**_adopted(desired, unmarked, "privileges"), **(live.get("privileges") or {})}
    nothing = (found.nothing_to_grant if found is not None else frozenset()) | (
        unmarked.nothing_to_grant if unmarked is not None else frozenset())
    for key, wanted in (desired or {}).items() if isinstance(desired, Mapping) else ():
        if key in nothing and key not in held:
            held[key] = wanted
    return held


def judge_default_privileges(desired: Any, live: Mapping[str, Any], payload: Any) -> Any:
    """Default privileges in a schema about to be adopted are shown as they are."""
    found: LivePrivileges | None = getattr(payload, "privileges", None)
    return {**_adopted(desired, found.unmarked if found is not None else None, "defaults"),
            **(live.get("default_privileges") or {})}


# -- SQL ---------------------------------------------------------------------------------------------

_RELKINDS = {"tables": "('r', 'p', 'v', 'm', 'f')", "sequences": "('S')"}
_OBJECT_WORD = {"tables": "TABLE", "sequences": "SEQUENCE", "functions": "FUNCTION"}


def _role_oid(name: str) -> str:
    return f"(SELECT oid FROM pg_roles WHERE rolname = {quote_literal(name)})"


def _schema_oid(name: str) -> str:
    return f"(SELECT oid FROM pg_namespace WHERE nspname = {quote_literal(name)})"


def _in(items: Iterable[str]) -> str:
    return "(" + ", ".join(quote_literal(i) for i in items) + ")"


def class_statements(role: str, schema: str, cls: str, wanted: list[str]) -> str:
    """Inside the schema's database: make `role`'s privileges on `cls` in `schema` exactly `wanted`."""
    every = CLASS_PRIVILEGES[cls]
    unwanted = [p for p in every if p not in wanted]
    r, s = quote_ident(role), quote_ident(schema)
    if cls == "schema":
        script = f"GRANT {', '.join(wanted)} ON SCHEMA {s} TO {r};\n" if wanted else ""
        if unwanted:
            revoke = f"REVOKE {', '.join(unwanted)} ON SCHEMA {s} FROM {r}"
            script += (f"SELECT {quote_literal(revoke)} WHERE NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = "
                       f"{quote_literal(schema)} AND nspowner = {_role_oid(role)})\n\\gexec\n")
        return script
    script = f"GRANT {', '.join(wanted)} ON ALL {cls.upper()} IN SCHEMA {s} TO {r};\n" if wanted else ""
    if not unwanted:
        return script
    if cls == "functions":
        rows = (f"SELECT p.oid::regprocedure AS object, p.proacl AS acl FROM pg_proc p WHERE p.pronamespace = "
                f"{_schema_oid(schema)} AND p.prokind <> 'p' AND p.proowner <> {_role_oid(role)}")
    else:
        rows = (f"SELECT c.oid::regclass AS object, c.relacl AS acl FROM pg_class c WHERE c.relnamespace = "
                f"{_schema_oid(schema)} AND c.relkind IN {_RELKINDS[cls]} AND c.relowner <> {_role_oid(role)}")
    revoke = f"REVOKE {', '.join(unwanted)} ON {_OBJECT_WORD[cls]} %s FROM %I"
    return script + (f"SELECT format({quote_literal(revoke)}, o.object, {quote_literal(role)}) FROM ({rows}) o "
                     f"WHERE EXISTS (SELECT 1 FROM aclexplode(o.acl) g WHERE g.grantee = {_role_oid(role)} "
                     f"AND g.privilege_type IN {_in(unwanted)})\n\\gexec\n")


def default_statements(role: str, creator: str, schema: str, cls: str, wanted: list[str]) -> str:
    """Inside the database: make what `role` gets on `cls` that `creator` makes in `schema` exactly `wanted`."""
    unwanted = [p for p in CLASS_PRIVILEGES[cls] if p not in wanted]
    alter = f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(creator)} IN SCHEMA {quote_ident(schema)}"
    script = ""
    if unwanted:
        script += f"{alter} REVOKE {'ALL' if not wanted else ', '.join(unwanted)} ON {cls.upper()} FROM {quote_ident(role)};\n"
    if wanted:
        script += f"{alter} GRANT {', '.join(wanted)} ON {cls.upper()} TO {quote_ident(role)};\n"
    return (f"SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {quote_literal(creator)}) AS qf_creator \\gset\n"
            f"\\if :qf_creator\n{script}\\endif\n")


def in_schema(schema: str, body: str) -> str:
    return (f"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {quote_literal(schema)}) AS qf_schema \\gset\n"
            f"\\if :qf_schema\n{body}\\endif\n")


def in_database(database: str, body: str) -> str:
    """`body` inside `database`, if it exists and accepts connections (it may not exist yet)."""
    return (f"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = {quote_literal(database)} AND datallowconn) "
            f"AS qf_inside \\gset\n\\if :qf_inside\n{psql_connect(database)}\n{body}\\endif\n")


def statements_for(role: str, target: Target, wanted: list[str]) -> str:
    if target.creator is not None:
        return default_statements(role, target.creator, target.schema, target.cls, wanted)
    return class_statements(role, target.schema, target.cls, wanted)


def privileges_script(items: Iterable[tuple[str, Target, list[str]]]) -> str:
    """(role, target, wanted) statements grouped by database and schema, each run only where it exists."""
    by_place: dict[str, dict[str, list[str]]] = {}
    for role, target, wanted in items:
        by_place.setdefault(target.database, {}).setdefault(target.schema, []).append(
            statements_for(role, target, wanted))
    return "".join(in_database(db, "".join(in_schema(s, "".join(parts)) for s, parts in sorted(schemas.items())))
                   for db, schemas in sorted(by_place.items()))
