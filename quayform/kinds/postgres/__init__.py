"""What PostgreSQL databases and users share: their servers, the catalog read, the ownership marker.

- Servers: the spec's `postgres` section names a server by the container it runs in; its
  objects live on a `PgTarget` and are reached with docker exec (pg_client.PgSession).
- Reading: one psql run per server reads roles, databases, ACLs and, inside each database the
  spec declares on it, extensions, schemas and privileges (catalog.py); users, databases and
  schemas share that read (session memo).
- Ownership: a COMMENT `quayform:<stack>:<address>[:prevent_destroy][:on_drop=...]` on the role,
  database or schema; an unmarked object whose name the spec uses is adopted.
- Names are the key (or `name:`); a different name is a different object, so a renamed
  user or database leaves its old object behind as an orphan.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from quayform.address import Address
from quayform.changes import LiveObject
from quayform.kinds.base import Ctx, Kind
from quayform.errors import TargetUnavailable
from quayform.kinds.postgres.catalog import catalog_script, parse_catalog
from quayform.kinds.postgres.sql import MARKER
from quayform.targets import PgTarget, engine_target

SERVER_TIMEOUT = 120.0


def server_target(spec: Any, key: str, name_of: Any) -> PgTarget:
    """The target of every object on server `key` (equal for users and databases, so they share a session)."""
    server = spec.postgres[key]
    return PgTarget(key, name_of(Address("containers", server.container)), server.admin_user,
                    server.admin_database, server.exec_user, _engine_of(spec, server.container),
                    tuple(sorted({d.name or k for k, d in spec.databases.items() if d.server == key})))


def _engine_of(spec: Any, container: str) -> Any:
    """A server follows its container's engine."""
    item = spec.containers.get(container)
    return engine_target(spec, item.engine if item is not None else "default")


def check_servers(spec: Any, report: Any) -> None:
    for key, server in spec.postgres.items():
        if server.container not in spec.containers:
            report(("postgres", key, "container"), f"runs in containers.{server.container}, which is not in the spec")


def role_name(spec: Any, ctx: Ctx, key_or_name: str) -> str:
    """A role named in the spec by its users key, or by its name (a role the spec does not manage)."""
    return ctx.name_of(Address("users", key_or_name)) if key_or_name in spec.users else key_or_name


def database_owner(spec: Any, ctx: Ctx, key: str) -> str:
    """The owner of databases.KEY: its owner's name, or its server's admin."""
    database = spec.databases[key]
    return ctx.name_of(Address("users", database.owner)) if database.owner else spec.postgres[database.server].admin_user


def schema_place(spec: Any, ctx: Ctx, key: str) -> tuple[str, str, str]:
    """(database name, schema name, owner name) of schemas.KEY; the owner defaults to its database's."""
    schema = spec.schemas[key]
    owner = ctx.name_of(Address("users", schema.owner)) if schema.owner else database_owner(spec, ctx, schema.database)
    return ctx.name_of(Address("databases", schema.database)), ctx.name_of(Address("schemas", key)), owner


NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated by the server
RESERVED_ROLES = ("public", "none", "current_user", "session_user", "current_role")
RESERVED_DATABASES = ("template0", "template1")


def check_names(kind: Any, spec: Any, report: Any) -> None:
    """Names the server would truncate, refuse, or that would make quayform manage what it runs as."""
    for key in kind.items(spec):
        name = kind.name_of(spec, key)
        where = (kind.section, key, "name") if kind.item(spec, key).name else (kind.section, key)
        size = len(name.encode("utf-8"))
        if "\0" in name:
            report(where, f"{name!r} contains a NUL character, which PostgreSQL names cannot hold")
        elif size > NAME_BYTES:
            report(where, f"{name!r} is {size} bytes long in UTF-8; PostgreSQL names are at most {NAME_BYTES} "
                          "bytes (the server would cut it short)")
        for problem in kind.name_problems(spec, key, name):
            report(where, problem)


def marker(stack: str, address: Address, prevent_destroy: bool = False, on_drop: Any = None) -> str:
    """The COMMENT that marks a role, database or schema as this stack's (guarded, and a role's drop policy)."""
    text = f"{MARKER}{stack}:{address}" + (":prevent_destroy" if prevent_destroy else "")
    if on_drop == "refuse":
        text += ":on_drop=refuse"
    elif isinstance(on_drop, dict):
        text += f":on_drop=reassign_to={on_drop['reassign_to']}"
    return text


def read_marker(comment: str | None) -> tuple[str | None, Address | None, bool]:
    """(stack, address, guarded) from a COMMENT; (None, None, False) when it is not quayform's."""
    if not comment or not comment.startswith(MARKER):
        return None, None, False
    stack, _, rest = comment[len(MARKER):].partition(":")
    address_text, _, flags = rest.partition(":")
    try:
        address = Address.parse(address_text)
    except ValueError:
        address = None
    return stack, address, flags == "prevent_destroy" or flags.startswith("prevent_destroy:")


def read_on_drop(comment: str | None) -> Any:
    """A role's drop policy from its marker: None (to the admin), "refuse" or {"reassign_to": name}."""
    owner, address, _ = read_marker(comment)
    if owner is None or address is None:
        return None
    _, found, policy = (comment or "").partition(":on_drop=")
    if not found:
        return None
    if policy == "refuse":
        return "refuse"
    return {"reassign_to": policy.removeprefix("reassign_to=")}


def catalog(session: Any) -> dict[str, Any]:
    """Roles, databases, privileges and what is inside the declared databases: one psql run, once per session."""
    return session.memo("catalog", lambda: parse_catalog(session.run(catalog_script(session.server.databases))))


def server_versions(kind: Any, connections: Any, spec: Any, ctx: Ctx) -> dict[str, int]:
    """server_version_num of every server that can be read now (from the catalog read: no extra psql run)."""
    versions = {}
    for target in kind.targets(spec, ctx):
        try:
            versions[target.key] = catalog(connections.get(target)).get("version")
        except TargetUnavailable:
            continue
    return versions


class PgKind(Kind):
    """A kind whose objects live on a PostgreSQL server of the spec."""

    def default_name(self, stack: str, key: str) -> str:
        return key

    def name_problems(self, spec: Any, key: str, name: str) -> list[str]:
        return []

    def server_of(self, spec: Any, key: str) -> str:
        return self.item(spec, key).server

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return ("postgres", self.server_of(spec, key))

    def targets(self, spec: Any, ctx: Ctx) -> Iterable[Hashable]:
        return [server_target(spec, key, ctx.name_of) for key in spec.postgres]

    def target_of(self, spec: Any, key: str, ctx: Ctx) -> PgTarget:
        return server_target(spec, self.server_of(spec, key), ctx.name_of)

    def uses(self, form: Any, target: Hashable) -> Iterable[tuple[str, str]]:
        yield "containers", target.container  # dropped while its server still runs

    def clash(self, address: Address, other: LiveObject, stack: str) -> str:
        return f"{address}: {self.noun} {other.name!r} on {other.target} is managed by another stack ({other.owner})"

    def live_object(self, name: str, comment: str | None, stack: str, target: Hashable, form: dict[str, Any],
                    payload: Any = None) -> LiveObject:
        owner, address, guarded = read_marker(comment)
        mine = owner == stack and address is not None and address.kind == self.section
        return LiveObject(self.section, address if mine else None, name, name, form, payload, owner, guarded, target)

    def session(self, change: Any, connection: Any) -> Any:
        """The server's session once it accepts connections (it may have just been started)."""
        connection.wait_ready(SERVER_TIMEOUT)
        return connection
