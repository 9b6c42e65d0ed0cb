"""Hardening on the real engine and a real PostgreSQL server: odd names, SASLprep'd passwords,
a server stopped at plan time, dropping an owner, destroy --databases, a renamed volume key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from quayform.changes import Action
from quayform.kinds.postgres.sql import password_matches, saslprep
from quayform.pipeline import run_apply
from tests.conftest import BUSYBOX, POSTGRES, SLEEPER
from tests.integration.helpers import Stack, actions, changed_paths, converged

pytestmark = pytest.mark.docker

ADMIN_PW = "admin-pw"

SERVER = f"""\
secrets:
  admin: {{env: PG_ADMIN}}
volumes:
  pg-data: {{}}
containers:
  pgsql:
    image: {POSTGRES}
    env: {{POSTGRES_PASSWORD: "${{secrets.admin}}"}}
    volumes: ["pg-data:/var/lib/postgresql/data"]
    stop_grace_period: 20s
    healthcheck: {{test: ["CMD", "pg_isready", "-U", "postgres"], interval: 500ms, retries: 60}}
postgres:
  main: {{container: pgsql}}
"""


def server_with(secrets: str = "", body: str = "") -> str:
    """SERVER with more secrets (lines like `  name: {env: VAR}`) and the sections in `body` after it."""
    return SERVER.replace("  admin: {env: PG_ADMIN}\n", "  admin: {env: PG_ADMIN}\n" + secrets) + body


def run(*argv: str, env: dict[str, str] | None = None, input: str | None = None, check: bool = True,
        timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout, env=env,
                            cwd=cwd)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {result.returncode}: {result.stdout}{result.stderr}", pytrace=False)
    return result


def psql(container: str, sql: str, user: str = "postgres", db: str = "postgres", password: str | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    """psql inside the server container; with a password, over TCP (scram-sha-256) and never prompting.

    The database name travels in PGDATABASE (never expanded as a connection string) and the
    password in PGPASSWORD, both passed through docker exec from this process's environment,
    so neither appears in any argv.
    """
    env = {**os.environ, "PGDATABASE": db}
    command = ["docker", "exec", "-i", "-u", "postgres", "-e", "PGDATABASE"]
    if password is not None:
        env["PGPASSWORD"] = password
        command += ["-e", "PGPASSWORD"]
    command += [container, "psql", "-X", "-q", "-At", "-w", "-v", "ON_ERROR_STOP=1", "-U", user]
    if password is not None:
        command += ["-h", "127.0.0.1"]
    return run(*command, env=env, input=sql, check=check)


def lines(result: subprocess.CompletedProcess) -> list[str]:
    return result.stdout.splitlines()


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def server_on_volume(volume: str) -> Iterator[str]:
    """A throwaway PostgreSQL container on an existing data volume, to read the catalog a stack left."""
    name = f"qft-probe-{uuid.uuid4().hex[:8]}"
    run("docker", "run", "-d", "--name", name, "-v", f"{volume}:/var/lib/postgresql/data", POSTGRES)
    try:
        for _ in range(200):  # tries, not a clock
            if run("docker", "exec", "-u", "postgres", name, "pg_isready", "-q", check=False).returncode == 0:
                break
            time.sleep(0.3)
        else:
            logs = run("docker", "logs", name, check=False)
            pytest.fail(f"the probe server on {volume} did not start: {logs.stdout}{logs.stderr}")
        yield name
    finally:
        run("docker", "rm", "-f", name, check=False)


def destroy(spec: Stack, *flags: str):
    """destroy --auto-approve with the flags given, through the console script at its default parallelism."""
    return run(sys.executable, "-m", "quayform", "destroy", "--auto-approve", "--no-color", *flags,
               env={**os.environ, **spec.environ}, check=False, timeout=300, cwd=spec.folder)


# --- 6. databases with names that need quoting everywhere -----------------------------------------

ODD_NAMES = {"dquote": 'a"b', "squote": "c'd", "backslash": "e\\f", "equals": "x=y z", "accent": "ééé"}


def yaml_single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


ODD_BODY = SERVER + "databases:\n" + "".join(
    f"  {key}: {{server: main, name: {yaml_single_quoted(name)}, extensions: [pg_trgm]}}\n"
    for key, name in ODD_NAMES.items()) + """\
