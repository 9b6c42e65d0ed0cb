"""SQL for PostgreSQL objects, built with quoting only (pure, unit-tested).

Identifiers are always quoted and literals escaped; passwords never reach the server:
quayform computes the SCRAM-SHA-256 verifier itself and sends only that, and detects a
password changed by hand by checking the server's stored verifier.

Creation is written as "ensure": it creates what is missing and then sets every
attribute, so an apply that was interrupted, or that meets a role kept in a volume
from an earlier stack, converges instead of failing. What is exact (privileges,
memberships, settings) is made exact by the server at that moment where it can be: the
REVOKE and RESET statements come from a query run through psql's `\\gexec`, and privileges
are never revoked wholesale before being granted again.
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
from quayform.spec.pg_models import LIST_SETTINGS, SCHEMA_PRIVILEGES

SCRAM_ITERATIONS = 4096
MARKER = "quayform:"  # prefix of the COMMENT that marks a role, database or schema as managed


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
             ("SUPERUSER", user["superuser"]), ("INHERIT", user.get("inherit", True)),
             ("REPLICATION", user.get("replication", False)), ("BYPASSRLS", user.get("bypassrls", False))]
    text = " ".join(flag if on else f"NO{flag}" for flag, on in flags)
    limit = user.get("connection_limit")
    text += f" CONNECTION LIMIT {int(limit) if limit is not None else -1}"
    text += f" VALID UNTIL {quote_literal(user.get('valid_until') or 'infinity')}"
    password = user.get("password")
    if isinstance(password, Sensitive):
        # Only the SCRAM verifier reaches the server: the password itself never leaves quayform.
        text += f" PASSWORD {quote_literal(scram_verifier(password.reveal()))}"
    return text


DATABASE_PRIVILEGES = ("CONNECT", "CREATE", "TEMPORARY")


def exact_privileges(target: str, grantee: str, privileges: list[str], every: tuple[str, ...],
                     revoke: bool = True) -> str:
    """GRANT what is wanted and REVOKE only the rest (never all first: no moment without the wanted ones)."""
    unwanted = [p for p in every if p not in privileges]
    lines = []
    if revoke and unwanted:
        lines.append(f"REVOKE {'ALL' if not privileges else ', '.join(unwanted)} ON {target} FROM {grantee};")
    if privileges:
        lines.append(f"GRANT {', '.join(privileges)} ON {target} TO {grantee};")
    return "".join(line + "\n" for line in lines)


def grant_statements(user: str, database: str, privileges: list[str], owned: bool = False) -> str:
    """Make `user`'s privileges on `database` exactly `privileges` (owners keep theirs)."""
    return exact_privileges(f"DATABASE {quote_ident(database)}", quote_ident(user), privileges, DATABASE_PRIVILEGES,
                            revoke=not owned)


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
    script += settings_statements("ROLE", name, user.get("settings") or {})
    script += membership_statements(name, user.get("member_of") or [])
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


def _when(condition: str, statement: str) -> str:
    """psql's \\gexec runs `statement` only when `condition` holds on the server at that moment."""
    return f"SELECT {quote_literal(statement)} WHERE {condition}\n\\gexec\n"


def _role_oid(name: str) -> str:
    return f"(SELECT oid FROM pg_roles WHERE rolname = {quote_literal(name)})"


def _text_array(items: list[str]) -> str:
    return f"ARRAY[{', '.join(quote_literal(i) for i in items)}]::text[]"


def split_list(text: str) -> list[str]:
    """A list setting as PostgreSQL stores it (`app, "$user", "a""b"`), or as typed, -> its items."""
    pieces, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(ch)
    pieces.append("".join(current))
    items = []
    for piece in (p.strip() for p in pieces):
        if len(piece) >= 2 and piece[0] == piece[-1] == '"':
            piece = piece[1:-1].replace('""', '"')
        items.append(piece)
    return items


def setting_value(name: str, value: Any) -> Any:
    """A setting as compared: a list for the list settings (given as a list or as `a, b`), else text."""
    if name in LIST_SETTINGS:
        return list(value) if isinstance(value, list) else split_list(value)
    return ", ".join(value) if isinstance(value, list) else value


def setting_sql(name: str, value: Any) -> str:
    """A setting's value as SQL: each item of a list setting its own literal, anything else one literal."""
    if name in LIST_SETTINGS:
        return ", ".join(quote_literal(item) for item in setting_value(name, value)) or "''"
    return quote_literal(setting_value(name, value))


def settings_statements(what: str, name: str, settings: Mapping[str, Any]) -> str:
    """`ALTER ROLE|DATABASE name SET` each setting; every other one set on it is RESET (exact)."""
    target = f"{what} {quote_ident(name)}"
    script = "".join(f"ALTER {target} SET {quote_ident(k)} TO {setting_sql(k, v)};\n" for k, v in sorted(settings.items()))
    owner = (f"s.setrole = {_role_oid(name)} AND s.setdatabase = 0" if what == "ROLE" else
             f"s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = {quote_literal(name)})")
    return script + (f"SELECT format({quote_literal(f'ALTER {what} %I RESET %I')}, {quote_literal(name)}, "
                     f"split_part(c, '=', 1)) FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE {owner} "
                     f"AND split_part(c, '=', 1) <> ALL ({_text_array(sorted(settings))})\n\\gexec\n")


