"""Comparable forms of PostgreSQL databases and users, from the spec and from one catalog read.

Pure. The live form of a user depends on the desired one in two ways, both so that
quayform never stores a password and never fights PostgreSQL's own rules: the password
is "the desired one" only if the server's verifier was made from it, and grants on a
database the user owns are compared only where the spec declares them.
"""

from __future__ import annotations

from typing import Any, Mapping

from quayform.changes import UNKNOWN
from quayform.resources.base import FieldPolicy
from quayform.resources.postgres import MARKER, ServerRef, password_matches
from quayform.sensitive import Sensitive
from quayform.spec.models import Spec

DATABASE_FIELDS = FieldPolicy(replace_on=frozenset({"name", "encoding", "locale"}),
                              update_in_place=frozenset({"owner", "extensions"}))
USER_FIELDS = FieldPolicy(replace_on=frozenset({"name"}),
                          update_in_place=frozenset({"login", "createdb", "createrole", "superuser", "password", "grants"}),
                          mappings=frozenset({"grants"}))

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


def marker(stack: str, address: str, prevent_destroy: bool = False) -> str:
    """The COMMENT that marks a role or database as this stack's (and guarded, if it is)."""
    return f"{MARKER}{stack}:{address}" + (":prevent_destroy" if prevent_destroy else "")


def server_ref(spec: Spec, key: str) -> ServerRef:
    server = spec.postgres[key]
    return ServerRef(key, spec.container_name(server.container), server.admin_user, server.admin_database,
                     server.exec_user)


def desired_database(key: str, spec: Spec) -> dict[str, Any]:
    database = spec.databases[key]
    owner = spec.user_name(database.owner) if database.owner else spec.postgres[database.server].admin_user
    name = spec.database_name(key)
    grants = {spec.user_name(u): privileges(user.grants[key]) for u, user in spec.users.items() if key in user.grants}
    return {
        "name": name,
        "owner": owner,
        "encoding": database.encoding.upper() if database.encoding else UNKNOWN,
        "locale": database.locale or UNKNOWN,
        "extensions": sorted(set(database.extensions)),
        "_partial": ("extensions",),
        "_server": server_ref(spec, database.server),
        "_marker": marker(spec.stack, f"databases.{key}", database.lifecycle.prevent_destroy),
        "_grants": grants,
        "_encoding": database.encoding,
        "_locale": database.locale,
    }


def live_database(raw: Mapping[str, Any], extensions: list[str] | None) -> dict[str, Any]:
    return {
        "name": raw["name"],
        "owner": raw["owner"],
        "encoding": raw.get("encoding"),
        "locale": raw.get("collate"),
        "extensions": sorted(extensions or []),
    }


def desired_user(key: str, spec: Spec) -> dict[str, Any]:
    user = spec.users[key]
    return {
        "name": spec.user_name(key),
        "login": user.login,
        "createdb": user.createdb,
        "createrole": user.createrole,
        "superuser": user.superuser,
        "password": (user.password if isinstance(user.password, Sensitive) else Sensitive(user.password))
        if user.password is not None else UNKNOWN,
        "grants": {spec.database_name(db): privileges(p) for db, p in user.grants.items()},
        "_server": server_ref(spec, user.server),
        "_marker": marker(spec.stack, f"users.{key}", user.lifecycle.prevent_destroy),
    }


def live_user(raw: Mapping[str, Any], databases: list[Mapping[str, Any]], desired: Mapping[str, Any] | None
              ) -> dict[str, Any]:
    """The role as the server has it; password and owned-database grants judged against `desired`."""
    name = raw["name"]
    wanted = (desired or {}).get("grants", {})
    grants = {}
    for database in databases:
        granted = parse_acl(database.get("acl")).get(name)
        owned = database.get("owner") == name
        if owned and database["name"] in wanted:
            grants[database["name"]] = wanted[database["name"]]  # an owner holds every privilege; nothing to fix
        elif granted and not owned:
            grants[database["name"]] = granted
    password: Any = None
    want_password = (desired or {}).get("password")
    if isinstance(want_password, Sensitive):
        password = want_password if password_matches(want_password.reveal(), raw.get("verifier"), name) else DIFFERS
    return {
        "name": name,
        "login": bool(raw.get("login")),
        "createdb": bool(raw.get("createdb")),
        "createrole": bool(raw.get("createrole")),
        "superuser": bool(raw.get("superuser")),
        "password": password,
        "grants": grants,
    }
