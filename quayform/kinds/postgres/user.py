"""PostgreSQL users (roles): password, role attributes and settings, memberships, database privileges,
privileges inside the stack's schemas and default privileges, all changed in place.

The password is compared without ever being stored or read: the live value is "the desired
one" only if the server's stored verifier was made from it (a judge, beside diff). Grants on
a database the user owns are compared only where the spec declares them (an owner holds
every privilege). Memberships, settings, grants and privileges are exact: what the spec no
longer gives is revoked (privileges.py says how, and where they are compared). What happens to
what a role owns when it is dropped is its `on_drop` policy, kept in its marker (drop.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Mapping

from quayform.address import Address
from quayform.changes import EXISTED, UNKNOWN, Action, Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, replace, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.postgres import (RESERVED_ROLES, PgKind, catalog, check_names, marker, read_on_drop, role_name,
                                     schema_place)
from quayform.kinds.postgres.catalog import depends_of, parse_settings
from quayform.kinds.postgres.drop import conflicts_of_drops, drop_note, drop_script
from quayform.kinds.postgres.privileges import (LivePrivileges, Target, default_key, judge_default_privileges,
                                                judge_privileges, live_privileges, privilege_key, privileges_script)
from quayform.kinds.postgres.sql import EXISTED_MARK, ensure_user, password_matches, setting_value
from quayform.sensitive import Sensitive

_PRIVILEGE_LETTERS = {"C": "CREATE", "T": "TEMPORARY", "c": "CONNECT"}
_ALL = ["CONNECT", "CREATE", "TEMPORARY"]
DIFFERS = Sensitive("\0a different password")


def privileges(declared: list[str]) -> list[str]:
    """[ALL] -> CONNECT, CREATE, TEMPORARY; TEMP -> TEMPORARY; sorted, unique."""
    out: set[str] = set()
    for item in declared:
        out |= set(_ALL) if item == "ALL" else {"TEMPORARY" if item == "TEMP" else item}
    return sorted(out)


def parse_acl(items: list[str] | None) -> dict[str, list[str]]:
    """PostgreSQL aclitem texts (`"a""b"=CTc/postgres`) -> {grantee: sorted privileges}; PUBLIC is ''."""
    grants: dict[str, set[str]] = {}
    for item in items or []:
        name, rest = _acl_grantee(item)
        letters = rest.split("/", 1)[0]
        grants.setdefault(name, set()).update(_PRIVILEGE_LETTERS[ch] for ch in letters if ch in _PRIVILEGE_LETTERS)
    return {k: sorted(v) for k, v in grants.items()}


def _acl_grantee(item: str) -> tuple[str, str]:
    if not item.startswith('"'):
        name, _, rest = item.partition("=")
        return name, rest
    name, i = [], 1
    while i < len(item):
        if item[i] == '"' and item[i + 1:i + 2] == '"':
            name.append('"')
            i += 2
        elif item[i] == '"':
            return "".join(name), item[i + 2:]
        else:
            name.append(item[i])
            i += 1
    return "".join(name), ""


@dataclass(frozen=True)
class LiveUser:
    """What the catalog says of a role beyond its form: never shown, used by the judges and by delete."""

    verifier: str | None = None
    owns: tuple[str, ...] = ()  # databases it owns
    granted_on: tuple[str, ...] = ()  # databases whose ACL names it
    depends_in: tuple[str, ...] = ()  # databases holding objects it owns or is granted
    privileges: LivePrivileges | None = None  # inside the stack's schemas
    owned_in: tuple[tuple[str, int, tuple[str, ...]], ...] = ()  # (database, how many objects it owns, some names)


@dataclass(frozen=True)
class UserPayload:
    """What apply needs beyond the form: the marker, and where each privileges key lives."""

    marker: str
    targets: dict[str, Target]  # every key of privileges and default_privileges the spec can give


def _owned_in(name: str, depends: list[Mapping[str, Any]], inside: Mapping[str, Any]) -> tuple:
    named = {db: row for db, read in inside.items() for row in read.get("owned") or [] if row.get("role") == name}
    return tuple((db, n, tuple((named.get(db) or {}).get("some") or ()))
                 for db, n in sorted(depends_of(name, depends).items()) if n)


def live_user(raw: Mapping[str, Any], databases: list[Mapping[str, Any]],
              depends: list[Mapping[str, Any]] = (), inside: Mapping[str, Any] | None = None,
              stack: str | None = None) -> tuple[dict[str, Any], LiveUser]:
    """A role as the catalog has it: grants on databases it does not own; ownership kept for the judge."""
    name = raw["name"]
    grants, owns, granted_on = {}, [], []
    for database in databases:
        granted = parse_acl(database.get("acl")).get(name)
        if granted:
            granted_on.append(database["name"])
        if database.get("owner") == name:
            owns.append(database["name"])
        elif granted:
            grants[database["name"]] = granted
    inside = inside or {}
    held = live_privileges(name, inside, stack)
    limit = raw.get("connection_limit")
    form = {"name": name, "login": bool(raw.get("login")), "createdb": bool(raw.get("createdb")),
            "createrole": bool(raw.get("createrole")), "superuser": bool(raw.get("superuser")),
            "inherit": bool(raw.get("inherit", True)), "replication": bool(raw.get("replication")),
            "bypassrls": bool(raw.get("bypassrls")), "connection_limit": None if limit in (None, -1) else limit,
            "valid_until": raw.get("valid_until"), "password": None, "settings": parse_settings(raw.get("settings")),
            "member_of": sorted(raw.get("member_of") or []), "grants": grants,
            "privileges": held.privileges, "default_privileges": held.defaults,
            "on_drop": read_on_drop(raw.get("comment"))}
    depends_in = tuple(sorted({d["database"] for d in depends if d.get("role") == name}))
    return form, LiveUser(raw.get("verifier"), tuple(owns), tuple(granted_on), depends_in, held,
                          _owned_in(name, list(depends), inside))


def judge_password(desired: Any, live: Mapping[str, Any], payload: LiveUser | None) -> Any:
    """The desired password if the stored verifier was made from it, else a value that differs."""
    if not isinstance(desired, Sensitive):
        return live.get("password")
    verifier = payload.verifier if payload is not None else None
    return desired if password_matches(desired.reveal(), verifier, live["name"]) else DIFFERS


def judge_grants(desired: Any, live: Mapping[str, Any], payload: LiveUser | None) -> Any:
    """Grants on owned databases count as exactly what the spec declares there (an owner holds them all)."""
    grants = dict(live.get("grants") or {})
    for database in payload.owns if payload is not None else ():
        if isinstance(desired, Mapping) and database in desired:
            grants[database] = desired[database]
    return grants


def _privilege_items(change: Change) -> list[tuple[str, Target, list[str]]]:
    """(role, where, wanted) for every key the spec can give, and for every one it no longer gives."""
    after, before = change.after or {}, change.before or {}
    targets: dict[str, Target] = dict(change.payload.targets) if isinstance(change.payload, UserPayload) else {}
    held: LivePrivileges | None = getattr(change.live_payload, "privileges", None)
    wanted = {**(after.get("privileges") or {}), **(after.get("default_privileges") or {})}
    known = {**(held.unmarked.targets if held is not None and held.unmarked is not None else {}),
             **(held.targets if held is not None else {})}
    gone = [k for k in {**(before.get("privileges") or {}), **(before.get("default_privileges") or {})}
            if k not in targets and k in known]
    items = [(after["name"], target, wanted.get(key, [])) for key, target in sorted(targets.items())]
    return items + [(after["name"], known[key], []) for key in sorted(gone)]


def _ensure(kind: Any, change: Change, session: Any) -> str | None:
    live_grants = (change.before or {}).get("grants") if change.action is Action.UPDATE else None
    marker_text = change.payload.marker if isinstance(change.payload, UserPayload) else change.payload
    script = ensure_user(change.after or {}, marker_text, live_grants) + privileges_script(_privilege_items(change))
    output = kind.session(change, session).run(script)
    return EXISTED if EXISTED_MARK in output else None


def privileges_of(spec: Any, ctx: Ctx, user: Any) -> tuple[dict[str, list[str]], dict[str, list[str]],
                                                             dict[str, Target]]:
    """The privileges and default privileges the spec gives, and where every key it can give lives."""
    privileges, defaults, targets = {}, {}, {}
    for schema_key, given in user.privileges.items():
        database, schema, _ = schema_place(spec, ctx, schema_key)
        for cls, wanted in given.by_class().items():
            key = privilege_key(cls, database, schema)
            targets[key] = Target(database, schema, cls)
            if wanted:
                privileges[key] = wanted
    for schema_key, given in user.default_privileges.items():
        database, schema, owner = schema_place(spec, ctx, schema_key)
        for creator in [role_name(spec, ctx, c) for c in given.for_] or [owner]:
            for cls, wanted in given.by_class().items():
                key = default_key(cls, creator, database, schema)
                targets[key] = Target(database, schema, cls, creator)
                if wanted:
                    defaults[key] = wanted
    return privileges, defaults, targets


def _on_drop(spec: Any, ctx: Ctx, user: Any) -> Any:
    if user.on_drop is None or user.on_drop == "refuse":
        return user.on_drop
    return {"reassign_to": role_name(spec, ctx, user.on_drop.reassign_to)}


ATTRIBUTES = ("login", "createdb", "createrole", "superuser", "inherit", "replication", "bypassrls",
              "connection_limit", "valid_until")


class UserKind(PgKind):
    section = "users"
    noun = "user"
    reference_attrs = ("name", "password")
    attributes = (replace("name"), *(update(name, _ensure) for name in ATTRIBUTES),
                  update("password", _ensure, judge=judge_password),
                  update("settings", _ensure, mapping=True), update("member_of", _ensure),
                  update("grants", _ensure, mapping=True, judge=judge_grants),
                  update("privileges", _ensure, mapping=True, judge=judge_privileges),
                  update("default_privileges", _ensure, mapping=True, judge=judge_default_privileges),
                  update("on_drop", _ensure))
    rules = Rules(destroy_flag="databases", adopt_by_name=True, renamed_is_new=True, ownership="comment",
                  destroy_keep_reason="PostgreSQL users are kept with access to the kept databases; "
                                      "add --databases to drop them")

    def secret_allowed(self, path: tuple) -> bool:
        return path[:1] == ("password",)

    def resolve_reference(self, attr: str, key: str, entry: Any, resolver: Any) -> Any:
        """${users.KEY.password}: usable in templates (e.g. a DSN in a config file), never shown."""
        value = entry.get("password") if isinstance(entry, dict) else None
        if attr != "password" or not isinstance(value, str):
            raise LookupError(f"${{users.{key}.{attr}}}: users.{key} has no {attr}")
        resolved = resolver.nested(f"users.{key}.password", value)
        return resolved if isinstance(resolved, Sensitive) else Sensitive(resolved)

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        """Its server's container; the groups it joins and the roles whose new objects it gets privileges on."""
        server = spec.postgres.get(item.server)
        if server is not None:
            yield Address("containers", server.container), ()
        for i, group in enumerate(item.member_of):
            if group in spec.users and group != key:
                yield Address("users", group), ("member_of", i)
        for schema_key, given in item.default_privileges.items():
            for i, creator in enumerate(given.for_):
                if creator in spec.users and creator != key:
                    yield Address("users", creator), ("default_privileges", schema_key, "for", i)

    def name_problems(self, spec: Any, key: str, name: str) -> list[str]:
        server = spec.postgres.get(self.server_of(spec, key))
        if server is not None and name == server.admin_user:
            return [f"{name!r} is the admin role postgres.{self.server_of(spec, key)} connects as; quayform never "
                    "manages (or demotes) the role it works through: leave it out of users"]
        if name.lower() in RESERVED_ROLES or name.lower().startswith("pg_"):
            return [f"{name!r} is a name PostgreSQL reserves for roles ({', '.join(RESERVED_ROLES)}, pg_*)"]
        return []

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        check_names(self, spec, report)
        for key, user in spec.users.items():
            if user.server not in spec.postgres:
                report(("users", key, "server"), f"names postgres.{user.server}, which is not in the spec")
            for target in user.grants:
                database = spec.databases.get(target)
                if database is None:
                    report(("users", key, "grants", target), f"grants on databases.{target}, which is not in the spec")
                elif database.server != user.server:
                    report(("users", key, "grants", target), f"databases.{target} is on server "
                                                             f"{database.server!r}, not {user.server!r}")
            check_roles(spec, key, user, report)

    def list_live(self, session: Any, stack: str, detail: bool) -> Iterable[Any]:
        read = catalog(session)
        databases, depends, inside = read.get("databases") or [], read.get("depends") or [], read.get("inside") or {}
        return [(row, databases, depends, inside) for row in read.get("roles") or []]

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        row, databases, depends, inside = raw
        form, payload = live_user(row, databases, depends, inside, stack)
        return self.live_object(row["name"], row.get("comment"), stack, target, form, payload)

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        user = spec.users[key]
        lifecycle = lifecycle_of(user)
        password = user.password
        granted, defaults, targets = privileges_of(spec, ctx, user)
        on_drop = _on_drop(spec, ctx, user)
        form = {
            "name": self.name_of(spec, key), "login": user.login, "createdb": user.createdb,
            "createrole": user.createrole, "superuser": user.superuser, "inherit": user.inherit,
            "replication": user.replication, "bypassrls": user.bypassrls,
            "connection_limit": None if user.connection_limit in (None, -1) else user.connection_limit,
            "valid_until": None if user.valid_until == "infinity" else user.valid_until,
            "password": (password if isinstance(password, Sensitive) else Sensitive(password))
            if password is not None else UNKNOWN,
            "settings": {name: setting_value(name, value) for name, value in user.settings.items()},
            "member_of": sorted({role_name(spec, ctx, group) for group in user.member_of}),
            "grants": {ctx.name_of(Address("databases", db)): privileges(p) for db, p in user.grants.items()},
            "privileges": granted, "default_privileges": defaults, "on_drop": on_drop,
        }
        payload = UserPayload(marker(spec.stack, Address(self.section, key), lifecycle.prevent_destroy, on_drop),
                              targets)
        return Desired(form, payload, lifecycle, self.target_of(spec, key, ctx))

    def create(self, change: Change, session: Any) -> str | None:
        return _ensure(self, change, session)

    def conflicts(self, spec: Any, desired: Mapping[Address, Desired], objects: list[LiveObject],
                  stack: str) -> list[str]:
        """A role to be dropped that refuses while it owns something, or whose heir will not exist; a role
        named that neither the spec nor the server has."""
        return conflicts_of_drops(self.section, desired, objects) + missing_roles(self.section, desired, objects)

    def delete_note(self, live: LiveObject, release: frozenset[str] = frozenset()) -> str:
        return drop_note(live)

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        self.session(change, session).run(drop_script(change))