users:
  odd_owner: {server: main, name: 'o"w n=er\\', grants: {dquote: [CONNECT], equals: [CONNECT, TEMPORARY]}}
"""


def test_databases_with_odd_names_are_created_read_extended_and_destroyed(tmp_path, stack) -> None:
    spec = Stack(tmp_path, stack, {"PG_ADMIN": ADMIN_PW}).write(ODD_BODY)
    plan = spec.plan()
    assert {a: s for a, s in actions(plan).items() if a.startswith("databases")} == {
        f"databases.{key}": "+" for key in ODD_NAMES}
    spec.apply()
    server = f"{stack}-pgsql"
    names = set(lines(psql(server, "select datname from pg_database")))
    assert set(ODD_NAMES.values()) <= names
    for name in ODD_NAMES.values():
        assert "pg_trgm" in lines(psql(server, "select extname from pg_extension", db=name)), name
        assert psql(server, "select similarity('abc', 'abd') > 0", db=name).stdout.strip() == "t", name
    privileges = psql(server, "select has_database_privilege('o\"w n=er\\', 'x=y z', 'TEMPORARY'), "
                              "has_database_privilege('o\"w n=er\\', 'a\"b', 'CONNECT')")
    assert privileges.stdout.strip() == "t|t"

    # The catalog read \connects to each database: its extensions are seen, so nothing differs...
    assert converged(spec.plan())
    # ...and an extension dropped by hand in one of them is seen and put back.
    psql(server, "DROP EXTENSION pg_trgm", db="x=y z")
    psql(server, "DROP EXTENSION pg_trgm", db="c'd")
    plan = spec.plan()
    assert actions(plan) == {"databases.equals": "~", "databases.squote": "~"}
    assert changed_paths(plan, "databases.equals") == ["extensions"]
    spec.apply()
    assert "pg_trgm" in lines(psql(server, "select extname from pg_extension", db="x=y z"))
    assert converged(spec.plan())

    result = destroy(spec, "--databases")
    assert result.returncode == 0, result.stdout + result.stderr
    with server_on_volume(f"{stack}-pg-data") as probe:
        left = set(lines(psql(probe, "select datname from pg_database")))
        roles = set(lines(psql(probe, "select rolname from pg_roles")))
    assert not set(ODD_NAMES.values()) & left, left
    assert 'o"w n=er\\' not in roles


# --- 7. passwords as PostgreSQL and libpq SASLprep them -------------------------------------------

SHY_PW = "pass\u00adword-x9"  # a soft hyphen: SASLprep maps it to nothing
ZW_PW = "zero\u200bwidth-x9"  # a zero-width space: PostgreSQL's SASLprep maps it to a space (it is in C.1.2)
# What PostgreSQL (server and libpq, src/common/saslprep.c) turns them into, checked on the server below.
PREPARED = {SHY_PW: "password-x9", ZW_PW: "zero width-x9"}

SASL_BODY = server_with("  shy_pw: {env: SHY_PW}\n  zw_pw: {env: ZW_PW}\n", """\
databases:
  app: {server: main}
users:
  shy: {server: main, password: "${secrets.shy_pw}", grants: {app: [CONNECT]}}
  zw: {server: main, password: "${secrets.zw_pw}", grants: {app: [CONNECT]}}
