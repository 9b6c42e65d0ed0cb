"""The one catalog read per server: the SQL of that psql run, and the pure helpers that read its rows.

One script, one psql run: the shared catalogs (roles with their attributes, settings and memberships;
databases with PUBLIC's privileges and their settings; what depends on each role) from the admin
database, then, with `\\connect`, each database the spec declares on the server that accepts
connections: its extensions, schemas, the privileges granted on each schema and, counted per schema,
class of object and role, on the tables, sequences and functions in it, and its default privileges.
Every result is one JSON line (jsonb's text has no line breaks; json_agg of rows would).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from quayform.kinds.postgres.sql import psql_connect, quote_literal, setting_value

SHARED_SQL = """\
SELECT json_build_object(
  'version', current_setting('server_version_num')::int,
  'roles', COALESCE((SELECT json_agg(json_build_object(
      'name', r.rolname, 'login', r.rolcanlogin, 'createdb', r.rolcreatedb, 'createrole', r.rolcreaterole,
      'superuser', r.rolsuper, 'inherit', r.rolinherit, 'replication', r.rolreplication,
      'bypassrls', r.rolbypassrls, 'connection_limit', r.rolconnlimit, 'verifier', r.rolpassword,
      'valid_until', CASE WHEN r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity' THEN NULL
                          ELSE to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END,
      'settings', (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0),
      'member_of', (SELECT json_agg(DISTINCT g.rolname ORDER BY g.rolname) FROM pg_auth_members m
                      JOIN pg_authid g ON g.oid = m.roleid WHERE m.member = r.oid),
      'comment', shobj_description(r.oid, 'pg_authid')) ORDER BY r.rolname)
    FROM pg_authid r WHERE r.rolname !~ '^pg_'), '[]'::json),
  'databases', COALESCE((SELECT json_agg(json_build_object(
      'name', d.datname, 'owner', pg_get_userbyid(d.datdba), 'encoding', pg_encoding_to_char(d.encoding),
      'collate', d.datcollate, 'ctype', d.datctype, 'acl', d.datacl::text[],
      'connection_limit', d.datconnlimit, 'allow_connections', d.datallowconn,
      'public', (SELECT json_agg(g.privilege_type ORDER BY g.privilege_type)
                   FROM aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) g WHERE g.grantee = 0),
      'settings', (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = 0 AND s.setdatabase = d.oid),
      'comment', shobj_description(d.oid, 'pg_database')) ORDER BY d.datname)
    FROM pg_database d WHERE NOT d.datistemplate), '[]'::json),
  'depends', COALESCE((SELECT json_agg(json_build_object('role', r.rolname, 'database', d.datname, 'owned', s.owned))
    FROM (SELECT refobjid, dbid, count(*) FILTER (WHERE deptype = 'o') AS owned FROM pg_shdepend
           WHERE refclassid = 'pg_authid'::regclass GROUP BY refobjid, dbid) s
    JOIN pg_authid r ON r.oid = s.refobjid JOIN pg_database d ON d.oid = s.dbid), '[]'::json));
"""

# Inside one database. `o` is every table-like object (tables, partitioned tables, views, materialized
# views, foreign tables: what GRANT ... ON ALL TABLES reaches), sequence and function (not procedure:
# ON ALL FUNCTIONS skips those) in a schema that is not PostgreSQL's own, with its ACL (the default one
# when none was ever set, so a function's EXECUTE for PUBLIC is seen).
INSIDE_SQL = """\
WITH s AS (SELECT oid, nspname, nspowner, nspacl FROM pg_namespace
            WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'),
o AS (SELECT c.relnamespace AS ns, CASE c.relkind WHEN 'S' THEN 'sequences' ELSE 'tables' END AS class,
             c.relowner AS owner,
             COALESCE(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's'::"char" ELSE 'r'::"char" END,
                                           c.relowner)) AS acl
        FROM pg_class c JOIN s ON s.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      UNION ALL
      SELECT p.pronamespace, 'functions', p.proowner, COALESCE(p.proacl, acldefault('f', p.proowner))
        FROM pg_proc p JOIN s ON s.oid = p.pronamespace WHERE p.prokind <> 'p')
