"""Issue 13 without a server: the catalog read and its parsing from recorded rows, privileges per role,
the SQL built for privileges, settings, memberships and drops, markers, and what validate refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from quayform.address import Address
from quayform.changes import Action, Change, LiveObject
from quayform.errors import SpecError
from quayform.kinds.postgres import marker, read_marker, read_on_drop
from quayform.kinds.postgres.catalog import catalog_script, depends_of, parse_catalog, parse_settings
from quayform.kinds.postgres.database import judge_public, live_database, public_schema_default
from quayform.kinds.postgres.drop import REFUSE_GUARD, conflicts_of_drops, drop_script, owned_text
from quayform.kinds.postgres.privileges import (LivePrivileges, Target, class_statements, default_statements,
                                                judge_privileges, live_privileges, privileges_script, qualified)
from quayform.kinds.postgres.schema import KIND as SCHEMAS
from quayform.kinds.postgres.schema import LiveSchema, judge_owner
from quayform.kinds.postgres.sql import (ensure_database, ensure_user, inside_database, membership_statements,
                                         settings_statements, split_list)
from quayform.kinds.postgres.user import KIND as USERS
from quayform.kinds.postgres.user import LiveUser, live_user
from quayform.pipeline import context
from quayform.spec import load_spec
from quayform.spec.pg_models import parse_valid_until
from quayform.targets import PgTarget

STACK = "s"
OURS = "quayform:s:schemas.reporting"


def inside(**extra) -> dict:
    """What the catalog read says is inside database `app` (a recorded shape, trimmed)."""
    read = {
        "extensions": [{"name": "plpgsql", "version": "1.0", "schema": "pg_catalog"},
                       {"name": "pg_trgm", "version": "1.5", "schema": "ext"}],
        "schemas": [
            {"name": "public", "owner": "pg_database_owner", "comment": "standard public schema",
             "grants": [{"grantee": "", "privilege": "USAGE"}]},
            {"name": "reporting", "owner": "app", "comment": OURS,
             "grants": [{"grantee": "reader", "privilege": "USAGE"}]},
            {"name": "theirs", "owner": "app", "comment": "quayform:other:schemas.theirs",
             "grants": [{"grantee": "reader", "privilege": "USAGE"}]},
        ],
        "objects": [{"schema": "reporting", "class": "tables", "owner": "app", "n": 3},
                    {"schema": "reporting", "class": "tables", "owner": "reader", "n": 1},
                    {"schema": "reporting", "class": "sequences", "owner": "app", "n": 2},
                    {"schema": "theirs", "class": "tables", "owner": "app", "n": 5}],
        "object_grants": [{"schema": "reporting", "class": "tables", "grantee": "reader", "privilege": "SELECT", "n": 3},
                          {"schema": "reporting", "class": "tables", "grantee": "reader", "privilege": "INSERT", "n": 1},
                          {"schema": "theirs", "class": "tables", "grantee": "reader", "privilege": "SELECT", "n": 5}],
        "default_acl": [{"creator": "app", "schema": "reporting", "class": "r", "grantee": "reader",
                         "privilege": "SELECT"},
                        {"creator": "app", "schema": "reporting", "class": "T", "grantee": "reader",
                         "privilege": "USAGE"}],
        "owned": [],
    }
    return {"app": {**read, **extra}}


# --- live privileges from catalog rows ----------------------------------------------------------------


def test_privileges_are_read_per_class_with_partial_ones_counted() -> None:
    held = live_privileges("reader", inside(), STACK)
    assert held.privileges == {"schema app.reporting": ["USAGE"],
                               "tables in app.reporting": ["INSERT (on 1 of 3)", "SELECT"]}
    assert held.defaults == {"tables created by app in app.reporting": ["SELECT"]}  # types are not compared


def test_only_the_stacks_schemas_are_compared() -> None:
    held = live_privileges("reader", inside(), STACK)
    assert not any("theirs" in key or "public" in key for key in {**held.privileges, **held.targets})
    assert live_privileges("reader", inside(), "another").privileges == {}


def test_objects_a_role_owns_are_not_counted_and_empty_classes_need_nothing() -> None:
    held = live_privileges("reader", inside(), STACK)
    assert "functions in app.reporting" in held.nothing_to_grant  # no function in the schema
    assert "sequences in app.reporting" not in held.nothing_to_grant
    owner = live_privileges("app", inside(), STACK)
    assert {"schema app.reporting", "tables in app.reporting"} - owner.nothing_to_grant == {"tables in app.reporting"}
    assert owner.privileges == {}  # its own grants are never read as privileges granted to it


def test_the_judge_counts_what_cannot_be_granted_as_held() -> None:
    payload = LiveUser(privileges=LivePrivileges({}, {}, {}, frozenset({"functions in app.reporting"})))
    desired = {"functions in app.reporting": ["EXECUTE"], "tables in app.reporting": ["SELECT"]}
    assert judge_privileges(desired, {"privileges": {}}, payload) == {"functions in app.reporting": ["EXECUTE"]}
    assert judge_privileges(None, {"privileges": {"x": ["SELECT"]}}, None) == {"x": ["SELECT"]}


@pytest.mark.parametrize("database, schema, shown", [
    ("app", "reporting", "app.reporting"),
    ("My DB", "a.b", '"My DB"."a.b"'),
    ("app", 'we"ird', 'app."we""ird"'),
])
def test_schemas_are_named_by_their_database_unambiguously(database, schema, shown) -> None:
    assert qualified(database, schema) == shown


def test_the_live_user_form_has_every_attribute() -> None:
    raw = {"name": "reader", "login": False, "inherit": False, "replication": True, "bypassrls": True,
           "connection_limit": 4, "valid_until": "2031-01-01T00:00:00Z", "member_of": ["readonly", "pg_monitor"],
           "settings": ['search_path=app, "$user"', "statement_timeout=5s"],
           "comment": "quayform:s:users.reader:prevent_destroy:on_drop=reassign_to=he:ir"}
    form, payload = live_user(raw, [], [], inside(), STACK)
    assert {k: form[k] for k in ("login", "inherit", "replication", "bypassrls", "connection_limit",
                                 "valid_until", "member_of", "settings", "on_drop")} == {
        "login": False, "inherit": False, "replication": True, "bypassrls": True, "connection_limit": 4,
        "valid_until": "2031-01-01T00:00:00Z", "member_of": ["pg_monitor", "readonly"],
        "settings": {"search_path": ["app", "$user"], "statement_timeout": "5s"},
        "on_drop": {"reassign_to": "he:ir"}}
    assert form["privileges"]["schema app.reporting"] == ["USAGE"]
    assert isinstance(payload.privileges, LivePrivileges)
    unlimited, _ = live_user({"name": "x", "connection_limit": -1}, [], [])
    assert unlimited["connection_limit"] is None and unlimited["valid_until"] is None


# --- the catalog read -----------------------------------------------------------------------------------


def test_the_catalog_is_one_script_connecting_to_each_declared_database() -> None:
    script = catalog_script(["app", "x=y z"])
    assert script.count("\\connect") == 2 and "dbname='x=y z'" in script
    assert script.count("AND datallowconn) AS qf_ok") == 2
    assert script.count("'inside', 'app'") == 1 and "'inside', 'x=y z'" in script


def test_parse_catalog_sorts_shared_rows_and_each_database() -> None:
    output = ('{"version": 150004, "roles": [], "databases": [], "depends": []}\n'
              'psql: a notice line\n{"inside": "app", "schemas": []}\n')
    assert parse_catalog(output) == {"inside": {"app": {"schemas": []}}, "version": 150004, "roles": [],
                                     "databases": [], "depends": []}


@pytest.mark.parametrize("text, items", [
    ("app, public", ["app", "public"]),
    ('"$user", public', ["$user", "public"]),
    ('"a, b", "c""d"', ["a, b", 'c"d']),
    ('""', [""]),
])
def test_list_settings_are_split_as_postgresql_stores_them(text, items) -> None:
    assert split_list(text) == items


def test_settings_parse_lists_only_for_list_settings() -> None:
    assert parse_settings(["search_path=app, public", "datestyle=ISO, MDY", "x.y=a=b"]) == {
        "search_path": ["app", "public"], "datestyle": "ISO, MDY", "x.y": "a=b"}
    assert parse_settings(None) == {}


def test_depends_count_owned_objects_per_database() -> None:
    rows = [{"role": "u", "database": "a", "owned": 2}, {"role": "u", "database": "b", "owned": 0},
            {"role": "v", "database": "a", "owned": 9}]
    assert depends_of("u", rows) == {"a": 2, "b": 0}


# --- SQL ------------------------------------------------------------------------------------------------


def test_object_privileges_grant_then_revoke_only_the_rest_on_objects_not_owned() -> None:
    sql = class_statements('re"ader', "my schema", "tables", ["SELECT"])
    assert sql.startswith('GRANT SELECT ON ALL TABLES IN SCHEMA "my schema" TO "re""ader";\n')
    assert "REVOKE ALL" not in sql
    assert "'REVOKE DELETE, INSERT, REFERENCES, TRIGGER, TRUNCATE, UPDATE ON TABLE %s FROM %I'" in sql
    assert "c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = 're\"ader')" in sql
    assert "g.privilege_type IN ('DELETE', 'INSERT', 'REFERENCES', 'TRIGGER', 'TRUNCATE', 'UPDATE')" in sql
    assert sql.endswith("\\gexec\n")


def test_functions_and_schemas_have_their_own_statements() -> None:
    functions = class_statements("r", "s", "functions", [])
    assert "GRANT" not in functions and "ON FUNCTION %s" in functions and "prokind <> 'p'" in functions
    schema = class_statements("r", "s", "schema", ["USAGE"])
    assert schema.startswith('GRANT USAGE ON SCHEMA "s" TO "r";\n')
    assert "'REVOKE CREATE ON SCHEMA \"s\" FROM \"r\"' WHERE NOT EXISTS" in schema and "nspowner" in schema


def test_default_privileges_statements() -> None:
    sql = default_statements("reader", "app", "reporting", "sequences", ["SELECT"])
    assert ('ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "reporting" REVOKE UPDATE, USAGE ON SEQUENCES '
            'FROM "reader";') in sql
    assert 'ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "reporting" GRANT SELECT ON SEQUENCES TO "reader";' in sql
    assert "REVOKE ALL ON TABLES" in default_statements("reader", "app", "reporting", "tables", [])


def test_privileges_are_run_only_where_the_database_and_schema_exist() -> None:
    sql = privileges_script([("r", Target("db'1", "s", "tables"), ["SELECT"]),
                             ("r", Target("db'1", "s", "tables", "app"), [])])
    assert sql.count("\\connect") == 1 and "datname = 'db''1' AND datallowconn" in sql
    assert sql.count("nspname = 's') AS qf_schema") == 1
    assert privileges_script([]) == ""


def test_settings_are_exact_and_quoted() -> None:
    sql = settings_statements("ROLE", 'a"b', {"search_path": ["app", "$user"], "statement_timeout": "5s"})
    assert 'ALTER ROLE "a""b" SET "search_path" TO \'app\', \'$user\';' in sql
    assert "ALTER ROLE \"a\"\"b\" SET \"statement_timeout\" TO '5s';" in sql
    assert "<> ALL (ARRAY['search_path', 'statement_timeout']::text[])" in sql
    assert "'ALTER ROLE %I RESET %I'" in sql and "\\gexec" in sql
    database = settings_statements("DATABASE", "d", {})
    assert "s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = 'd')" in database


def test_membership_is_exact() -> None:
    sql = membership_statements("alice", ["readonly", "pg_monitor"])
    assert sql.startswith('GRANT "pg_monitor" TO "alice";\nGRANT "readonly" TO "alice";\n')
    assert "g.rolname <> ALL (ARRAY['pg_monitor', 'readonly']::text[])" in sql
    assert "<> ALL (ARRAY[]::text[])" in membership_statements("alice", [])


def test_role_attributes_include_limits_and_expiry() -> None:
    user = {"name": "u", "login": True, "createdb": False, "createrole": False, "superuser": False,
            "inherit": False, "replication": True, "bypassrls": False, "connection_limit": 3,
            "valid_until": "2031-01-01T00:00:00Z", "password": None, "grants": {}}
    sql = ensure_user(user, "m")
    assert ("WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER NOINHERIT REPLICATION NOBYPASSRLS CONNECTION LIMIT 3 "
            "VALID UNTIL '2031-01-01T00:00:00Z';") in sql
    assert "CONNECTION LIMIT -1 VALID UNTIL 'infinity'" in ensure_user({**user, "connection_limit": None,
                                                                         "valid_until": None}, "m")


def test_database_sql_public_template_and_collation() -> None:
    form = {"name": "d", "owner": "o", "public": {"database": []}, "connection_limit": 5, "allow_connections": True}
    sql = ensure_database(form, "m", {}, template="tpl", lc_collate="C", lc_ctype="C")
    assert "TEMPLATE \"tpl\" LC_COLLATE ''C'' LC_CTYPE ''C''" in sql
    assert 'REVOKE ALL ON DATABASE "d" FROM PUBLIC;' in sql and "GRANT" not in sql.split("FROM PUBLIC")[1][:20]
    assert 'ALTER DATABASE "d" WITH CONNECTION LIMIT 5;' in sql
    inside_sql = inside_database({"name": "d", "owner": "o", "public": {"public_schema": ["USAGE"]}},
                                 {"pg_trgm": {"version": "1.6", "schema": "ext"}})
    assert 'CREATE SCHEMA IF NOT EXISTS "ext" AUTHORIZATION "o";' in inside_sql
    assert "CREATE EXTENSION IF NOT EXISTS \"pg_trgm\" SCHEMA \"ext\" VERSION '1.6';" in inside_sql
    assert "ALTER EXTENSION \"pg_trgm\" UPDATE TO ''1.6''" in inside_sql
    assert "ALTER EXTENSION \"pg_trgm\" SET SCHEMA \"ext\"" in inside_sql
    assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC;\nGRANT USAGE ON SCHEMA public TO PUBLIC;" in inside_sql
    assert inside_database({"name": "d", "owner": "o"}, {}) == ""


# --- databases and schemas from catalog rows ----------------------------------------------------------


def test_live_database_reads_public_settings_and_extensions() -> None:
    row = {"name": "app", "owner": "app", "public": ["CONNECT"], "connection_limit": -1, "allow_connections": True,
           "settings": ["work_mem=16MB"], "collate": "C", "ctype": "C"}
    form = live_database(row, inside()["app"])
    assert form["public"] == {"database": ["CONNECT"], "public_schema": ["USAGE"]}
    assert form["extensions"] == ["pg_trgm", "plpgsql"]
    assert form["extension_versions"]["pg_trgm"] == "1.5" and form["extension_schemas"]["pg_trgm"] == "ext"
    assert form["settings"] == {"work_mem": "16MB"} and form["connection_limit"] is None
    closed = live_database({**row, "allow_connections": False}, None)
    assert closed["public"] == {"database": ["CONNECT"]} and closed["extensions"] == []
    assert judge_public({"database": [], "public_schema": ["USAGE"]}, closed, None) == {
        "database": ["CONNECT"], "public_schema": ["USAGE"]}


def test_schema_public_defaults_follow_the_server_version() -> None:
    assert public_schema_default(150004) == ["USAGE"]
    assert public_schema_default(140011) == ["CREATE", "USAGE"]
    assert public_schema_default(None) is None


def test_pg_database_owner_counts_as_the_database_owner() -> None:
    live = LiveSchema("app", "public", "app")
    assert judge_owner("app", {"owner": "pg_database_owner"}, live) == "app"
    assert judge_owner("other", {"owner": "pg_database_owner"}, live) == "pg_database_owner"
    assert judge_owner("app", {"owner": "postgres"}, live) == "postgres"


@pytest.mark.parametrize("given, stored", [
    ("2031-01-01", "2031-01-01T00:00:00Z"),
    ("2031-01-01T12:30:00+02:00", "2031-01-01T10:30:00Z"),
    ("2031-01-01 12:30:00.75Z", "2031-01-01T12:30:00Z"),
    ("Infinity", "infinity"),
    (None, None),
])
def test_valid_until_is_read_as_utc(given, stored) -> None:
    assert parse_valid_until(given) == stored


# --- markers and drops ----------------------------------------------------------------------------------


@pytest.mark.parametrize("guarded, on_drop", [
    (False, None), (True, None), (False, "refuse"), (True, "refuse"), (True, {"reassign_to": "a:b c"}),
    (False, {"reassign_to": "heir"})])
def test_markers_keep_the_guard_and_the_drop_policy(guarded, on_drop) -> None:
    text = marker("st", Address("users", "u"), guarded, on_drop)
    assert read_marker(text) == ("st", Address("users", "u"), guarded)
    assert read_on_drop(text) == on_drop
    assert read_on_drop("a comment by hand:on_drop=refuse") is None


def _server() -> PgTarget:
    return PgTarget("main", "s-pgsql", "postgres", "postgres", "postgres")


def _dropped(policy, owned=(("keep", 2, ("schema s", "table s.t")),), owns=("mydb",), key="u") -> LiveObject:
    payload = LiveUser(owns=owns, depends_in=("keep",), owned_in=owned)
    return LiveObject("users", Address("users", key), key, key, {"name": key, "on_drop": policy}, payload, "s",
                      False, _server())


def test_owned_text_names_databases_and_objects() -> None:
    assert owned_text(_dropped("refuse").payload) == 'database "mydb"; in database "keep": schema s, table s.t'
    assert owned_text(LiveUser(owned_in=(("x", 12, ()),))) == '12 object(s) in database "x"'
    assert "and 3 more" in owned_text(LiveUser(owned_in=(("x", 5, ("a", "b")),)))


def test_a_refusing_role_stops_the_plan_listing_what_it_owns() -> None:
    problems = conflicts_of_drops("users", {}, [_dropped("refuse")])
    assert len(problems) == 1 and "users.u" in problems[0] and "table s.t" in problems[0]
    assert conflicts_of_drops("users", {}, [_dropped("refuse", owned=(), owns=())]) == []


def test_an_heir_that_will_not_exist_stops_the_plan() -> None:
    leaving = _dropped({"reassign_to": "heir"})
    assert "will not exist" in conflicts_of_drops("users", {}, [leaving])[0]
    heir = LiveObject("users", None, "heir", "heir", {"name": "heir"}, None, None, False, _server())
    assert conflicts_of_drops("users", {}, [leaving, heir]) == []  # a role outside the stack stays
    gone = _dropped(None, key="heir")
    assert conflicts_of_drops("users", {}, [leaving, gone])  # being dropped in the same plan


def test_drop_scripts_follow_the_policy() -> None:
    def change(policy):
        live = _dropped(policy)
        return Change(Address("users", "u"), Action.DELETE, before=live.form, live_payload=live.payload,
                      live_target=live.target)

    assert 'REASSIGN OWNED BY "u" TO "heir";' in drop_script(change({"reassign_to": "heir"}))
    assert 'REASSIGN OWNED BY "u" TO "postgres";' in drop_script(change(None))
    refusing = drop_script(change("refuse"))
    assert refusing.startswith("SELECT set_config('quayform.role', 'u', false);\n" + REFUSE_GUARD)
    assert "'u'" not in REFUSE_GUARD


# --- the spec ---------------------------------------------------------------------------------------------

SPEC = """\
version: 1
stack: s
containers:
  pgsql: {image: x}
