"""SQL scripts for databases and users, built with quoting only (pure, unit-tested).

Creation is written as "ensure": it creates what is missing and then sets every
attribute, so an apply that was interrupted, or that meets a role kept in a volume
from an earlier stack, converges instead of failing.
"""

from __future__ import annotations

from typing import Any, Mapping

from quayform.resources.postgres import psql_argument, quote_ident, quote_literal, scram_verifier
from quayform.sensitive import Sensitive


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


def ensure_user(user: Mapping[str, Any], live_grants: Mapping[str, list[str]] | None = None) -> str:
    """Create the role if missing, set its attributes, comment and database privileges."""
    name = user["name"]
    script = _unless_exists("pg_roles", "rolname", name, f"CREATE ROLE {quote_ident(name)}")
    script += f"ALTER ROLE {quote_ident(name)} WITH {role_attributes(user)};\n"
    script += f"COMMENT ON ROLE {quote_ident(name)} IS {quote_literal(user['_marker'])};\n"
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


def drop_user(name: str, databases: list[str]) -> str:
    """Revoke the role's database privileges, then drop it; PostgreSQL refuses if it still owns anything."""
    script = "".join(_if_database_exists(d, grant_statements(name, d, [])) for d in sorted(databases))
    return script + f"DROP ROLE IF EXISTS {quote_ident(name)};\n"


def ensure_database(database: Mapping[str, Any]) -> str:
    """Create the database if missing (owner, encoding, locale), then owner, comment and grants."""
    name, owner = database["name"], database["owner"]
    create = f"CREATE DATABASE {quote_ident(name)} OWNER {quote_ident(owner)}"
    if database.get("_encoding") or database.get("_locale"):
        create += " TEMPLATE template0"
    if database.get("_encoding"):
        create += f" ENCODING {quote_literal(database['_encoding'])}"
    if database.get("_locale"):
        create += f" LOCALE {quote_literal(database['_locale'])}"
    script = _unless_exists("pg_database", "datname", name, create)
    script += f"ALTER DATABASE {quote_ident(name)} OWNER TO {quote_ident(owner)};\n"
    script += f"COMMENT ON DATABASE {quote_ident(name)} IS {quote_literal(database['_marker'])};\n"
    for user, privileges in sorted(database.get("_grants", {}).items()):
        exists = f"SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {quote_literal(user)}) AS qf_role \\gset\n"
        script += exists + f"\\if :qf_role\n{grant_statements(user, name, privileges, owned=user == owner)}\\endif\n"
    return script


def ensure_extensions(database: Mapping[str, Any]) -> str:
    """Run inside the database itself: add the extensions the spec lists (extras are left alone)."""
    lines = [f"\\connect {psql_argument(database['name'])}"]
    lines += [f"CREATE EXTENSION IF NOT EXISTS {quote_ident(e)};" for e in database["extensions"]]
    return "\n".join(lines) + "\n"


def drop_database(name: str) -> str:
    return f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE);\n"