SELECT json_build_object('inside', {literal},
  'extensions', COALESCE((SELECT json_agg(json_build_object('name', e.extname, 'version', e.extversion,
      'schema', n.nspname) ORDER BY e.extname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace),
      '[]'::json),
  'schemas', COALESCE((SELECT json_agg(json_build_object('name', s.nspname, 'owner', pg_get_userbyid(s.nspowner),
      'comment', obj_description(s.oid, 'pg_namespace'),
      'grants', (SELECT json_agg(json_build_object(
                   'grantee', CASE WHEN g.grantee = 0 THEN '' ELSE pg_get_userbyid(g.grantee) END,
                   'privilege', g.privilege_type))
                   FROM aclexplode(COALESCE(s.nspacl, acldefault('n', s.nspowner))) g WHERE g.grantee <> s.nspowner))
      ORDER BY s.nspname) FROM s), '[]'::json),
  'objects', COALESCE((SELECT json_agg(x) FROM (SELECT s.nspname AS schema, o.class, pg_get_userbyid(o.owner) AS owner,
      count(*) AS n FROM o JOIN s ON s.oid = o.ns GROUP BY 1, 2, 3) x), '[]'::json),
  'object_grants', COALESCE((SELECT json_agg(x) FROM (SELECT s.nspname AS schema, o.class,
      pg_get_userbyid(g.grantee) AS grantee, g.privilege_type AS privilege, count(*) AS n
      FROM o JOIN s ON s.oid = o.ns, aclexplode(o.acl) g WHERE g.grantee <> o.owner AND g.grantee <> 0
      GROUP BY 1, 2, 3, 4) x), '[]'::json),
  'default_acl', COALESCE((SELECT json_agg(x) FROM (SELECT pg_get_userbyid(a.defaclrole) AS creator,
      n.nspname AS schema, a.defaclobjtype AS class, pg_get_userbyid(g.grantee) AS grantee,
      g.privilege_type AS privilege
      FROM pg_default_acl a JOIN pg_namespace n ON n.oid = a.defaclnamespace, aclexplode(a.defaclacl) g
      WHERE g.grantee <> 0) x), '[]'::json),
  'owned', COALESCE((SELECT json_agg(x) FROM (SELECT pg_get_userbyid(d.refobjid) AS role, count(*) AS n,
      (array_agg(pg_describe_object(d.classid, d.objid, d.objsubid)
                 ORDER BY pg_describe_object(d.classid, d.objid, d.objsubid)))[1:10] AS some
      FROM pg_shdepend d
      WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND d.deptype = 'o'
        AND d.refclassid = 'pg_authid'::regclass
        AND shobj_description(d.refobjid, 'pg_authid') LIKE '%:on!_drop=refuse' ESCAPE '!'
      GROUP BY d.refobjid) x), '[]'::json))::jsonb;
"""


def catalog_script(databases: Iterable[str]) -> str:
    """The whole read: the shared catalogs, then each database that exists and accepts connections."""
    script = [SHARED_SQL]
    for i, name in enumerate(databases):
        literal = quote_literal(name)
        script.append(
            f"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = {literal} AND datallowconn) AS qf_ok{i} \\gset\n"
            f"\\if :qf_ok{i}\n{psql_connect(name)}\n{INSIDE_SQL.replace('{literal}', literal)}\\endif\n")
    return "".join(script)


def parse_catalog(output: str) -> dict[str, Any]:
    """psql's output -> {roles, databases, depends, version, inside: {database: what is inside it}}."""
    result: dict[str, Any] = {"inside": {}}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if "inside" in item:
            result["inside"][item.pop("inside")] = item
        else:
            result.update(item)
    return result


def parse_settings(config: list[str] | None) -> dict[str, Any]:
    """pg_db_role_setting.setconfig (`name=value` texts) -> {name: value as compared}."""
    settings = {}
    for item in config or []:
        name, _, value = item.partition("=")
        settings[name] = setting_value(name, value)
    return settings


def depends_of(role: str, depends: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """{database: how many objects the role owns there} for every database where something depends on it."""
    out: dict[str, int] = {}
    for row in depends:
        if row.get("role") == role:
            out[row["database"]] = out.get(row["database"], 0) + int(row.get("owned") or 0)
    return out
