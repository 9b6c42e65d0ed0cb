"""`${section.key[.attr]}` references: parsing, finding, and single-pass substitution."""

from __future__ import annotations

import pytest

from quayform.sensitive import Sensitive
from quayform.spec.refs import Ref, RefSyntaxError, find_refs, parse_ref, substitute


@pytest.mark.parametrize(
    ("inner", "ref"),
    [
        ("variables.hostname", Ref("variables", "hostname", None, "${variables.hostname}")),
        ("secrets.pg_admin_password", Ref("secrets", "pg_admin_password", None, "${secrets.pg_admin_password}")),
        ("containers.pgsql.name", Ref("containers", "pgsql", "name", "${containers.pgsql.name}")),
        ("volumes.pgsql-data.name", Ref("volumes", "pgsql-data", "name", "${volumes.pgsql-data.name}")),
        ("networks.backend.name", Ref("networks", "backend", "name", "${networks.backend.name}")),
        (" variables.x ", Ref("variables", "x", None, "${ variables.x }")),
    ],
)
def test_parse_ref(inner, ref):
    assert parse_ref(inner) == ref
    assert str(parse_ref(inner)) == ref.text


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        ("hostname", "${hostname} is not a valid reference (expected ${section.key} or ${section.key.attr})"),
        ("", "${} is not a valid reference"),
        ("a.b.c.d", "${a.b.c.d} is not a valid reference"),
        ("variables.", "${variables.} is not a valid reference"),
        ("variables.host name", "${variables.host name} is not a valid reference"),
        ("variables..x", "${variables..x} is not a valid reference"),
        ("env.HOME", "${env.HOME}: unknown section 'env' (expected one of variables, secrets, networks, volumes, containers"),
        ("Variables.x", "${Variables.x}: unknown section 'Variables'"),
        ("variables.x.name", "${variables.x.name}: variables have no attributes"),
        ("secrets.x.value", "${secrets.x.value}: secrets have no attributes"),
        ("containers.pgsql", "${containers.pgsql}: name an attribute, e.g. ${containers.pgsql.name}"),
        ("volumes.data", "${volumes.data}: name an attribute, e.g. ${volumes.data.name}"),
        ("containers.pgsql.image", "${containers.pgsql.image}: containers have no attribute 'image' (available: name, host, port)"),
        ("networks.n.id", "${networks.n.id}: networks have no attribute 'id' (available: name)"),
    ],
)
def test_parse_ref_refuses(inner, message):
    with pytest.raises(RefSyntaxError) as info:
        parse_ref(inner)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "refs"),
    [
        ("plain text", []),
        ("${variables.a}", ["${variables.a}"]),
        ("http://${variables.host}:${variables.port}/", ["${variables.host}", "${variables.port}"]),
        ("$${variables.a} ${variables.b}", ["${variables.b}"]),
        ("$HOME and $$ and ${containers.db.name}", ["${containers.db.name}"]),
        ("{not a ref} $", []),
    ],
)
def test_find_refs(text, refs):
    assert [str(r) for r in find_refs(text)] == refs


@pytest.mark.parametrize("text", ["${variables.a", "ok ${variables.a} then ${", "${"])
def test_find_refs_unterminated(text):
    with pytest.raises(RefSyntaxError, match=r"unterminated '\$\{' \(write '\$\$\{' for a literal '\$\{'\)"):
        find_refs(text)


VALUES = {
    "${variables.a}": "A",
    "${variables.nested}": "${variables.a}",
    "${variables.escape}": "$${x}",
    "${secrets.pw}": Sensitive("hunter2"),
    "${containers.db.name}": "demo-db",
}


def lookup(ref: Ref):
    return VALUES[ref.text]


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("plain", "plain"),
        ("", ""),
        ("${variables.a}", "A"),
        ("x${variables.a}y${variables.a}z", "xAyAz"),
        ("host=${containers.db.name}", "host=demo-db"),
        ("$${variables.a}", "${variables.a}"),
        ("$${", "${"),
        ("$$${variables.a}", "$${variables.a}"),
        ("cost: $5 and $$", "cost: $5 and $$"),
        # Single pass: a value that contains a reference is inserted as it is.
        ("${variables.nested}", "${variables.a}"),
        ("${variables.escape}", "$${x}"),
    ],
)
def test_substitute(text, result):
    value = substitute(text, lookup)
    assert value == result
    assert not isinstance(value, Sensitive)


@pytest.mark.parametrize(
    ("text", "revealed"),
    [("${secrets.pw}", "hunter2"), ("postgres://u:${secrets.pw}@${containers.db.name}/db", "postgres://u:hunter2@demo-db/db")],
)
def test_substitute_with_a_secret_is_sensitive(text, revealed):
    value = substitute(text, lookup)
    assert isinstance(value, Sensitive)
    assert value.reveal() == revealed
    assert str(value) == repr(value) == f"{value}" == "(sensitive)"


def test_substitute_calls_the_resolver_once_per_reference_in_order():
    seen = []
    substitute("${variables.b} $${variables.skip} ${containers.x.name} ${variables.b}",
               lambda ref: seen.append(ref.text) or "v")
    assert seen == ["${variables.b}", "${containers.x.name}", "${variables.b}"]


@pytest.mark.parametrize(
    ("text", "error"),
    [("${variables.a", "unterminated '${'"), ("${nope}", "${nope} is not a valid reference")],
)
def test_substitute_refuses_malformed_references(text, error):
    with pytest.raises(RefSyntaxError) as info:
        substitute(text, lookup)
    assert error in str(info.value)


def test_substitute_passes_lookup_errors_through():
    def missing(ref: Ref):
        raise LookupError(f"{ref} names no variable {ref.key!r}")

    with pytest.raises(LookupError, match="names no variable 'zz'"):
        substitute("${variables.zz}", missing)
