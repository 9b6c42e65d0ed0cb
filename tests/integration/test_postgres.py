"""Databases and users on a real PostgreSQL server in a container."""

from __future__ import annotations

import subprocess

import pytest

from quayform.kinds.postgres.sql import password_matches
from tests.conftest import BUSYBOX, POSTGRES, SLEEPER
from tests.integration.helpers import Stack, actions, changed_paths, converged

pytestmark = pytest.mark.docker

INJECTION = "'; DROP ROLE postgres; --"

BODY = f"""\
secrets:
  admin: {{env: PG_ADMIN}}
  quay_pw: {{env: QUAY_PW}}
  clair_pw: {{env: CLAIR_PW}}
  weird_pw: {{env: WEIRD_PW}}
networks:
  backend: {{}}
volumes:
  pg-data: {{}}
containers:
  pgsql:
    image: {POSTGRES}
    env: {{POSTGRES_PASSWORD: "${{secrets.admin}}"}}
    volumes: ["pg-data:/var/lib/postgresql/data"]
    networks: [backend]
    stop_grace_period: 20s
    healthcheck: {{test: ["CMD", "pg_isready", "-U", "postgres"], interval: 500ms, retries: 60}}
  app:
    image: {BUSYBOX}
    command: {SLEEPER}
    networks: [backend]
    files:
      /etc/app/dsn: {{content: "postgresql://clair:${{users.clair.password}}@pgsql/clair", mode: "0600"}}
  other:
    image: {BUSYBOX}
    command: {SLEEPER}
postgres:
  main: {{container: pgsql}}
databases:
  quay: {{server: main, owner: quayuser, extensions: [pg_trgm]}}
  clair: {{server: main, owner: clair, extensions: ["uuid-ossp"]}}
users:
  quayuser: {{server: main, password: "${{secrets.quay_pw}}"}}
  clair: {{server: main, password: "${{secrets.clair_pw}}", grants: {{clair: [ALL]}}}}
  weird:
    server: main
    name: 'a"b'
    password: "${{secrets.weird_pw}}"
    grants: {{quay: [CONNECT]}}
"""

ENV = {"PG_ADMIN": "admin-pw", "QUAY_PW": "quay-pw", "CLAIR_PW": "clair-pw", "WEIRD_PW": INJECTION}


