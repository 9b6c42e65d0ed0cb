"""The YAML loader: YAML 1.2 plain scalars, a line for every key path, duplicate keys and tags refused."""

from __future__ import annotations

import math

import pytest

from quayform.errors import SpecError
from quayform.spec.yaml_loader import YamlFloat, YamlInt, format_path, load_yaml


def value_of(scalar: str):
    return load_yaml(f"v: {scalar}\n", "f.yaml").data["v"]


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_yaml(text, "f.yaml")
    return str(info.value).splitlines()


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        # YAML 1.1 sexagesimal numbers, booleans and octals stay what was typed.
        ("22:22", "22:22"),
        ("[22:22, 8080:80]", ["22:22", "8080:80"]),
        ("12:30:00", "12:30:00"),
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("N", "N"),
        ("0600", "0600"),
        ("0755", "0755"),
        ("012", "012"),
        ("0b101", "0b101"),
        ("1_000", "1_000"),
        ("2024-01-01", "2024-01-01"),
        ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
        ("=", "="),
        ("tRUE", "tRUE"),
        ("'600'", "600"),
        ('"true"', "true"),
        ("!!str 600", "600"),
        # true/false are the only booleans.
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        # YAML 1.2 core numbers.
        ("0", 0),
        ("600", 600),
        ("-5", -5),
        ("+5", 5),
        ("0o600", 0o600),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("-0.5", -0.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        # null.
        ("", None),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
    ],
)
def test_plain_scalars_follow_yaml_1_2(scalar, expected):
    value = value_of(scalar)
    assert value == expected
    assert type(value) in ((int, YamlInt) if isinstance(expected, int) and not isinstance(expected, bool) else (YamlFloat,) if isinstance(expected, float) else (type(expected),))


def test_nan_is_a_float():
    assert math.isnan(value_of(".nan"))


@pytest.mark.parametrize(("scalar", "value", "text"), [("600", 600, "600"), ("0o600", 384, "0o600"), ("0x1F", 31, "0x1F"),
                                                       ("-5", -5, "-5")])
def test_ints_remember_how_they_were_written(scalar, value, text):
    number = value_of(scalar)
    assert isinstance(number, YamlInt)
    assert (number, number.text) == (value, text)


def test_lines_of_every_key_and_list_item():
    text = (
        "version: 1\n"           # 1
        "containers:\n"          # 2
        "  web:\n"               # 3
        "    image: nginx\n"     # 4
        "    ports:\n"           # 5
        "      - 80:80\n"        # 6
        "      - 443:443\n"      # 7
        "    env: {A: 1,\n"      # 8
        "          B: 2}\n"      # 9
    )
    loaded = load_yaml(text, "f.yaml")
    assert loaded.lines[("version",)] == 1
    assert loaded.lines[("containers", "web")] == 3
    assert loaded.lines[("containers", "web", "ports", 1)] == 7
    assert loaded.lines[("containers", "web", "env", "B")] == 9
    assert loaded.line_of(("containers", "web", "ports", 0)) == 6
    # A path that is not in the file falls back to its nearest ancestor.
    assert loaded.line_of(("containers", "web", "restart")) == 3
    assert loaded.line_of(("containers", "db", "image")) == 2
    assert loaded.line_of(("nothing",)) == 1


def test_empty_document():
    loaded = load_yaml("# nothing here\n", "f.yaml")
    assert loaded.data is None and loaded.lines == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\na: 2\n", ["f.yaml:2: a: duplicate key 'a' (first defined on line 1)"]),
        ("x:\n  a: 1\n  b: 2\n  a: 3\n", ["f.yaml:4: x.a: duplicate key 'a' (first defined on line 2)"]),
        ("x: {a: 1, a: 2}\n", ["f.yaml:1: x.a: duplicate key 'a' (first defined on line 1)"]),
        ("x:\n  - {k: 1, k: 2}\n", ["f.yaml:2: x[0].k: duplicate key 'k' (first defined on line 2)"]),
        ("a: 1\n'a': 2\n", ["f.yaml:2: a: duplicate key 'a' (first defined on line 1)"]),
        ("1: x\n'1': y\n", ["f.yaml:2: 1: duplicate key '1' (first defined on line 1)"]),
        ("a: 1\nb: 1\na: 2\nb: 2\na: 3\n", [
            "f.yaml:3: a: duplicate key 'a' (first defined on line 1)",
            "f.yaml:4: b: duplicate key 'b' (first defined on line 2)",
            "f.yaml:5: a: duplicate key 'a' (first defined on line 1)",
        ]),
        ("files:\n  /etc/x: 1\n  /etc/x: 2\n", ["f.yaml:3: files['/etc/x']: duplicate key '/etc/x' (first defined on line 2)"]),
    ],
    ids=["top", "nested", "flow", "in-list", "quoted", "int-and-string", "several", "odd-key"],
)
def test_duplicate_keys_name_both_lines(text, expected):
    assert problems(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!python/object:os.system {cmd: ls}\n",
         "f.yaml:1: a: YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed here"),
        ("a: !!python/object/apply:os.system [ls]\n",
         "f.yaml:1: a: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed here"),
        ("a:\n  b: !!python/name:os.system ''\n",
         "f.yaml:2: a.b: YAML tag 'tag:yaml.org,2002:python/name:os.system' is not allowed"),
        ("a: !!binary aGVsbG8=\n", "f.yaml:1: a: YAML tag 'tag:yaml.org,2002:binary' is not allowed"),
        ("a: !!timestamp 2024-01-01\n", "f.yaml:1: a: YAML tag 'tag:yaml.org,2002:timestamp' is not allowed"),
        ("a: !!set {x, y}\n", "f.yaml:1: a: YAML tag 'tag:yaml.org,2002:set' is not allowed here"),
        ("a: !!omap [x: 1]\n", "f.yaml:1: a: YAML tag 'tag:yaml.org,2002:omap' is not allowed here"),
        ("a: !vault secret/x\n", "f.yaml:1: a: YAML tag '!vault' is not allowed"),
        ("- 1\n- !Ref x\n", "f.yaml:2: [1]: YAML tag '!Ref' is not allowed"),
    ],
    ids=["python-object", "python-apply", "python-name", "binary", "timestamp", "set", "omap", "custom", "in-list"],
)
def test_tags_other_than_plain_types_are_refused(text, expected):
    [line] = problems(text)
    assert line.startswith(expected)


