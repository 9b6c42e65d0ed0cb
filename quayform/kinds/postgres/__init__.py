"""What PostgreSQL databases and users share: their servers, the catalog read, the ownership marker.

- Servers: the spec's `postgres` section names a server by the container it runs in; its
  objects live on a `PgTarget` and are reached with docker exec (pg_client.PgSession).
- Reading: one psql run per server reads roles, databases, ACLs and the extensions of the
  databases the spec declares on it; users and databases share that read (session memo).
- Ownership: a COMMENT `quayform:<stack>:<address>[:prevent_destroy]` on the role or
  database; an unmarked object whose name the spec uses is adopted.
- Names are the key (or `name:`); a different name is a different object, so a renamed
  user or database leaves its old object behind as an orphan.
"""

from __future__ import annotations

import json
from typing import Any, Hashable, Iterable

from quayform.address import Address
from quayform.changes import LiveObject
from quayform.kinds.base import Ctx, Kind
from quayform.kinds.postgres.sql import CATALOG_SQL, MARKER, psql_connect, quote_literal
from quayform.targets import DEFAULT_ENGINE, PgTarget

SERVER_TIMEOUT = 120.0


def server_target(spec: Any, key: str, name_of: Any) -> PgTarget:
    """The target of every object on server `key` (equal for users and databases, so they share a session)."""
    server = spec.postgres[key]
    return PgTarget(key, name_of(Address("containers", server.container)), server.admin_user,
                    server.admin_database, server.exec_user, DEFAULT_ENGINE,
                    tuple(sorted({d.name or k for k, d in spec.databases.items() if d.server == key})))


def check_servers(spec: Any, report: Any) -> None:
    for key, server in spec.postgres.items():
        if server.container not in spec.containers:
            report(("postgres", key, "container"), f"runs in containers.{server.container}, which is not in the spec")


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


def marker(stack: str, address: Address, prevent_destroy: bool = False) -> str:
    """The COMMENT that marks a role or database as this stack's (and guarded, if it is)."""
    return f"{MARKER}{stack}:{address}" + (":prevent_destroy" if prevent_destroy else "")


def read_marker(comment: str | None) -> tuple[str | None, Address | None, bool]:
    """(stack, address, guarded) from a COMMENT; (None, None, False) when it is not quayform's."""
    if not comment or not comment.startswith(MARKER):
        return None, None, False
    stack, _, rest = comment[len(MARKER):].partition(":")
    address_text, _, flag = rest.partition(":")
    try:
        address = Address.parse(address_text)
    except ValueError:
        address = None
    return stack, address, flag == "prevent_destroy"


def catalog(session: Any) -> dict[str, Any]:
    """Roles, databases, privileges and the declared databases' extensions: one psql run, once per session."""
    return session.memo("catalog", lambda: _read_catalog(session))


def _read_catalog(session: Any) -> dict[str, Any]:
    script = [CATALOG_SQL]
    for i, name in enumerate(session.server.databases):
        literal = quote_literal(name)
        script.append(
            f"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = {literal} AND datallowconn) AS qf_ok{i} \\gset\n"
            f"\\if :qf_ok{i}\n{psql_connect(name)}\n"
            f"SELECT json_build_object('extensions_of', {literal}, 'extensions', "
            f"COALESCE((SELECT json_agg(extname ORDER BY extname) FROM pg_extension), '[]'::json));\n\\endif\n")
    result: dict[str, Any] = {"extensions": {}}
    for line in session.run("".join(script)).splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if "extensions_of" in item:
            result["extensions"][item["extensions_of"]] = item["extensions"]
        else:
            result.update(item)
    return result


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