def missing_roles(section: str, desired: Mapping[Address, Desired], objects: list[LiveObject]) -> list[str]:
    """member_of and default privileges' `for` naming roles outside the spec that the server lacks
    (PostgreSQL's own pg_* roles are not read, and always there; an unreadable server is not judged)."""
    live: dict[Hashable, set[str]] = {}
    for o in objects:
        if o.kind == section:
            names = live.setdefault(o.target, set())
            if o.address is None or o.address in desired:  # the stack's roles out of the spec are dropped
                names.add(o.name)
    known = {t: names | {d.form["name"] for a, d in desired.items() if a.kind == section and d.target == t}
             for t, names in live.items()}  # only servers read: a role of theirs was seen
    problems = []
    for address, want in sorted(desired.items()):
        if address.kind != section or want.target not in known:
            continue
        creators = {t.creator for t in getattr(want.payload, "targets", {}).values() if t.creator}
        for role in sorted(set(want.form.get("member_of") or []) | creators):
            if role not in known[want.target] and not role.startswith("pg_"):
                problems.append(f"{address}: names role {role!r}, which is neither in the spec nor on "
                                f"{want.target}; add it to users, or create it first")
    return problems


def check_roles(spec: Any, key: str, user: Any, report: Any) -> None:
    """The roles and schemas a user names: on its server, not itself."""
    names = {key, user.name or key}

    def role(path: tuple, value: str, what: str) -> None:
        if value in names:
            report(("users", key, *path), f"{what} names the user itself")
        elif value in spec.users and spec.users[value].server != user.server:
            report(("users", key, *path), f"users.{value} is on server {spec.users[value].server!r}, "
                                          f"not {user.server!r}")

    for i, group in enumerate(user.member_of):
        role(("member_of", i), group, "member_of")
    heir = getattr(user.on_drop, "reassign_to", None)
    if heir:
        role(("on_drop", "reassign_to"), heir, "on_drop.reassign_to")
    for section in ("privileges", "default_privileges"):
        for schema_key, given in getattr(user, section).items():
            schema = spec.schemas.get(schema_key)
            database = spec.databases.get(schema.database) if schema is not None else None
            if schema is None:
                report(("users", key, section, schema_key), f"names schemas.{schema_key}, which is not in the spec")
            elif database is not None and database.server != user.server:
                report(("users", key, section, schema_key), f"schemas.{schema_key} is on server "
                                                           f"{database.server!r}, not {user.server!r}")
            for i, creator in enumerate(getattr(given, "for_", ())):
                role((section, schema_key, "for", i), creator, "for")
    for schema_key, given in user.default_privileges.items():
        held = user.privileges[schema_key].by_class() if schema_key in user.privileges else {}
        for cls, wanted in given.by_class().items():
            missing = sorted(set(wanted) - set(held.get(cls, ())))
            if missing:
                # Privileges are exact: objects made later with these would read as granted beyond the spec.
                report(("users", key, "default_privileges", schema_key, cls),
                       f"gives {', '.join(missing)} on {cls} made later; privileges.{schema_key}.{cls} must give "
                       "it too (privileges cover every object, those made later included)")


KIND = UserKind()