def membership_statements(name: str, groups: list[str]) -> str:
    """GRANT each group to the role; REVOKE every other membership it has (exact)."""
    script = "".join(f"GRANT {quote_ident(g)} TO {quote_ident(name)};\n" for g in sorted(groups))
    return script + (f"SELECT format('REVOKE %I FROM %I', g.rolname, {quote_literal(name)}) FROM pg_auth_members m "
                     f"JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = {_role_oid(name)} "
                     f"AND g.rolname <> ALL ({_text_array(sorted(groups))})\n\\gexec\n")


def ensure_database(database: Mapping[str, Any], marker: str, grants: Mapping[str, list[str]],
                    encoding: str | None = None, locale: str | None = None, template: str | None = None,
                    lc_collate: str | None = None, lc_ctype: str | None = None) -> str:
    """Create the database if missing (owner, template, encoding, locale), then set everything else.

    What is inside it (extensions, schema public's privileges for PUBLIC) is `inside_database`;
    connections are refused (allow_connections: false) only at the very end.
    """
    name, owner = database["name"], database["owner"]
    create = f"CREATE DATABASE {quote_ident(name)} OWNER {quote_ident(owner)}"
    if template or encoding or locale or lc_collate or lc_ctype:
        create += f" TEMPLATE {quote_ident(template) if template else 'template0'}"
    for word, value in (("ENCODING", encoding), ("LOCALE", locale), ("LC_COLLATE", lc_collate),
                        ("LC_CTYPE", lc_ctype)):
        if value:
            create += f" {word} {quote_literal(value)}"
    ident = quote_ident(name)
    script = _say_if_exists("pg_database", "datname", name)
    script += _unless_exists("pg_database", "datname", name, create)
    script += f"ALTER DATABASE {ident} OWNER TO {quote_ident(owner)};\n"
    script += f"COMMENT ON DATABASE {ident} IS {quote_literal(marker)};\n"
    limit = database.get("connection_limit")
    script += f"ALTER DATABASE {ident} WITH CONNECTION LIMIT {int(limit) if limit is not None else -1};\n"
    if database.get("allow_connections", True):
        script += f"ALTER DATABASE {ident} WITH ALLOW_CONNECTIONS true;\n"
    public = (database.get("public") or {}).get("database")
    if public is not None:
        script += exact_privileges(f"DATABASE {ident}", "PUBLIC", public, DATABASE_PRIVILEGES)
    script += settings_statements("DATABASE", name, database.get("settings") or {})
    for user, privileges in sorted(grants.items()):
        exists = f"SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {quote_literal(user)}) AS qf_role \\gset\n"
        script += exists + f"\\if :qf_role\n{grant_statements(user, name, privileges, owned=user == owner)}\\endif\n"
    return script


def inside_database(database: Mapping[str, Any], extensions: Mapping[str, Mapping[str, str | None]]) -> str:
    """Run inside the database: its extensions (version, schema), and what PUBLIC may do in schema public.

    `extensions`: name -> {version, schema}, each only if given. A schema an extension names is
    created if missing (owned by the database's owner); extensions not named are left alone.
    """
    public_schema = (database.get("public") or {}).get("public_schema")
    if not extensions and public_schema is None:
        return ""
    script = psql_connect(database["name"]) + "\n"
    for extension, given in sorted(extensions.items()):
        ident, literal = quote_ident(extension), quote_literal(extension)
        version, schema = given.get("version"), given.get("schema")
        if schema:
            script += f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)} AUTHORIZATION {quote_ident(database['owner'])};\n"
        create = f"CREATE EXTENSION IF NOT EXISTS {ident}"
        create += f" SCHEMA {quote_ident(schema)}" if schema else ""
        create += f" VERSION {quote_literal(version)}" if version else ""
        script += create + ";\n"
        if version:
            script += _when(f"EXISTS (SELECT 1 FROM pg_extension WHERE extname = {literal} AND extversion <> "
                            f"{quote_literal(version)})", f"ALTER EXTENSION {ident} UPDATE TO {quote_literal(version)}")
        if schema:
            script += _when(f"EXISTS (SELECT 1 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                            f"WHERE e.extname = {literal} AND n.nspname <> {quote_literal(schema)})",
                            f"ALTER EXTENSION {ident} SET SCHEMA {quote_ident(schema)}")
    if public_schema is not None:
        script += ("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') AS qf_public \\gset\n"
                   f"\\if :qf_public\n{exact_privileges('SCHEMA public', 'PUBLIC', public_schema, SCHEMA_PRIVILEGES)}"
                   "\\endif\n")
    return script


def refuse_connections(name: str) -> str:
    return f"ALTER DATABASE {quote_ident(name)} WITH ALLOW_CONNECTIONS false;\n"


def drop_database(name: str) -> str:
    return f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE);\n"
