"""SQL for PostgreSQL objects, built with quoting only (pure, unit-tested).

Identifiers are always quoted and literals escaped; passwords never reach the server:
quayform computes the SCRAM-SHA-256 verifier itself and sends only that, and detects a
password changed by hand by checking the server's stored verifier.

Creation is written as "ensure": it creates what is missing and then sets every
attribute, so an apply that was interrupted, or that meets a role kept in a volume
from an earlier stack, converges instead of failing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata
from typing import Any, Mapping

from quayform.sensitive import Sensitive

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


def saslprep(password: str) -> str:
    """The password as PostgreSQL and libpq feed it to SCRAM: SASLprep (RFC 4013), PostgreSQL's variant.

    ASCII passwords are used as they are. Otherwise non-ASCII spaces (zero-width space included) map to
    a space, characters "commonly mapped to nothing" (soft hyphen, zero-width joiner...) are dropped and the result is
    NFKC-normalised; if it then holds a prohibited or unassigned character or breaks the
    bidirectional rule, PostgreSQL uses the original password unchanged, and so does this.
    """
    if password.isascii():
        return password
    # Spaces first, as PostgreSQL does: U+200B is in both tables, and PostgreSQL makes it a space.
    mapped = "".join(" " if stringprep.in_table_c12(ch) else "" if stringprep.in_table_b1(ch) else ch
                     for ch in password)
    prepared = unicodedata.normalize("NFKC", mapped)
    if not prepared or any(test(ch) for ch in prepared for test in _PROHIBITED):
        return password
    if any(stringprep.in_table_d1(ch) for ch in prepared):
        if any(stringprep.in_table_d2(ch) for ch in prepared) or not (
                stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            return password
    return prepared


_PROHIBITED = (stringprep.in_table_c12, stringprep.in_table_c21, stringprep.in_table_c22, stringprep.in_table_c3,
               stringprep.in_table_c4, stringprep.in_table_c5, stringprep.in_table_c6, stringprep.in_table_c7,
               stringprep.in_table_c8, stringprep.in_table_c9, stringprep.in_table_a1)


def _normalise_password(password: str) -> bytes:
    return saslprep(password).encode("utf-8")


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


def psql_connect(database: str) -> str:
    r"""A psql `\connect` to any legal database name (quotes, backslashes, `=`, spaces...).

    psql reads a \connect argument like an identifier and takes one holding `=` for a connection
    string, so the name always travels as a libpq connection string (`dbname='...'`, with
    backslash escapes) inside a double-quoted psql argument.
    """
    conninfo = "dbname='" + database.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return '\\connect -reuse-previous=on "' + conninfo.replace('"', '""') + '"'


def _unless_exists(catalog: str, column: str, name: str, statement: str) -> str:
    """psql's \\gexec runs `statement` only if no row of `catalog` has that name."""
    return (f"SELECT {quote_literal(statement)} WHERE NOT EXISTS "
            f"(SELECT 1 FROM {catalog} WHERE {column} = {quote_literal(name)})\n\\gexec\n")


def role_attributes(user: Mapping[str, Any]) -> str:
    flags = [("LOGIN", user["login"]), ("CREATEDB", user["createdb"]), ("CREATEROLE", user["createrole"]),
             ("SUPERUSER", user["superuser"])]
    text = " ".join(flag if on else f"NO{flag}" for flag, on in flags)
    password = user.get("password")
    if isinstance(password, Sensitive):
        # Only the SCRAM verifier reaches the server: the password itself never leaves quayform.
        text += f" PASSWORD {quote_literal(scram_verifier(password.reveal()))}"
    return text


def grant_statements(user: str, database: str, privileges: list[str], owned: bool = False) -> str:
    """Make `user`'s privileges on `database` exactly `privileges` (owners keep theirs)."""
    target = f"DATABASE {quote_ident(database)}"
    lines = [] if owned else [f"REVOKE ALL ON {target} FROM {quote_ident(user)};"]
    if privileges:
        lines.append(f"GRANT {', '.join(privileges)} ON {target} TO {quote_ident(user)};")
    return "\n".join(lines) + "\n"


def _if_database_exists(name: str, body: str) -> str:
    return (f"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = {quote_literal(name)}) AS qf_db \\gset\n"
            f"\\if :qf_db\n{body}\\endif\n")


EXISTED_MARK = "qf:existed"  # what an ensure script prints when the object was there already


def _say_if_exists(catalog: str, column: str, name: str) -> str:
    return f"SELECT {quote_literal(EXISTED_MARK)} WHERE EXISTS (SELECT 1 FROM {catalog} WHERE {column} = {quote_literal(name)});\n"