def psql(container: str, sql: str, user: str = "postgres", password: str | None = None, db: str = "postgres",
         check: bool = True) -> subprocess.CompletedProcess:
    """psql inside the server container; with a password it logs in over TCP (scram-sha-256)."""
    command = ["docker", "exec", "-i", "-u", "postgres"]
    if password is not None:
        command += ["-e", f"PGPASSWORD={password}"]
    command += [container, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", db]
    if password is not None:
        command += ["-h", "127.0.0.1"]
    return subprocess.run(command, input=sql, capture_output=True, text=True, check=check)


@pytest.fixture
def pg_stack(tmp_path, stack) -> Stack:
    return Stack(tmp_path, stack, dict(ENV)).write(BODY)


def test_apply_creates_users_that_can_log_in_over_tcp(pg_stack: Stack) -> None:
    plan = pg_stack.plan()
    assert {a for a, s in actions(plan).items() if a.startswith(("users", "databases"))} == {
        "users.quayuser", "users.clair", "users.weird", "databases.quay", "databases.clair"}
    pg_stack.apply()
    server = f"{pg_stack.name}-pgsql"
    assert psql(server, "select current_user", "quayuser", "quay-pw", "quay").stdout.strip() == "quayuser"
    assert psql(server, "create table t (x int); select 1", "clair", "clair-pw", "clair").stdout.strip() == "1"
    assert psql(server, "select current_user", 'a"b', INJECTION, "quay").stdout.strip() == 'a"b'
    assert psql(server, "select 1", "clair", "wrong", "clair", check=False).returncode != 0
    # the injection attempt was a plain password: the postgres role is still there
    assert psql(server, "select count(*) from pg_roles where rolname = 'postgres'").stdout.strip() == "1"
    extensions = psql(server, "select extname from pg_extension order by 1", db="quay").stdout.split()
    assert "pg_trgm" in extensions
    assert "uuid-ossp" in psql(server, "select extname from pg_extension", db="clair").stdout.split()
    assert converged(pg_stack.plan())


def test_manual_drift_is_planned_and_repaired(pg_stack: Stack) -> None:
    pg_stack.apply()
    server = f"{pg_stack.name}-pgsql"
    psql(server, 'REVOKE ALL ON DATABASE quay FROM "a""b"; ALTER ROLE clair PASSWORD \'by-hand\';')
    plan = pg_stack.plan()
    assert actions(plan) == {"users.weird": "~", "users.clair": "~"}
    assert changed_paths(plan, "users.clair") == ["password"]
    assert changed_paths(plan, "users.weird") == ["grants.quay"]
    pg_stack.apply()
    assert converged(pg_stack.plan())
    psql(server, 'REVOKE ALL ON DATABASE quay FROM "a""b"; DROP ROLE "a""b";')
    assert actions(pg_stack.plan()) == {"users.weird": "+"}
    pg_stack.apply()
    assert psql(server, "select 1", 'a"b', INJECTION, "quay").stdout.strip() == "1"
    assert converged(pg_stack.plan())


def test_our_verifier_check_agrees_with_the_server(pg_stack: Stack) -> None:
    pg_stack.apply()
    server = f"{pg_stack.name}-pgsql"
    psql(server, "ALTER ROLE quayuser PASSWORD 'computed by postgres ü';")
    verifier = psql(server, "select rolpassword from pg_authid where rolname = 'quayuser'").stdout.strip()
    assert verifier.startswith("SCRAM-SHA-256$")
    assert password_matches("computed by postgres ü", verifier, "quayuser")
    assert not password_matches("computed by postgres u", verifier, "quayuser")


def test_rotating_a_secret_updates_the_password_and_replaces_only_its_readers(pg_stack: Stack) -> None:
    pg_stack.apply()
    pg_stack.environ["CLAIR_PW"] = "rotated-pw"
    plan = pg_stack.plan()
    assert actions(plan) == {"users.clair": "~", "containers.app": "-/+"}
    assert changed_paths(plan, "containers.app") == ["files./etc/app/dsn"]
    pg_stack.apply()
    server = f"{pg_stack.name}-pgsql"
    assert psql(server, "select 1", "clair", "rotated-pw", "clair").stdout.strip() == "1"
    dsn = subprocess.run(["docker", "exec", f"{pg_stack.name}-app", "cat", "/etc/app/dsn"],
                         capture_output=True, text=True, check=True).stdout
    assert dsn == "postgresql://clair:rotated-pw@pgsql/clair"
    assert converged(pg_stack.plan())


def test_destroy_keeps_databases_and_apply_brings_the_rows_back(pg_stack: Stack, engine) -> None:
    pg_stack.apply()
    server = f"{pg_stack.name}-pgsql"
    psql(server, "create table marker (x int); insert into marker values (7);", "clair", "clair-pw", "clair")
    plan = pg_stack.destroy()
    kept = {str(k.address) for k in plan.kept}
    assert {"databases.quay", "databases.clair", "users.clair", "volumes.pg-data"} <= kept
    assert engine.containers(all=True, filters={"label": f"io.quayform.stack={pg_stack.name}"}) == []
    pg_stack.apply()
    assert psql(server, "select x from marker", "clair", "clair-pw", "clair").stdout.strip() == "7"
    assert converged(pg_stack.plan())


def test_removed_user_is_dropped_and_removed_database_is_kept(pg_stack: Stack) -> None:
    pg_stack.apply()
    body = BODY.replace("    grants: {quay: [CONNECT]}\n", "").replace(
        "  weird:\n    server: main\n    name: 'a\"b'\n    password: \"${secrets.weird_pw}\"\n", "")
    body = body.replace("  quay: {server: main, owner: quayuser, extensions: [pg_trgm]}\n", "")
    pg_stack.write(body)
    plan = pg_stack.plan()
    assert actions(plan) == {"users.weird": "-"}
    assert [str(k.address) for k in plan.kept] == ["databases.quay"]
    pg_stack.apply()
    server = f"{pg_stack.name}-pgsql"
    assert psql(server, "select count(*) from pg_roles where rolname = 'a\"b'").stdout.strip() == "0"
    assert psql(server, "select count(*) from pg_database where datname = 'quay'").stdout.strip() == "1"
    again = pg_stack.plan()
    assert again.changes == [] and [str(k.address) for k in again.kept] == ["databases.quay"]
    assert not again.differs  # a kept orphan is no difference the spec asks to fix


def test_encoding_locale_and_role_flags_are_applied_and_stable(tmp_path, stack) -> None:
    spec = Stack(tmp_path, stack, {"PG_ADMIN": "admin-pw"}).write(f"""\
secrets:
  admin: {{env: PG_ADMIN}}
containers:
  pgsql:
    image: {POSTGRES}
    env: {{POSTGRES_PASSWORD: "${{secrets.admin}}"}}
    healthcheck: {{test: ["CMD", "pg_isready", "-U", "postgres"], interval: 500ms, retries: 60}}
postgres:
  main: {{container: pgsql}}
databases:
  latin: {{server: main, encoding: LATIN1, locale: C, owner: builder}}
users:
  builder: {{server: main, login: true, createdb: true, createrole: true}}
  reader: {{server: main, login: false, grants: {{latin: [CONNECT]}}}}
""")
    spec.apply()
    server = f"{stack}-pgsql"
    row = psql(server, "select pg_encoding_to_char(encoding), datcollate from pg_database where datname = 'latin'")
    assert row.stdout.strip() == "LATIN1|C"
    flags = psql(server, "select rolname, rolcanlogin, rolcreatedb, rolcreaterole from pg_roles "
                         "where rolname in ('builder', 'reader') order by 1").stdout.split()
    assert flags == ["builder|t|t|t", "reader|f|f|f"]
    assert converged(spec.plan())
    spec.path.write_text(spec.path.read_text().replace("encoding: LATIN1", "encoding: UTF8"))
    plan = spec.plan()
    assert plan.changes == []
    assert plan.differs  # the held encoding difference is shown as one
    assert [str(k.address) for k in plan.kept] == ["databases.latin"]
    assert "never drops a database" in plan.kept[0].reason
