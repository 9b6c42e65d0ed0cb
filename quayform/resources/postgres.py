"""Talking to a PostgreSQL server inside a managed container, with `docker exec` and psql.

SQL always travels on psql's stdin, never in a process's arguments; passwords never
travel at all: quayform computes the SCRAM-SHA-256 verifier itself and sends only
that, and it detects password drift by checking the server's stored verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

import docker
from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter

from quayform.docker_client import describe
from quayform.errors import EngineError, ReadinessError

SCRAM_ITERATIONS = 4096
MARKER = "quayform:"  # prefix of the COMMENT that marks a role or database as managed


def quote_ident(name: str) -> str:
    """A SQL identifier, always quoted, so any name (a"b, Upper, select) is taken literally."""
    if "\0" in name:
        raise ValueError("a PostgreSQL name cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings is forced on for every session)."""
    if "\0" in value:
        raise ValueError("a PostgreSQL string cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


def _normalise_password(password: str) -> bytes:
    # PostgreSQL applies SASLprep; NFKC is its core, and ASCII passwords are unchanged by it.
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", _normalise_password(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The `SCRAM-SHA-256$iter:salt$StoredKey:ServerKey` text PostgreSQL stores for a password."""
    salt = salt if salt is not None else os.urandom(16)
    stored, server = _scram_keys(password, salt, iterations)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


def password_matches(password: str, verifier: str | None, role: str) -> bool:
    """True if `verifier` (SCRAM or legacy md5) was made from `password`."""
    if not verifier:
        return False
    if verifier.startswith("md5"):
        return hmac.compare_digest(verifier, "md5" + hashlib.md5((password + role).encode()).hexdigest())
    try:
        method, rest = verifier.split("$", 1)
        params, keys = rest.split("$", 1)
        iterations, salt = params.split(":", 1)
        stored_b64, server_b64 = keys.split(":", 1)
        if method != "SCRAM-SHA-256":
            return False
        stored, server = _scram_keys(password, base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(stored, base64.b64decode(stored_b64)) and hmac.compare_digest(
        server, base64.b64decode(server_b64))


def psql_argument(value: str) -> str:
    """A psql meta-command argument (e.g. for \\connect), single-quoted with psql's escapes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True)
class ServerRef:
    """Where a server lives and how to reach it as its admin."""

    key: str
    container: str  # Docker container name
    admin_user: str
    admin_database: str
    exec_user: str


class PgSession:
    """Runs SQL through psql inside the server's container, as the admin, one exec per script."""

    def __init__(self, api: docker.APIClient, server: ServerRef):
        self.api = api
        self.server = server

    def run(self, sql: str, database: str | None = None) -> str:
        """Run `sql` (stopping at the first error) and return psql's unaligned output."""
        command = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", self.server.admin_user,
                   "-d", database or self.server.admin_database]
        script = "SET standard_conforming_strings = on;\nSET client_min_messages = warning;\n" + sql
        try:
            exec_id = self.api.exec_create(self.server.container, command, stdin=True, user=self.server.exec_user)["Id"]
            sock = self.api.exec_start(exec_id, socket=True)
            raw = getattr(sock, "_sock", sock)
            raw.sendall(script.encode("utf-8"))
            raw.shutdown(socket.SHUT_WR)
            out, err = consume_socket_output((demux_adaptor(*f) for f in frames_iter(sock, tty=False)), demux=True)
            sock.close()
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError as exc:
            raise EngineError(f"postgres.{self.server.key}: cannot run psql in {self.server.container}: "
                              f"{describe(exc)}") from None
        if code != 0:
            message = (err or b"").decode(errors="replace").strip() or f"psql exited with code {code}"
            raise EngineError(f"postgres.{self.server.key} ({self.server.container}): {message}")
        return (out or b"").decode(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the server accepts the admin's connections (a clear error otherwise)."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                self.run("SELECT 1;")
                return
            except EngineError as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise ReadinessError(f"postgres.{self.server.key}: the server in container {self.server.container} "
                                     f"did not accept connections within {timeout:.0f}s: {last}")
            time.sleep(0.5)

    def catalog(self, databases: Iterable[str]) -> dict[str, Any]:
        """Roles, databases, privileges and (per listed database) extensions, in one psql run."""
        script = [CATALOG_SQL]
        for i, name in enumerate(sorted(set(databases))):
            literal = quote_literal(name)
            script.append(
                f"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = {literal} AND datallowconn) AS qf_ok{i} \\gset\n"
                f"\\if :qf_ok{i}\n\\connect {psql_argument(name)}\n"
                f"SELECT json_build_object('extensions_of', {literal}, 'extensions', "
                f"COALESCE((SELECT json_agg(extname ORDER BY extname) FROM pg_extension), '[]'::json));\n\\endif\n")
        result: dict[str, Any] = {"extensions": {}}
        for line in self.run("".join(script)).splitlines():
            if not line.startswith("{"):
                continue
            item = json.loads(line)
            if "extensions_of" in item:
                result["extensions"][item["extensions_of"]] = item["extensions"]
            else:
                result.update(item)
        return result


CATALOG_SQL = """\
SELECT json_build_object(
  'roles', COALESCE((SELECT json_agg(json_build_object(
      'name', r.rolname, 'login', r.rolcanlogin, 'createdb', r.rolcreatedb, 'createrole', r.rolcreaterole,
      'superuser', r.rolsuper, 'verifier', r.rolpassword,
      'comment', shobj_description(r.oid, 'pg_authid')) ORDER BY r.rolname)
    FROM pg_authid r WHERE r.rolname !~ '^pg_'), '[]'::json),
  'databases', COALESCE((SELECT json_agg(json_build_object(
      'name', d.datname, 'owner', pg_get_userbyid(d.datdba), 'encoding', pg_encoding_to_char(d.encoding),
      'collate', d.datcollate, 'ctype', d.datctype, 'acl', d.datacl::text[],
      'comment', shobj_description(d.oid, 'pg_database')) ORDER BY d.datname)
    FROM pg_database d WHERE NOT d.datistemplate), '[]'::json));
"""