""")


def test_passwords_that_saslprep_changes_log_in_as_typed_and_as_prepared(tmp_path, stack) -> None:
    spec = Stack(tmp_path, stack, {"PG_ADMIN": ADMIN_PW, "SHY_PW": SHY_PW, "ZW_PW": ZW_PW}).write(SASL_BODY)
    spec.apply()
    assert converged(spec.plan())  # the stored verifiers are recognised as these passwords
    server = f"{stack}-pgsql"
    for role, typed in (("shy", SHY_PW), ("zw", ZW_PW)):
        prepared = PREPARED[typed]
        assert psql(server, "select current_user", role, "app", typed).stdout.strip() == role
        assert psql(server, "select current_user", role, "app", prepared).stdout.strip() == role
        refused = psql(server, "select 1", role, "app", typed.replace("-x9", "-x8"), check=False)
        assert refused.returncode != 0 and "password authentication failed" in refused.stderr
        verifier = psql(server, f"select rolpassword from pg_authid where rolname = {literal(role)}").stdout.strip()
        assert verifier.startswith("SCRAM-SHA-256$") and typed not in verifier and prepared not in verifier
        assert password_matches(typed, verifier, role)

    # Verifiers the server computes itself from the same passwords (prepared, or as typed) are no change...
    psql(server, f"ALTER ROLE shy PASSWORD {literal(PREPARED[SHY_PW])}")
    psql(server, f"ALTER ROLE zw PASSWORD {literal(ZW_PW)}")
    assert converged(spec.plan())
    # ...another password is.
    psql(server, "ALTER ROLE zw PASSWORD 'zerowidth-x8'")
    plan = spec.plan()
    assert actions(plan) == {"users.zw": "~"} and changed_paths(plan, "users.zw") == ["password"]
    spec.apply()
    assert psql(server, "select 1", "zw", "app", ZW_PW).stdout.strip() == "1"
    assert converged(spec.plan())


SERVER_VECTORS = [
    "password", "pass\u00adword", "pass\u200bword", "a\u00a0b", "\u2168", "\ufb01x", "e\u0301t\u00e9",
    "\u00e9t\u00e9", "\u00e9\u0001x", "\u00e9\u200ex", "\u00e9\ue000", "\u0221x", "\u0627a", "\u06271",
    "\u0627\u0628\u0629", "a\u2003b\u3000c", "\u00ad", "zero\u200bwidth", "a\u200cb\ufeff",
]


def test_our_saslprep_agrees_with_the_servers(tmp_path, stack) -> None:
    """Verifiers the server computes itself from each password are the ones quayform recognises."""
    spec = Stack(tmp_path, stack, {"PG_ADMIN": ADMIN_PW}).write(SERVER)
    spec.apply()
    server = f"{stack}-pgsql"
    psql(server, "CREATE ROLE probe LOGIN")
    disagreements = []
    for typed in SERVER_VECTORS:
        psql(server, f"SET password_encryption = 'scram-sha-256'; ALTER ROLE probe PASSWORD {literal(typed)}")
        verifier = psql(server, "select rolpassword from pg_authid where rolname = 'probe'").stdout.strip()
        if not (password_matches(typed, verifier, "probe") and password_matches(saslprep(typed), verifier, "probe")):
            disagreements.append(ascii(typed))
    assert disagreements == []


# --- 12. the server container stopped at plan time ------------------------------------------------

STOPPED_BODY = server_with("  app_pw: {env: APP_PW}\n", """\
databases:
  app: {server: main, owner: app, extensions: [pg_trgm]}
users:
  app: {server: main, password: "${secrets.app_pw}"}
  reader: {server: main, grants: {app: [CONNECT]}}
""")


def test_a_server_stopped_at_plan_time_is_started_and_its_objects_reported_as_changed(tmp_path, stack) -> None:
    spec = Stack(tmp_path, stack, {"PG_ADMIN": ADMIN_PW, "APP_PW": "app-pw"}).write(STOPPED_BODY)
    spec.apply()
    server = f"{stack}-pgsql"
    run("docker", "stop", server)

    plan = spec.plan()
    assert actions(plan) == {"containers.pgsql": "~", "users.app": "+", "users.reader": "+", "databases.app": "+"}
    assert changed_paths(plan, "containers.pgsql") == ["running"]
    for change in plan.changes:
        if change.address.kind in ("users", "databases"):
            assert "not running" in str(change.reason) and server in str(change.reason), change.reason

    events = []
    result = run_apply(plan, spec.options(), events.append)
    assert not result.errors, result.errors
    assert (result.added, result.changed, result.replaced, result.destroyed) == (0, 4, 0, 0)
    existed = {str(e.address) for e in events if e.phase == "done" and e.message and "existed" in e.message}
    assert existed == {"users.app", "users.reader", "databases.app"}
    assert converged(spec.plan())
    assert psql(server, "select 1", "app", "app", "app-pw").stdout.strip() == "1"


# --- 13. a database and its owner removed from the spec together -----------------------------------

OWNER_BODY = server_with("  owner_pw: {env: OWNER_PW}\n", """\
databases:
  appdb: {server: main, owner: owner}
  other: {server: main}
