"""PostgreSQL users (roles): password, role flags and database privileges, all changed in place.

The password is compared without ever being stored or read: the live value is "the desired
one" only if the server's stored verifier was made from it (a judge, beside diff). Grants on
a database the user owns are compared only where the spec declares them (an owner holds
every privilege). Grants the spec no longer gives are revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Mapping

from quayform.address import Address
from quayform.changes import EXISTED, UNKNOWN, Action, Change, Desired, LiveObject
from quayform.kinds.base import Ctx, Rules, replace, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.postgres import RESERVED_ROLES, PgKind, catalog, check_names, marker
from quayform.kinds.postgres.sql import EXISTED_MARK, drop_user, ensure_user, password_matches
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


def live_user(raw: Mapping[str, Any], databases: list[Mapping[str, Any]],
              depends: list[Mapping[str, Any]] = ()) -> tuple[dict[str, Any], LiveUser]:
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
    form = {"name": name, "login": bool(raw.get("login")), "createdb": bool(raw.get("createdb")),
            "createrole": bool(raw.get("createrole")), "superuser": bool(raw.get("superuser")), "password": None,
            "grants": grants}
    depends_in = tuple(sorted({d["database"] for d in depends if d.get("role") == name}))
    return form, LiveUser(raw.get("verifier"), tuple(owns), tuple(granted_on), depends_in)


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


def _ensure(kind: Any, change: Change, session: Any) -> str | None:
    live_grants = (change.before or {}).get("grants") if change.action is Action.UPDATE else None
    output = kind.session(change, session).run(ensure_user(change.after or {}, change.payload, live_grants))
    return EXISTED if EXISTED_MARK in output else None


class UserKind(PgKind):
    section = "users"
    noun = "user"
    reference_attrs = ("name", "password")
    attributes = (replace("name"), update("login", _ensure), update("createdb", _ensure),
                  update("createrole", _ensure), update("superuser", _ensure),
                  update("password", _ensure, judge=judge_password),
                  update("grants", _ensure, mapping=True, judge=judge_grants))
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
        server = spec.postgres.get(item.server)
        if server is not None:
            yield Address("containers", server.container), ()

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

    def list_live(self, session: Any, stack: str, detail: bool) -> Iterable[Any]:
        read = catalog(session)
        databases, depends = read.get("databases") or [], read.get("depends") or []
        return [(row, databases, depends) for row in read.get("roles") or []]

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        row, databases, depends = raw
        form, payload = live_user(row, databases, depends)
        return self.live_object(row["name"], row.get("comment"), stack, target, form, payload)

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        user = spec.users[key]
        lifecycle = lifecycle_of(user)
        password = user.password
        form = {
            "name": self.name_of(spec, key), "login": user.login, "createdb": user.createdb,
            "createrole": user.createrole, "superuser": user.superuser,
            "password": (password if isinstance(password, Sensitive) else Sensitive(password))
            if password is not None else UNKNOWN,
            "grants": {ctx.name_of(Address("databases", db)): privileges(p) for db, p in user.grants.items()},
        }
        return Desired(form, marker(spec.stack, Address(self.section, key), lifecycle.prevent_destroy), lifecycle,
                       self.target_of(spec, key, ctx))

    def create(self, change: Change, session: Any) -> str | None:
        return _ensure(self, change, session)

    def delete_note(self, live: LiveObject, release: frozenset[str] = frozenset()) -> str:
        payload: LiveUser = live.payload or LiveUser()
        if not payload.owns and not payload.depends_in:
            return ""
        what = [f"database {d}" for d in payload.owns]
        what += [f"objects in {d}" for d in payload.depends_in if d not in payload.owns]
        return f"what it owns ({', '.join(what)}) goes to {live.target.admin_user} first"

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        live: LiveUser = change.live_payload or LiveUser()
        server = change.live_target
        self.session(change, session).run(drop_user(change.name, sorted(live.granted_on), server.admin_user,
                                                    live.depends_in, server.admin_database))


KIND = UserKind()
