"""Issue 13 on a real PostgreSQL server: PUBLIC's privileges, schemas, privileges on what is inside them,
default privileges, memberships, role and database attributes, settings, extension versions and drop
policies. Each is set, applied, planned again as no change, drifted by hand with psql (the next plan
names the exact attribute and apply repairs it) and taken out of the spec (revoked); logins prove that
the privileges mean what the plan says."""

from __future__ import annotations

import pytest

from quayform.errors import PlanError
from tests.integration.helpers import Stack, actions, changed_paths, converged
from tests.integration.test_hardening_postgres import ADMIN_PW, destroy, lines, psql, server_on_volume, server_with

pytestmark = pytest.mark.docker

PW = "login-pw"


def change_of(plan, address: str):
    return next(c for c in plan.changes if str(c.address) == address)


def attribute(plan, address: str, path: str):
    return next(a for a in change_of(plan, address).attributes if a.path == path)


def differing_keys(plan, address: str) -> list[str]:
    """changed_paths, with a whole mapping shown as one change spelled out per key that differs.

    diff.py's DeepDiff reports a mapping as one value when few of its keys are common to both sides
    (its threshold_to_diff_deeper), e.g. when every privilege of a role is revoked at once.
    """
    out = []
    for a in change_of(plan, address).attributes:
        if "." not in a.path and isinstance(a.before or {}, dict) and isinstance(a.after or {}, dict):
            before, after = a.before or {}, a.after or {}
            out += [f"{a.path}.{k}" for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        else:
            out.append(a.path)
    return sorted(out)


def stack_with(tmp_path, stack: str, body: str, *secrets: str) -> Stack:
    extra = "".join(f"  {name}: {{env: PW}}\n" for name in secrets)
    return Stack(tmp_path, stack, {"PG_ADMIN": ADMIN_PW, "PW": PW}).write(server_with(extra, body))


def denied(result) -> bool:
    return result.returncode != 0 and "permission denied" in result.stderr


# --- PUBLIC's privileges on a database and in its schema public ------------------------------------

PUBLIC_BODY = """\
databases:
  closed: {server: main, public: {database: [], public_schema: []}}
  open: {server: main, public: {public_schema: [USAGE, CREATE]}}
users:
  outsider: {server: main, password: "${secrets.outsider}"}
  member: {server: main, password: "${secrets.member}", grants: {closed: [CONNECT]}}
"""


def test_public_connect_and_schema_public_are_exact_per_database(tmp_path, stack) -> None:
    spec = stack_with(tmp_path, stack, PUBLIC_BODY, "outsider", "member")
    spec.apply()
    server = f"{stack}-pgsql"
    assert converged(spec.plan())
    refused = psql(server, "select 1", "outsider", "closed", PW, check=False)
    assert refused.returncode != 0 and "permission denied for database" in refused.stderr
    assert psql(server, "select 1", "outsider", "open", PW).stdout.strip() == "1"
    assert psql(server, "select 1", "member", "closed", PW).stdout.strip() == "1"
    # schema public of `closed` gives PUBLIC nothing; of `open`, CREATE as PostgreSQL 14 did
    assert denied(psql(server, "create table public.t (x int)", "member", "closed", PW, check=False))
    psql(server, "create table public.mine (x int)", "outsider", "open", PW)

    psql(server, "GRANT CONNECT ON DATABASE closed TO PUBLIC")
    psql(server, "REVOKE CREATE ON SCHEMA public FROM PUBLIC", db="open")
    plan = spec.plan()
    assert actions(plan) == {"databases.closed": "~", "databases.open": "~"}
    assert changed_paths(plan, "databases.closed") == ["public.database"]
    assert attribute(plan, "databases.closed", "public.database").before == ["CONNECT"]
    assert changed_paths(plan, "databases.open") == ["public.public_schema"]
    spec.apply()
    assert converged(spec.plan())
    assert psql(server, "select 1", "outsider", "closed", PW, check=False).returncode != 0

    # Out of the spec: PostgreSQL's defaults come back (CONNECT and TEMPORARY; schema public: USAGE on 15)
    spec.write(server_with("  outsider: {env: PW}\n  member: {env: PW}\n", PUBLIC_BODY.replace(
        ", public: {database: [], public_schema: []}", "").replace(", public: {public_schema: [USAGE, CREATE]}", "")))
    plan = spec.plan()
    assert changed_paths(plan, "databases.closed") == ["public.database", "public.public_schema"]
    assert attribute(plan, "databases.closed", "public.database").after == ["CONNECT", "TEMPORARY"]
    assert changed_paths(plan, "databases.open") == ["public.public_schema"]
    spec.apply()
    assert converged(spec.plan())
    assert psql(server, "select 1", "outsider", "closed", PW).stdout.strip() == "1"
    assert denied(psql(server, "create table public.again (x int)", "outsider", "open", PW, check=False))


# --- schemas and the privileges on what is inside them ---------------------------------------------

SCHEMA_BODY = """\
databases:
  app: {server: main, owner: app}
users:
  app: {server: main, password: "${secrets.app}"}
  reader:
    server: main
    password: "${secrets.reader}"
    grants: {app: [CONNECT]}
    privileges: {reporting: {schema: [USAGE], tables: [SELECT]}}
  writer:
    server: main
    password: "${secrets.writer}"
    grants: {app: [CONNECT]}
    privileges: {reporting: {schema: [USAGE], tables: [SELECT, INSERT, UPDATE, DELETE], sequences: [USAGE, SELECT]}}
schemas:
  reporting: {server: main, database: app, owner: app}
"""
SCHEMA_SECRETS = ("app", "reader", "writer")


def test_schema_and_privileges_on_all_tables_are_exact_and_mean_what_the_plan_says(tmp_path, stack) -> None:
    spec = stack_with(tmp_path, stack, SCHEMA_BODY, *SCHEMA_SECRETS)
    plan = spec.plan()
    assert actions(plan)["schemas.reporting"] == "+"
    assert change_of(plan, "schemas.reporting").after == {"name": "app.reporting", "owner": "app", "owned_by": stack}
    spec.apply()
    server = f"{stack}-pgsql"
    assert converged(spec.plan())  # no tables yet: nothing to grant on them counts as granted
    assert lines(psql(server, "select nspowner::regrole from pg_namespace where nspname = 'reporting'", db="app")) \
        == ["app"]

    # Tables made by hand after the apply are not granted yet: the plan says so, per role and class
    psql(server, "create table reporting.t (id serial, x int); insert into reporting.t (x) values (1);",
         "app", "app", PW)
    plan = spec.plan()
    assert actions(plan) == {"users.reader": "~", "users.writer": "~"}
    assert changed_paths(plan, "users.reader") == ["privileges.tables in app.reporting"]
    assert changed_paths(plan, "users.writer") == ["privileges.sequences in app.reporting",
                                                   "privileges.tables in app.reporting"]
    spec.apply()
    assert converged(spec.plan())
    assert psql(server, "select x from reporting.t", "reader", "app", PW).stdout.strip() == "1"
    assert denied(psql(server, "insert into reporting.t (x) values (2)", "reader", "app", PW, check=False))
    psql(server, "insert into reporting.t (x) values (3)", "writer", "app", PW)  # its sequence too

    # A privilege granted by hand on one table of two is drift, shown as partial
    psql(server, "create table reporting.u (y int)", "app", "app", PW)
    psql(server, "GRANT SELECT, INSERT ON reporting.t TO reader; GRANT SELECT ON reporting.u TO reader", db="app")
    plan = spec.plan()
    assert changed_paths(plan, "users.reader") == ["privileges.tables in app.reporting"]
    change = attribute(plan, "users.reader", "privileges.tables in app.reporting")
    assert (change.before, change.after) == (["INSERT (on 1 of 2)", "SELECT"], ["SELECT"])
    assert changed_paths(plan, "users.writer") == ["privileges.tables in app.reporting"]  # u is new to it
    spec.apply()
    assert converged(spec.plan())
    assert denied(psql(server, "insert into reporting.t (x) values (4)", "reader", "app", PW, check=False))
    # the owner's own privileges were never touched by the revokes
    psql(server, "insert into reporting.u values (1)", "app", "app", PW)

    # The schema's owner changed by hand is put back
    psql(server, "ALTER SCHEMA reporting OWNER TO postgres", db="app")
    plan = spec.plan()
    assert actions(plan) == {"schemas.reporting": "~"} and changed_paths(plan, "schemas.reporting") == ["owner"]
    spec.apply()
    assert converged(spec.plan())

    # Out of the spec: the writer's privileges are revoked, it cannot even use the schema
    spec.write(server_with("".join(f"  {s}: {{env: PW}}\n" for s in SCHEMA_SECRETS), SCHEMA_BODY.replace(
        "    privileges: {reporting: {schema: [USAGE], tables: [SELECT, INSERT, UPDATE, DELETE], "
        "sequences: [USAGE, SELECT]}}\n", "")))
    plan = spec.plan()
    assert differing_keys(plan, "users.writer") == ["privileges.schema app.reporting",
                                                   "privileges.sequences in app.reporting",
                                                   "privileges.tables in app.reporting"]
    spec.apply()
    assert converged(spec.plan())
    assert denied(psql(server, "select 1 from reporting.t", "writer", "app", PW, check=False))


READER_BODY = SCHEMA_BODY[:SCHEMA_BODY.index("  writer:")] + SCHEMA_BODY[SCHEMA_BODY.index("schemas:"):]
DEFAULTS_BODY = READER_BODY.replace(
    "    privileges: {reporting: {schema: [USAGE], tables: [SELECT]}}\n",
    "    privileges: {reporting: {schema: [USAGE], tables: [SELECT], sequences: [SELECT]}}\n"
    "    default_privileges: {reporting: {tables: [SELECT], sequences: [SELECT]}}\n")


def test_default_privileges_reach_tables_the_owner_creates_later(tmp_path, stack) -> None:
    spec = stack_with(tmp_path, stack, DEFAULTS_BODY, *SCHEMA_SECRETS)
    spec.apply()
    server = f"{stack}-pgsql"
    assert converged(spec.plan())
    psql(server, "create table reporting.later (x int); insert into reporting.later values (5);", "app", "app", PW)
    assert psql(server, "select x from reporting.later", "reader", "app", PW).stdout.strip() == "5"
    assert converged(spec.plan())  # what the default gave is what privileges asks for

    key = "default_privileges.tables created by app in app.reporting"
    psql(server, "ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA reporting REVOKE SELECT ON TABLES FROM reader",
         db="app")
    plan = spec.plan()
    assert actions(plan) == {"users.reader": "~"} and changed_paths(plan, "users.reader") == [key]
    assert attribute(plan, "users.reader", key).before is None
    spec.apply()
    assert converged(spec.plan())
    psql(server, "create table reporting.later2 (x int)", "app", "app", PW)
    assert psql(server, "select count(*) from reporting.later2", "reader", "app", PW).stdout.strip() == "0"

    # Out of the spec: tables made later are not granted any more, and the plan says which are not
    spec.write(server_with("".join(f"  {s}: {{env: PW}}\n" for s in SCHEMA_SECRETS), READER_BODY))
    plan = spec.plan()
    assert differing_keys(plan, "users.reader") == ["default_privileges.sequences created by app in app.reporting", key]
    spec.apply()
    psql(server, "create table reporting.after (x int)", "app", "app", PW)
    assert denied(psql(server, "select 1 from reporting.after", "reader", "app", PW, check=False))
    plan = spec.plan()
    assert attribute(plan, "users.reader", "privileges.tables in app.reporting").before == ["SELECT (on 2 of 3)"]


# --- membership ------------------------------------------------------------------------------------

MEMBERS_BODY = """\
databases:
  app: {server: main, owner: app}
users:
  app: {server: main, password: "${secrets.app}"}
  readonly:
    server: main
    login: false
    grants: {app: [CONNECT]}
    privileges: {data: {schema: [USAGE], tables: [SELECT]}}
  readwrite:
    server: main
    login: false
    member_of: [readonly]
    privileges: {data: {tables: [INSERT]}}
  alice: {server: main, password: "${secrets.alice}", member_of: [readwrite]}
  bob: {server: main, password: "${secrets.bob}", member_of: [readonly], inherit: false}
schemas:
  data: {database: app, owner: app}
"""
MEMBERS_SECRETS = ("app", "alice", "bob")


def test_membership_gives_the_groups_privileges_and_is_exact(tmp_path, stack) -> None:
    spec = stack_with(tmp_path, stack, MEMBERS_BODY, *MEMBERS_SECRETS)
    spec.apply()
    server = f"{stack}-pgsql"
    psql(server, "create table data.t (x int); insert into data.t values (1);", "app", "app", PW)
    spec.apply()  # grant on the table made by hand
    assert converged(spec.plan())
    # alice is in readwrite, which is in readonly: she reads and writes through both groups
    assert psql(server, "select x from data.t", "alice", "app", PW).stdout.strip() == "1"
    psql(server, "insert into data.t values (2)", "alice", "app", PW)
    # bob does not inherit: only SET ROLE gives him the group's privileges
    assert denied(psql(server, "select x from data.t", "bob", "app", PW, check=False))
    assert psql(server, "set role readonly; select count(*) from data.t", "bob", "app", PW).stdout.strip() == "2"

    psql(server, "REVOKE readwrite FROM alice; GRANT pg_monitor TO alice; ALTER ROLE bob INHERIT")
    plan = spec.plan()
    assert actions(plan) == {"users.alice": "~", "users.bob": "~"}
    assert changed_paths(plan, "users.alice") == ["member_of"]
    assert attribute(plan, "users.alice", "member_of").before == ["pg_monitor"]
    assert changed_paths(plan, "users.bob") == ["inherit"]
    spec.apply()
    assert converged(spec.plan())
    assert psql(server, "select count(*) from data.t", "alice", "app", PW).stdout.strip() == "2"
    assert psql(server, "select pg_has_role('alice', 'pg_monitor', 'member')").stdout.strip() == "f"

    spec.write(server_with("".join(f"  {s}: {{env: PW}}\n" for s in MEMBERS_SECRETS),
                           MEMBERS_BODY.replace(", member_of: [readwrite]", "")))
    assert changed_paths(spec.plan(), "users.alice") == ["member_of"]
    spec.apply()
    assert converged(spec.plan())
    assert denied(psql(server, "select x from data.t", "alice", "app", PW, check=False))


# --- role attributes and settings ----------------------------------------------------------------

ROLE_BODY = """\
databases:
  app: {server: main}
users:
  tuned:
    server: main
    password: "${secrets.tuned}"
    grants: {app: [CONNECT]}
    connection_limit: 2
    valid_until: "2031-01-01"
    replication: true
    bypassrls: true
    createdb: true
    settings: {search_path: "app, \\"$user\\"", statement_timeout: 5s}
  expired: {server: main, password: "${secrets.expired}", grants: {app: [CONNECT]}, valid_until: "2001-01-01T00:00:00+02:00"}
"""


def test_role_attributes_and_settings_are_applied_compared_and_reset(tmp_path, stack) -> None:
    spec = stack_with(tmp_path, stack, ROLE_BODY, "tuned", "expired")
    spec.apply()
    server = f"{stack}-pgsql"
    assert converged(spec.plan())
    row = psql(server, "select rolconnlimit, rolvaliduntil at time zone 'UTC', rolreplication, rolbypassrls, "
                       "rolcreatedb from pg_roles where rolname = 'tuned'")
    assert row.stdout.strip() == "2|2031-01-01 00:00:00|t|t|t"
    shown = psql(server, "show search_path; show statement_timeout", "tuned", "app", PW)
    assert lines(shown) == ['app, "$user"', "5s"]
    refused = psql(server, "select 1", "expired", "app", PW, check=False)
    assert refused.returncode != 0 and "password authentication failed" in refused.stderr

    psql(server, "ALTER ROLE tuned CONNECTION LIMIT 9 VALID UNTIL '2040-01-01' NOBYPASSRLS; "
                 "ALTER ROLE tuned SET statement_timeout = '1s'; ALTER ROLE tuned SET work_mem = '8MB'")
    plan = spec.plan()
    assert actions(plan) == {"users.tuned": "~"}
    assert changed_paths(plan, "users.tuned") == ["bypassrls", "connection_limit", "settings.statement_timeout",
                                                  "settings.work_mem", "valid_until"]
    assert attribute(plan, "users.tuned", "valid_until").before == "2040-01-01T00:00:00Z"
    spec.apply()
    assert converged(spec.plan())
    assert lines(psql(server, "show statement_timeout; show work_mem", "tuned", "app", PW)) == ["5s", "4MB"]

    spec.write(server_with("  tuned: {env: PW}\n  expired: {env: PW}\n", """\
databases:
  app: {server: main}
users:
  tuned: {server: main, password: "${secrets.tuned}", grants: {app: [CONNECT]}}
  expired: {server: main, password: "${secrets.expired}", grants: {app: [CONNECT]}}
"""))
    plan = spec.plan()
    assert differing_keys(plan, "users.tuned") == ["bypassrls", "connection_limit", "createdb", "replication",
                                                  "settings.search_path", "settings.statement_timeout",
                                                  "valid_until"]
    assert changed_paths(plan, "users.expired") == ["valid_until"]
    spec.apply()
    assert converged(spec.plan())
    assert psql(server, "select 1", "expired", "app", PW).stdout.strip() == "1"
    row = psql(server, "select rolconnlimit, rolreplication, (select count(*) from pg_db_role_setting s "
                       "where s.setrole = r.oid) from pg_roles r where rolname = 'tuned'")
    assert row.stdout.strip() == "-1|f|0"


# --- database attributes, settings, extension versions and schemas --------------------------------------

DATABASE_BODY = """\
databases:
  app:
    server: main
    template: template0
    lc_collate: C
    lc_ctype: C
    connection_limit: 5
    settings: {work_mem: 16MB}
    extensions: {pg_trgm: {version: "1.5", schema: ext}, "uuid-ossp": }
  shut: {server: main, allow_connections: false}
"""


def test_database_attributes_extension_version_and_schema(tmp_path, stack) -> None:
    spec = stack_with(tmp_path, stack, DATABASE_BODY)
    spec.apply()
    server = f"{stack}-pgsql"
    assert converged(spec.plan())
    row = psql(server, "select datname, datcollate, datctype, datconnlimit, datallowconn from pg_database "
                       "where datname = 'app' or datname = 'shut' order by datname")
    assert [r.split("|")[0:1] + r.split("|")[3:] for r in lines(row)] == [["app", "5", "t"], ["shut", "-1", "f"]]
    assert lines(row)[0].startswith("app|C|C|")
    assert lines(psql(server, "select extname, extversion, extnamespace::regnamespace from pg_extension "
                              "where extname <> 'plpgsql' order by 1", db="app")) == ["pg_trgm|1.5|ext",
                                                                                     "uuid-ossp|1.1|public"]
    assert lines(psql(server, "show work_mem", db="app")) == ["16MB"]
    refused = psql(server, "select 1", db="shut", check=False)
    assert refused.returncode != 0 and "not currently accepting connections" in refused.stderr

    psql(server, "ALTER DATABASE app CONNECTION LIMIT 7; ALTER DATABASE app SET work_mem = '1MB'; "
                 "ALTER DATABASE shut ALLOW_CONNECTIONS true")
    psql(server, "ALTER EXTENSION pg_trgm SET SCHEMA public", db="app")
    plan = spec.plan()
    assert actions(plan) == {"databases.app": "~", "databases.shut": "~"}
    assert changed_paths(plan, "databases.app") == ["connection_limit", "extension_schemas.pg_trgm", "settings.work_mem"]
    assert changed_paths(plan, "databases.shut") == ["allow_connections"]
    spec.apply()
    assert converged(spec.plan())
    assert psql(server, "select 1", db="shut", check=False).returncode != 0

    # A newer version is an update in place; a collation is held (PostgreSQL cannot change it)
    spec.path.write_text(spec.path.read_text().replace('version: "1.5"', 'version: "1.6"').replace(
        "lc_collate: C", "lc_collate: en_US.utf8"))
    plan = spec.plan()
    assert changed_paths(plan, "databases.app") == ["extension_versions.pg_trgm", "lc_collate"]
    assert attribute(plan, "databases.app", "lc_collate").held
    spec.apply()
    assert lines(psql(server, "select extversion from pg_extension where extname = 'pg_trgm'", db="app")) == ["1.6"]
    again = spec.plan()
    assert again.changes == [] and [str(k.address) for k in again.kept] == ["databases.app"]

    # Out of the spec: the limit, the setting and allow_connections go back to PostgreSQL's defaults
    spec.write(server_with("", "databases:\n  app: {server: main, extensions: [pg_trgm, uuid-ossp]}\n"
                               "  shut: {server: main}\n"))
    plan = spec.plan()
    assert differing_keys(plan, "databases.app") == ["connection_limit", "settings.work_mem"]
    assert changed_paths(plan, "databases.shut") == ["allow_connections"]
    spec.apply()
    assert converged(spec.plan())
    assert psql(server, "select 1", db="shut").stdout.strip() == "1"


# --- dropping a role that owns something ---------------------------------------------------------

DROP_BODY = """\
databases:
  keep: {server: main}
users:
  heir: {server: main, grants: {keep: [CONNECT]}}
  careful: {server: main, grants: {keep: [CONNECT, CREATE]}, on_drop: refuse}
  leaving: {server: main, grants: {keep: [CONNECT, CREATE]}, on_drop: {reassign_to: heir}}
"""


def test_on_drop_refuse_lists_what_it_owns_and_reassign_to_hands_it_over(tmp_path, stack) -> None:
    spec = stack_with(tmp_path, stack, DROP_BODY)
    spec.apply()
    server = f"{stack}-pgsql"
    assert converged(spec.plan())
    psql(server, "SET ROLE careful; CREATE SCHEMA careful_s; CREATE TABLE careful_s.rows (x int);", db="keep")
    psql(server, "SET ROLE leaving; CREATE SCHEMA leaving_s; CREATE TABLE leaving_s.left_behind (x int);", db="keep")

    spec.write(server_with("", DROP_BODY.replace(
        "  careful: {server: main, grants: {keep: [CONNECT, CREATE]}, on_drop: refuse}\n", "")))
    with pytest.raises(PlanError) as refused:
        spec.plan()
    message = str(refused.value)
    assert "users.careful" in message and "`refuse`" in message
    assert "schema careful_s" in message and "table careful_s.rows" in message and '"keep"' in message
    assert "users.leaving" not in message

    # Handed over by hand, it is dropped like any other
    psql(server, "REASSIGN OWNED BY careful TO postgres", db="keep")
    plan = spec.plan()
    assert actions(plan) == {"users.careful": "-"}
    spec.apply()

    spec.write(server_with("", DROP_BODY.replace(
        "  careful: {server: main, grants: {keep: [CONNECT, CREATE]}, on_drop: refuse}\n", "").replace(
        "  leaving: {server: main, grants: {keep: [CONNECT, CREATE]}, on_drop: {reassign_to: heir}}\n", "")))
    plan = spec.plan()
    assert actions(plan) == {"users.leaving": "-"}
    assert "goes to heir first" in str(plan.changes[0].reason)
    spec.apply()
    assert lines(psql(server, "select tableowner from pg_tables where tablename = 'left_behind'", db="keep")) == ["heir"]
    assert psql(server, "select count(*) from pg_roles where rolname in ('careful', 'leaving')").stdout.strip() == "0"
    assert converged(spec.plan())


def test_a_changed_drop_policy_is_recorded_on_the_role(tmp_path, stack) -> None:
    spec = stack_with(tmp_path, stack, DROP_BODY)
    spec.apply()
    server = f"{stack}-pgsql"
    spec.path.write_text(spec.path.read_text().replace("on_drop: refuse", "on_drop: {reassign_to: heir}"))
    plan = spec.plan()
    assert changed_paths(plan, "users.careful") == ["on_drop"]
    spec.apply()
    comment = psql(server, "select shobj_description(oid, 'pg_authid') from pg_roles where rolname = 'careful'")
    assert comment.stdout.strip().endswith(":users.careful:on_drop=reassign_to=heir")
    assert converged(spec.plan())


# --- one catalog read, kept schemas, destroy ------------------------------------------------------------


def test_a_plan_reads_the_server_with_one_psql_run(tmp_path, stack, monkeypatch) -> None:
    from quayform.pg_client import PgSession

    spec = stack_with(tmp_path, stack, SCHEMA_BODY.replace("databases:\n", "databases:\n  other: {server: main}\n"),
                      *SCHEMA_SECRETS)
    spec.apply()
    runs: list[str] = []
    original = PgSession.run

    def counting(self, sql: str, database: str | None = None) -> str:
        runs.append(self.server.key)
        return original(self, sql, database)

    monkeypatch.setattr(PgSession, "run", counting)
    assert converged(spec.plan())
    assert runs == ["main"]  # roles, databases and what is inside both databases: one run


def test_a_schema_out_of_the_spec_is_kept_and_destroy_databases_drops_everything(tmp_path, stack, engine) -> None:
    spec = stack_with(tmp_path, stack, SCHEMA_BODY, *SCHEMA_SECRETS)
    spec.apply()
    server = f"{stack}-pgsql"
    psql(server, "create table reporting.t (x int)", "app", "app", PW)
    spec.apply()
    body = SCHEMA_BODY[:SCHEMA_BODY.index("schemas:")]
    body = body.replace("    privileges: {reporting: {schema: [USAGE], tables: [SELECT]}}\n", "").replace(
        "    privileges: {reporting: {schema: [USAGE], tables: [SELECT, INSERT, UPDATE, DELETE], "
        "sequences: [USAGE, SELECT]}}\n", "")
    spec.write(server_with("".join(f"  {s}: {{env: PW}}\n" for s in SCHEMA_SECRETS), body))
    plan = spec.plan()
    kept = {str(k.address): k.reason for k in plan.kept}
    assert 'DROP SCHEMA "reporting" in database "app"' in kept["schemas.reporting"]
    # the schema is still the stack's, so what the spec no longer grants in it is revoked
    assert actions(plan) == {"users.reader": "~", "users.writer": "~"}
    spec.apply()
    again = spec.plan()
    assert converged(again) and [str(k.address) for k in again.kept] == ["schemas.reporting"]
    assert denied(psql(server, "select 1 from reporting.t", "reader", "app", PW, check=False))

    spec.write(server_with("".join(f"  {s}: {{env: PW}}\n" for s in SCHEMA_SECRETS), SCHEMA_BODY))
    assert actions(spec.plan()) == {"users.reader": "~", "users.writer": "~"}  # the same schema again
    spec.apply()
    result = destroy(spec, "--databases")
    assert result.returncode == 0, result.stdout + result.stderr
    with server_on_volume(f"{stack}-pg-data") as probe:
        assert "app" not in lines(psql(probe, "select datname from pg_database"))
        assert not {"app", "reader", "writer"} & set(lines(psql(probe, "select rolname from pg_roles")))


def test_the_fixture_spec_applies_and_a_member_reads_and_writes_through_its_groups(tmp_path, stack) -> None:
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "postgres" / "privileges.yaml"
    body = fixture.read_text().split("stack: privileges\n", 1)[1]
    spec = Stack(tmp_path, stack, {"PG_ADMIN": ADMIN_PW, "ALICE_PW": PW}).write(body)
    spec.apply()
    server = f"{stack}-pgsql"
    assert converged(spec.plan())
    psql(server, "create table reporting.items (id serial primary key, name text)", "app", "app")
    assert converged(spec.plan())  # default privileges gave the groups what privileges asks for
    psql(server, "insert into reporting.items (name) values ('x')", "alice", "app", PW)
    assert psql(server, "select name from items", "alice", "app", PW).stdout.strip() == "x"  # her search_path
    assert denied(psql(server, "truncate reporting.items", "alice", "app", PW, check=False))
    assert psql(server, "select 1", "alice", "archive", PW, check=False).returncode != 0


ADOPT_BODY = """\
databases:
  app: {server: main}
users:
  legacy: {server: main, login: false}
  viewer:
    server: main
    password: "${secrets.viewer}"
    grants: {app: [CONNECT]}
    settings: {app.tenant: acme, search_path: '"$user", legacy'}
    privileges: {legacy: {schema: [USAGE], tables: [SELECT]}}
schemas:
  legacy: {database: app, owner: legacy}
"""


def test_an_existing_schema_is_adopted_and_the_first_plan_shows_what_it_revokes(tmp_path, stack) -> None:
    spec = stack_with(tmp_path, stack, "databases:\n  app: {server: main}\n")
    spec.apply()
    server = f"{stack}-pgsql"
    psql(server, "CREATE ROLE legacy; CREATE SCHEMA legacy AUTHORIZATION legacy; CREATE TABLE legacy.t (x int); "
                 "CREATE ROLE viewer LOGIN; GRANT USAGE, CREATE ON SCHEMA legacy TO viewer; "
                 "GRANT SELECT, INSERT ON legacy.t TO viewer; ALTER ROLE viewer SET work_mem = '8MB'", db="app")
    spec.write(server_with("  viewer: {env: PW}\n", ADOPT_BODY))
    plan = spec.plan()
    assert actions(plan) == {"users.viewer": "~", "schemas.legacy": "~"}  # legacy already matches: adopted as is
    assert changed_paths(plan, "schemas.legacy") == ["owned_by"]
    held = attribute(plan, "users.viewer", "privileges.tables in app.legacy")
    assert (held.before, held.after) == (["INSERT", "SELECT"], ["SELECT"])
    assert attribute(plan, "users.viewer", "privileges.schema app.legacy").before == ["CREATE", "USAGE"]
    spec.apply()
    assert converged(spec.plan())
    assert denied(psql(server, "insert into legacy.t values (1)", "viewer", "app", PW, check=False))
    assert psql(server, "select count(*) from t", "viewer", "app", PW).stdout.strip() == "0"  # search_path
    assert lines(psql(server, "show app.tenant", "viewer", "app", PW)) == ["acme"]
    psql(server, "ALTER ROLE viewer SET app.extra = 'x'")
    assert changed_paths(spec.plan(), "users.viewer") == ["settings.app.extra"]
    spec.apply()
    assert converged(spec.plan())