users:
  owner: {server: main, password: "${secrets.owner_pw}", grants: {other: [CONNECT, CREATE]}}
  stays: {server: main}
""")


def test_dropping_a_database_owner_with_its_database_hands_both_to_the_admin(tmp_path, stack) -> None:
    spec = Stack(tmp_path, stack, {"PG_ADMIN": ADMIN_PW, "OWNER_PW": "owner-pw"}).write(OWNER_BODY)
    spec.apply()
    server = f"{stack}-pgsql"
    psql(server, "CREATE TABLE kept_rows (x int); INSERT INTO kept_rows VALUES (42);", "owner", "appdb", "owner-pw")
    psql(server, "CREATE SCHEMA owned_here; CREATE TABLE owned_here.t (y int);", "owner", "other", "owner-pw")

    spec.write(OWNER_BODY.replace("  appdb: {server: main, owner: owner}\n", "").replace(
        '  owner: {server: main, password: "${secrets.owner_pw}", grants: {other: [CONNECT, CREATE]}}\n', ""))
    plan = spec.plan()
    assert actions(plan) == {"users.owner": "-"}
    reason = str(plan.changes[0].reason)
    assert "goes to postgres first" in reason and "appdb" in reason, reason
    assert [str(k.address) for k in plan.kept] == ["databases.appdb"]

    events = []
    result = run_apply(plan, spec.options(), events.append)
    assert not result.errors, result.errors
    assert result.destroyed == 1
    assert psql(server, "select count(*) from pg_roles where rolname = 'owner'").stdout.strip() == "0"
    owner = psql(server, "select pg_get_userbyid(datdba) from pg_database where datname = 'appdb'")
    assert owner.stdout.strip() == "postgres"
    assert psql(server, "select x from kept_rows", db="appdb").stdout.strip() == "42"
    table_owner = psql(server, "select tableowner from pg_tables where tablename = 'kept_rows'", db="appdb")
    assert table_owner.stdout.strip() == "postgres"
    assert psql(server, "select count(*) from owned_here.t", db="other").stdout.strip() == "0"

    again = spec.plan()
    assert converged(again), actions(again)
    assert [str(k.address) for k in again.kept] == ["databases.appdb"]


# --- 14. destroy --databases at the default parallelism ---------------------------------------------

MANY_BODY = SERVER + """\
databases:
  d1: {server: main, owner: u1, extensions: [pg_trgm]}
  d2: {server: main, owner: u2}
  d3: {server: main, owner: u3}
  d4: {server: main, owner: u4}
  d5: {server: main}
users:
  u1: {server: main, grants: {d2: [CONNECT], d5: [ALL]}}
  u2: {server: main, grants: {d3: [CONNECT], d1: [TEMP]}}
  u3: {server: main, grants: {d4: [CONNECT]}}
  u4: {server: main, grants: {d1: [CONNECT]}}
  u5: {server: main, grants: {d1: [CONNECT], d2: [CONNECT], d3: [CONNECT], d4: [CONNECT], d5: [CONNECT]}}
"""


def test_destroy_databases_at_default_parallelism_leaves_none_in_the_catalog(tmp_path, stack, engine) -> None:
    spec = Stack(tmp_path, stack, {"PG_ADMIN": ADMIN_PW}).write(MANY_BODY)
    spec.apply()
    server = f"{stack}-pgsql"
    ours_dbs = {"d1", "d2", "d3", "d4", "d5"}
    ours_roles = {"u1", "u2", "u3", "u4", "u5"}
    assert ours_dbs <= set(lines(psql(server, "select datname from pg_database")))
    assert ours_roles <= set(lines(psql(server, "select rolname from pg_roles")))
    assert_destroyed_all(spec, engine, ours_dbs, ours_roles)


def test_destroy_databases_drops_a_role_owning_objects_in_another_database(tmp_path, stack, engine) -> None:
    """An application role's tables in a database it does not own (both dropped by the same destroy)."""
    spec = Stack(tmp_path, stack, {"PG_ADMIN": ADMIN_PW}).write(MANY_BODY)
    spec.apply()
    server = f"{stack}-pgsql"
    psql(server, "SET ROLE u1; CREATE SCHEMA u1s; CREATE TABLE u1s.things (x int);", db="d5")
    assert_destroyed_all(spec, engine, {"d1", "d2", "d3", "d4", "d5"}, {"u1", "u2", "u3", "u4", "u5"})