@pytest.mark.parametrize(
    ("text", "value"),
    [("a: !!str 1\n", "1"), ("a: !!int '7'\n", 7), ("a: !!bool 'true'\n", True), ("a: !!null ''\n", None),
     ("a: !!float '1.5'\n", 1.5), ("a: !!map {b: 1}\n", {"b": 1}), ("a: !!seq [1]\n", [1])],
    ids=["str", "int", "bool", "null", "float", "map", "seq"],
)
def test_explicit_plain_type_tags_are_allowed(text, value):
    assert load_yaml(text, "f.yaml").data["a"] == value


def test_explicit_tag_with_a_wrong_value():
    assert problems("a: !!int twelve\n") == ["f.yaml:1: a: 'twelve' is not a valid int"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\n b: 2\n", "f.yaml:2: invalid YAML: mapping values are not allowed here"),
        ("a: b: c\n", "f.yaml:1: invalid YAML: mapping values are not allowed here"),
        ("a:\n\tb: 1\n", "f.yaml:2: invalid YAML: while scanning for the next token found character '\\t' that cannot start any token"),
        ("a: *missing\n", "f.yaml:1: invalid YAML: found undefined alias 'missing'"),
        ("a: 1\n---\nb: 2\n", "f.yaml:2: invalid YAML: expected a single document in the stream but found another document"),
        ("a: {b: 1\n\nc: 2\n", "f.yaml:3: invalid YAML: while parsing a flow mapping expected ',' or '}', but got ':'"),
    ],
    ids=["indent", "nested-colon", "tab", "undefined-alias", "two-documents", "unclosed-flow"],
)
def test_malformed_yaml_names_a_line(text, expected):
    assert problems(text) == [expected]


def test_anchors_aliases_and_merge_keys():
    text = "base: &b {image: x, restart: always}\nweb:\n  <<: *b\n  restart: 'no'\nlist: [*b]\n"
    data = load_yaml(text, "f.yaml").data
    assert data["web"] == {"image": "x", "restart": "no"}
    assert data["list"] == [{"image": "x", "restart": "always"}]


def test_merge_of_several_mappings_prefers_the_first():
    text = "a: &a {k: 1, x: 1}\nb: &b {k: 2, y: 2}\nc:\n  <<: [*a, *b]\n"
    assert load_yaml(text, "f.yaml").data["c"] == {"k": 1, "x": 1, "y": 2}


def test_merge_of_a_scalar_is_refused():
    assert problems("a: &a 1\nb:\n  <<: *a\n") == ["f.yaml:1: b: '<<' merges only mappings"]


def test_non_scalar_key_is_refused():
    assert problems("? [a, b]\n: 1\n") == ["f.yaml:1: a key must be a plain scalar"]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("stack",), "stack"),
        (("containers", "quay", "ports", 1), "containers.quay.ports[1]"),
        (("containers", "quay", "files", "/conf/config.yaml", "mode"), "containers.quay.files['/conf/config.yaml'].mode"),
        (("volumes", "pgsql-data", "driver_opts", "o"), "volumes.pgsql-data.driver_opts.o"),
        (("containers", "a", "labels", "io.example.tier"), "containers.a.labels['io.example.tier']"),
        ((0, "a"), "[0].a"),
    ],
)
def test_format_path(path, text):
    assert format_path(path) == text