def ensure_user(user: Mapping[str, Any], marker: str, live_grants: Mapping[str, list[str]] | None = None) -> str:
    """Create the role if missing, set its attributes, comment and database privileges."""
    name = user["name"]
    script = _say_if_exists("pg_roles", "rolname", name)
    script += _unless_exists("pg_roles", "rolname", name, f"CREATE ROLE {quote_ident(name)}")
    script += f"ALTER ROLE {quote_ident(name)} WITH {role_attributes(user)};\n"
    script += f"COMMENT ON ROLE {quote_ident(name)} IS {quote_literal(marker)};\n"
    for database, privileges in sorted(user["grants"].items()):
        script += _if_database_exists(database, _grant_unless_owner(name, database, privileges))
    for database in sorted(set(live_grants or {}) - set(user["grants"])):
        script += _if_database_exists(database, grant_statements(name, database, []))
    return script


def _grant_unless_owner(user: str, database: str, privileges: list[str]) -> str:
    owner_check = (f"SELECT pg_get_userbyid(datdba) = {quote_literal(user)} AS qf_owner FROM pg_database "
                   f"WHERE datname = {quote_literal(database)} \\gset\n")
    return (owner_check + f"\\if :qf_owner\n{grant_statements(user, database, privileges, owned=True)}\\else\n"
            f"{grant_statements(user, database, privileges)}\\endif\n")


def drop_user(name: str, databases: list[str], admin: str = "", depends_in: tuple[str, ...] = (),
              admin_database: str = "") -> str:
    """Revoke the role's database privileges, hand what it owns to the admin, then drop it.

    PostgreSQL refuses to drop a role that still owns a database or objects inside one
    (a kept database's tables, say): in each database where something depends on the role,
    ownership is reassigned to `admin` and its privileges are dropped; the shared objects
    (databases) go the same way from the admin database.
    """
    script = "".join(_if_database_exists(d, grant_statements(name, d, [])) for d in sorted(databases))
    if admin:
        handover = f"REASSIGN OWNED BY {quote_ident(name)} TO {quote_ident(admin)};\nDROP OWNED BY {quote_ident(name)};\n"
        for database in sorted(set(depends_in) - {admin_database}):
            # The database may be gone by now (destroy --databases drops databases before users).
            script += _if_database_exists(database, f"{psql_connect(database)}\n{handover}")
        if admin_database:
            script += f"{psql_connect(admin_database)}\n"
        script += handover
    return script + f"DROP ROLE IF EXISTS {quote_ident(name)};\n"


def ensure_database(database: Mapping[str, Any], marker: str, grants: Mapping[str, list[str]],
                    encoding: str | None = None, locale: str | None = None) -> str:
    """Create the database if missing (owner, encoding, locale), then owner, comment and grants."""
    name, owner = database["name"], database["owner"]
    create = f"CREATE DATABASE {quote_ident(name)} OWNER {quote_ident(owner)}"
    if encoding or locale:
        create += " TEMPLATE template0"
    if encoding:
        create += f" ENCODING {quote_literal(encoding)}"
    if locale:
        create += f" LOCALE {quote_literal(locale)}"
    script = _say_if_exists("pg_database", "datname", name)
    script += _unless_exists("pg_database", "datname", name, create)
    script += f"ALTER DATABASE {quote_ident(name)} OWNER TO {quote_ident(owner)};\n"
    script += f"COMMENT ON DATABASE {quote_ident(name)} IS {quote_literal(marker)};\n"
    for user, privileges in sorted(grants.items()):
        exists = f"SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {quote_literal(user)}) AS qf_role \\gset\n"
        script += exists + f"\\if :qf_role\n{grant_statements(user, name, privileges, owned=user == owner)}\\endif\n"
    return script


def ensure_extensions(database: Mapping[str, Any]) -> str:
    """Run inside the database itself: add the extensions the spec lists (extras are left alone)."""
    lines = [psql_connect(database["name"])]
    lines += [f"CREATE EXTENSION IF NOT EXISTS {quote_ident(e)};" for e in database["extensions"]]
    return "\n".join(lines) + "\n"


def drop_database(name: str) -> str:
    return f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE);\n"


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
    FROM pg_database d WHERE NOT d.datistemplate), '[]'::json),
  'depends', COALESCE((SELECT json_agg(json_build_object('role', r.rolname, 'database', d.datname))
    FROM (SELECT DISTINCT refobjid, dbid FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass) s
    JOIN pg_authid r ON r.oid = s.refobjid JOIN pg_database d ON d.oid = s.dbid), '[]'::json));
"""