postgres:
  main: {container: pgsql}
databases:
  app: {server: main, owner: app, extensions: {pg_trgm: {version: "1.6"}}, public: {database: [temp]}}
users:
  app: {server: main}
  group: {server: main, login: false, privileges: {rep: {schema: usage, tables: [all]}},
          default_privileges: {rep: {tables: [SELECT]}}}
  alice: {server: main, member_of: [group, pg_monitor], valid_until: "2030-06-01T12:00:00+02:00",
          settings: {Search_Path: "rep, public"}, on_drop: {reassign_to: app}}
schemas:
  rep: {database: app, name: reporting, owner: app}
"""


def spec_from(tmp_path: Path, body: str):
    path = tmp_path / "quayform.yaml"
    path.write_text(body)
    return load_spec(str(path), environ={})


def test_desired_forms_of_users_and_schemas(tmp_path) -> None:
    spec = spec_from(tmp_path, SPEC)
    ctx = context(spec)
    group = USERS.desired(spec, "group", ctx)
    assert group.form["privileges"] == {
        "schema app.reporting": ["USAGE"],
        "tables in app.reporting": ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"]}
    assert group.form["default_privileges"] == {"tables created by app in app.reporting": ["SELECT"]}
    assert set(group.payload.targets) >= {"functions in app.reporting", "sequences created by app in app.reporting"}
    alice = USERS.desired(spec, "alice", ctx).form
    assert alice["member_of"] == ["group", "pg_monitor"] and alice["valid_until"] == "2030-06-01T10:00:00Z"
    assert alice["settings"] == {"search_path": ["rep", "public"]} and alice["on_drop"] == {"reassign_to": "app"}
    schema = SCHEMAS.desired(spec, "rep", ctx)
    assert schema.form == {"name": "app.reporting", "owner": "app", "owned_by": "s"}
    assert {role for role, _, _ in schema.payload.privileges} == {"group"}


def test_users_depend_on_their_groups_and_schemas_on_the_users_granted_in_them(tmp_path) -> None:
    spec = spec_from(tmp_path, SPEC)
    assert Address("users", "group") in {a for a, _ in USERS.edges(spec, "alice", spec.users["alice"])}
    edges = {a for a, _ in SCHEMAS.edges(spec, "rep", spec.schemas["rep"])}
    assert edges == {Address("databases", "app"), Address("users", "app"), Address("users", "group")}


@pytest.mark.parametrize("change, message", [
    (("schema: usage", "schema: select"), "'select' is not a privilege on a schema"),
    (("tables: [all]", "tables: [EXECUTE]"), "'EXECUTE' is not a privilege on tables"),
    (("privileges: {rep:", "privileges: {nope:"), "names schemas.nope, which is not in the spec"),
    (("default_privileges: {rep: {tables: [SELECT]}}", "default_privileges: {rep: {sequences: [USAGE]}}"),
     "privileges.rep.sequences must give it too"),
    (("member_of: [group, pg_monitor]", "member_of: [alice]"), "member_of names the user itself"),
    (("reassign_to: app", "reassign_to: alice"), "on_drop.reassign_to names the user itself"),
    (("on_drop: {reassign_to: app}", "on_drop: keep"), "on_drop is `refuse` or {reassign_to: USER}"),
    (('valid_until: "2030-06-01T12:00:00+02:00"', "valid_until: soon"), "'soon' is not a date"),
    (("rep: {database: app,", "rep: {database: nodb,"), "names databases.nodb, which is not in the spec"),
    (("name: reporting", "name: pg_mine"), "keeps for its own schemas"),
    (("public: {database: [temp]}", "allow_connections: false"), "to manage its schemas"),
    (("extensions: {pg_trgm: {version: \"1.6\"}}", "extensions: pg_trgm"), "give a list of extension names"),
    (("owner: app, extensions", "owner: app, locale: C, lc_ctype: C, extensions"), "not both"),
    (("settings: {Search_Path:", "settings: {\"bad name\":"), "is not a PostgreSQL setting name"),
])
def test_validate_refuses(tmp_path, change, message) -> None:
    old, new = change
    assert old in SPEC
    with pytest.raises(SpecError) as refused:
        spec_from(tmp_path, SPEC.replace(old, new, 1))
    assert message in str(refused.value)


def test_two_schemas_of_one_name_in_two_databases_are_fine_in_one_database_not(tmp_path) -> None:
    body = SPEC.replace("schemas:\n", "schemas:\n  other: {database: app2, name: reporting}\n").replace(
        "databases:\n", "databases:\n  app2: {server: main}\n")
    spec_from(tmp_path, body)
    clash = SPEC.replace("schemas:\n", "schemas:\n  other: {database: app, name: reporting}\n")
    with pytest.raises(SpecError) as refused:
        spec_from(tmp_path, clash)
    assert "both use the name 'reporting' in 'app' on postgres.main" in str(refused.value)


def test_a_role_named_that_neither_the_spec_nor_the_server_has_stops_the_plan(tmp_path) -> None:
    from quayform.kinds.postgres.user import missing_roles

    spec = spec_from(tmp_path, SPEC.replace("member_of: [group, pg_monitor]", "member_of: [group, pg_monitor, ghost]"))
    ctx = context(spec)
    desired = {Address("users", k): USERS.desired(spec, k, ctx) for k in spec.users}
    target = desired[Address("users", "alice")].target
    admin = LiveObject("users", None, "postgres", "postgres", {"name": "postgres"}, None, None, False, target)
    problems = missing_roles("users", desired, [admin])
    assert len(problems) == 1 and "users.alice" in problems[0] and "'ghost'" in problems[0]
    ghost = LiveObject("users", None, "ghost", "ghost", {"name": "ghost"}, None, None, False, target)
    assert missing_roles("users", desired, [admin, ghost]) == []
    assert missing_roles("users", desired, []) == []  # a server not read is not judged


FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "postgres" / "privileges.yaml"


def test_the_fixture_loads_fits_the_editor_schema_and_orders_roles_before_schemas() -> None:
    import json

    import jsonschema

    from quayform.graph import build_graph
    from quayform.schema import spec_schema
    from quayform.spec.yaml_loader import load_yaml

    spec = load_spec(str(FIXTURE), environ={"PG_ADMIN": "a", "ALICE_PW": "b"})
    order = [str(a) for a in build_graph(spec).order()]
    assert order.index("users.readonly") < order.index("users.readwrite") < order.index("users.alice")
    assert order.index("databases.app") < order.index("schemas.reporting")
    assert order.index("users.readwrite") < order.index("schemas.reporting")
    document = json.loads(json.dumps(load_yaml(FIXTURE.read_text(), str(FIXTURE)).data, default=str))
    errors = list(jsonschema.Draft202012Validator(spec_schema()).iter_errors(document))
    assert errors == []
    database = spec.databases["app"]
    assert set(database.extensions) == {"pg_trgm", "uuid-ossp"} and database.extensions["pg_trgm"].schema_ == "ext"


def test_a_group_being_dropped_cannot_still_be_joined(tmp_path) -> None:
    from quayform.kinds.postgres.user import missing_roles

    spec = spec_from(tmp_path, SPEC.replace("member_of: [group, pg_monitor]", "member_of: [pg_monitor, old_group]"))
    ctx = context(spec)
    desired = {Address("users", k): USERS.desired(spec, k, ctx) for k in spec.users}
    target = desired[Address("users", "alice")].target
    dropped = LiveObject("users", Address("users", "old_group"), "old_group", "old_group", {"name": "old_group"},
                         None, "s", False, target)
    assert "'old_group'" in missing_roles("users", desired, [dropped])[0]


def test_in_a_schema_being_adopted_what_the_role_holds_is_shown() -> None:
    from quayform.kinds.postgres.privileges import judge_default_privileges

    read = inside()
    read["app"]["schemas"].append({"name": "legacy", "owner": "app", "comment": None,
                                   "grants": [{"grantee": "reader", "privilege": "CREATE"}]})
    read["app"]["objects"].append({"schema": "legacy", "class": "tables", "owner": "app", "n": 2})
    read["app"]["object_grants"].append({"schema": "legacy", "class": "tables", "grantee": "reader",
                                         "privilege": "DELETE", "n": 2})
    read["app"]["default_acl"].append({"creator": "app", "schema": "legacy", "class": "S", "grantee": "reader",
                                       "privilege": "USAGE"})
    form, payload = live_user({"name": "reader"}, [], [], read, STACK)
    assert not any("legacy" in key for key in form["privileges"])  # not the stack's yet
    desired = {"tables in app.legacy": ["SELECT"]}
    judged = judge_privileges(desired, form, payload)
    assert judged["tables in app.legacy"] == ["DELETE"] and judged["schema app.legacy"] == ["CREATE"]
    assert "sequences in app.legacy" not in judged
    assert judge_default_privileges({"sequences created by app in app.legacy": []}, form, payload)[
        "sequences created by app in app.legacy"] == ["USAGE"]
    assert not any("legacy" in key for key in judge_privileges({}, form, payload))  # a schema the spec does not name
