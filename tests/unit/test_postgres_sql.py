"""Quoting, SCRAM verifiers, acl parsing and the SQL scripts, without a server."""

from __future__ import annotations

import base64

import pytest

from quayform.kinds.postgres.sql import (drop_user, ensure_database, ensure_user, grant_statements, password_matches,
                                         psql_connect, quote_ident, quote_literal, scram_verifier)
from quayform.kinds.postgres.user import judge_grants, judge_password, parse_acl, privileges
from quayform.kinds.postgres.user import live_user as catalog_user


def live_user(raw: dict, databases: list, desired: dict) -> dict:
    """The user kind's live form, judged against the desired one as diff does."""
    form, payload = catalog_user(raw, databases)
    return {**form, "password": judge_password(desired.get("password"), form, payload),
            "grants": judge_grants(desired.get("grants"), form, payload)}
from quayform.sensitive import Sensitive


@pytest.mark.parametrize("name, quoted", [
    ("clair", '"clair"'),
    ('a"b', '"a""b"'),
    ("Select", '"Select"'),
    ("x; DROP ROLE postgres", '"x; DROP ROLE postgres"'),
])
def test_identifiers_are_always_quoted(name: str, quoted: str) -> None:
    assert quote_ident(name) == quoted


@pytest.mark.parametrize("value, quoted", [
    ("plain", "'plain'"),
    ("'; DROP ROLE postgres; --", "'''; DROP ROLE postgres; --'"),
    ("back\\slash", "'back\\slash'"),
])
def test_literals_double_their_quotes(value: str, quoted: str) -> None:
    assert quote_literal(value) == quoted


def test_nul_is_refused() -> None:
    with pytest.raises(ValueError):
        quote_literal("a\0b")
    with pytest.raises(ValueError):
        quote_ident("a\0b")


@pytest.mark.parametrize("name, line", [
    ("plain", "\\connect -reuse-previous=on \"dbname='plain'\""),
    ('a"b', "\\connect -reuse-previous=on \"dbname='a\"\"b'\""),
    ("it's\\x", "\\connect -reuse-previous=on \"dbname='it\\'s\\\\x'\""),
    ("x=y z", "\\connect -reuse-previous=on \"dbname='x=y z'\""),
])
def test_psql_connect_takes_any_database_name(name, line) -> None:
    assert psql_connect(name) == line


def test_scram_verifier_round_trip_and_format() -> None:
    salt = b"0123456789abcdef"
    verifier = scram_verifier("hunter2", salt=salt)
    method, iterations_salt, keys = verifier.split("$")
    assert method == "SCRAM-SHA-256"
    assert iterations_salt == "4096:" + base64.b64encode(salt).decode()
    assert len(keys.split(":")) == 2
    assert password_matches("hunter2", verifier, "anyone")
    assert not password_matches("hunter3", verifier, "anyone")
    assert not password_matches("hunter2", None, "anyone")
    assert not password_matches("hunter2", "garbage", "anyone")
    assert scram_verifier("hunter2") != scram_verifier("hunter2")  # a fresh salt each time


def test_md5_verifiers_are_understood() -> None:
    import hashlib

    legacy = "md5" + hashlib.md5(b"secretalice").hexdigest()
    assert password_matches("secret", legacy, "alice")
    assert not password_matches("secret", legacy, "bob")


@pytest.mark.parametrize("acl, expected", [
    (None, {}),
    (["=Tc/clair", "clair=CTc/clair"], {"": ["CONNECT", "TEMPORARY"], "clair": ["CONNECT", "CREATE", "TEMPORARY"]}),
    (['"a""b"=c/quayuser'], {'a"b': ["CONNECT"]}),
    (['"with space"=C*/x'], {"with space": ["CREATE"]}),
])
def test_parse_acl(acl, expected) -> None:
    assert parse_acl(acl) == expected


def test_privileges_expand_all_and_temp() -> None:
    assert privileges(["ALL"]) == ["CONNECT", "CREATE", "TEMPORARY"]
    assert privileges(["TEMP", "CONNECT"]) == ["CONNECT", "TEMPORARY"]


def _user(**extra):
    base = {"name": 'a"b', "login": True, "createdb": False, "createrole": False, "superuser": False,
            "password": Sensitive("'; DROP ROLE postgres; --"), "grants": {"quay": ["CONNECT"]}}
    return {**base, **extra}


MARKER = "quayform:s:users.weird"


def test_ensure_user_never_contains_the_password() -> None:
    script = ensure_user(_user(), MARKER)
    assert "DROP ROLE postgres" not in script
    assert "PASSWORD 'SCRAM-SHA-256$4096:" in script
    assert 'ALTER ROLE "a""b" WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER' in script
    assert "\\gexec" in script and "CREATE ROLE \"\"a\"\"\"\"b\"\"" not in script


def test_ensure_user_revokes_grants_the_spec_dropped() -> None:
    script = ensure_user(_user(grants={}), MARKER, live_grants={"old": ["CONNECT"]})
    assert 'REVOKE ALL ON DATABASE "old" FROM "a""b";' in script


def test_grant_statements_keep_owner_privileges() -> None:
    assert grant_statements("o", "d", ["CONNECT"], owned=True) == 'GRANT CONNECT ON DATABASE "d" TO "o";\n'
    assert grant_statements("u", "d", []) == 'REVOKE ALL ON DATABASE "d" FROM "u";\n'


def test_ensure_database_uses_template0_only_for_encoding_or_locale() -> None:
    base = {"name": "quay", "owner": "quayuser"}
    assert "TEMPLATE" not in ensure_database(base, "m", {})
    assert "TEMPLATE template0 ENCODING ''UTF8''" in ensure_database(base, "m", {}, encoding="UTF8")


def test_drop_user_revokes_then_drops() -> None:
    script = drop_user("u", ["a"])
    assert script.index("REVOKE ALL") < script.index('DROP ROLE IF EXISTS "u";')


def test_live_user_password_is_judged_against_the_spec() -> None:
    verifier = scram_verifier("right")
    raw = {"name": "u", "login": True, "verifier": verifier}
    desired = {"password": Sensitive("right"), "grants": {}}
    assert live_user(raw, [], desired)["password"] == Sensitive("right")
    assert live_user(raw, [], {**desired, "password": Sensitive("wrong")})["password"] != Sensitive("wrong")


def test_live_user_ignores_owned_databases_unless_declared() -> None:
    databases = [{"name": "mine", "owner": "u", "acl": ["u=CTc/u"]}, {"name": "other", "owner": "x", "acl": ["u=c/x"]}]
    assert live_user({"name": "u"}, databases, {"grants": {}})["grants"] == {"other": ["CONNECT"]}
    declared = live_user({"name": "u"}, databases, {"grants": {"mine": ["CONNECT", "CREATE", "TEMPORARY"]}})
    assert declared["grants"]["mine"] == ["CONNECT", "CREATE", "TEMPORARY"]