def assert_destroyed_all(spec: Stack, engine, ours_dbs: set[str], ours_roles: set[str]) -> None:
    stack = spec.name
    result = destroy(spec, "--databases")
    assert result.returncode == 0, result.stdout + result.stderr
    assert engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"}) == []

    with server_on_volume(f"{stack}-pg-data") as probe:
        databases = set(lines(psql(probe, "select datname from pg_database")))
        roles = set(lines(psql(probe, "select rolname from pg_roles")))
        marked = lines(psql(probe, "select d.description from pg_shdescription d where d.description like "
                                   f"{literal('quayform:' + stack + ':%')}"))
    assert databases & ours_dbs == set(), databases
    assert roles & ours_roles == set(), roles
    assert marked == []
    assert {"postgres", "template0", "template1"} <= databases and "postgres" in roles


# --- 15. a volume's key renamed, its name kept ------------------------------------------------------


def test_renaming_a_volume_key_that_keeps_its_name_keeps_the_volume(tmp_path, stack, engine) -> None:
    volume = f"{stack}-keepdata"
    body = f"""\
volumes:
  old: {{name: {volume}}}
containers:
  box:
    image: {BUSYBOX}
    command: {SLEEPER}
    volumes: ["old:/data"]
"""
    spec = Stack(tmp_path, stack).write(body)
    try:
        spec.apply()
        run("docker", "exec", f"{stack}-box", "sh", "-c", "echo survived > /data/marker")
        created = engine.inspect_volume(volume)["CreatedAt"]

        spec.write(body.replace("  old: {", "  new: {").replace('"old:/data"', '"new:/data"'))
        plan = spec.plan()
        assert not [c for c in plan.changes if c.address.kind == "volumes"
                    and (c.action in (Action.CREATE, Action.DELETE) or c.action.is_replace)], actions(plan)
        assert not any("docker volume rm" in str(k.reason) for k in plan.kept), [(str(k.address), k.reason)
                                                                             for k in plan.kept]
        assert not any(str(k.address).startswith("volumes.old") for k in plan.kept)

        spec.apply()
        again = spec.plan()
        assert converged(again), actions(again)
        assert not any("docker volume rm" in str(k.reason) for k in again.kept)
        assert engine.inspect_volume(volume)["CreatedAt"] == created
        listed = (engine.volumes(filters={"label": f"io.quayform.stack={stack}"}) or {}).get("Volumes") or []
        assert [v["Name"] for v in listed] == [volume]
        marker = run("docker", "exec", f"{stack}-box", "cat", "/data/marker").stdout
        assert marker == "survived\n"
    finally:
        run("docker", "rm", "-f", f"{stack}-box", check=False)
        run("docker", "volume", "rm", "-f", volume, check=False)


# --- 19. plan generates secrets, on the real engine ---------------------------------------------------


def test_cli_plan_generates_a_secret_file_and_validate_does_not(tmp_path, stack) -> None:
    (tmp_path / "quayform.yaml").write_text(f"""\
version: 1
stack: {stack}
secrets:
  token: {{file: secrets/token, generate: {{}}}}
outputs:
  token: ${{secrets.token}}
""")
    quayform = [sys.executable, "-m", "quayform", "--no-color"]
    validated = subprocess.run([*quayform, "validate"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert validated.returncode == 0, validated.stderr
    assert not (tmp_path / "secrets").exists()
    planned = subprocess.run([*quayform, "plan"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert planned.returncode == 0, planned.stderr
    secret = tmp_path / "secrets" / "token"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    value = secret.read_text()
    assert value.endswith("\n") and len(value[:-1]) == 32
    assert value[:-1] not in planned.stdout + planned.stderr
