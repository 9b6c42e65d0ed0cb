"""Variables from everywhere: the spec, a `.env` beside it (read as docker compose reads it),
`--var-file` files, QUAYFORM_VAR_NAME and `--var`, in that order of strength."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from quayform.errors import SpecError
from quayform.spec import load_spec
from quayform.spec.envfile import EnvSyntaxError, expand, parse_env, tokens
from quayform.spec.load import Overrides, is_env_style, read_var_files

# --------------------------------------------------------------------------- .env syntax (compose's rules)

COMPOSE_RULES = [
    # (line in the file, value compose gives it), from compose's documented .env syntax
    ("VAR=VAL", "VAL"),
    ('VAR="VAL"', "VAL"),
    ("VAR='VAL'", "VAL"),
    ("VAR: VAL", "VAL"),
    ("VAR = VAL  ", "VAL"),
    ("VAR=VAL # comment", "VAL"),
    ("VAR=VAL# not a comment", "VAL# not a comment"),
    ('VAR="VAL # not a comment"', "VAL # not a comment"),
    ('VAR="VAL" # comment', "VAL"),
    ("VAR='$OTHER'", "$OTHER"),
    ("VAR='${OTHER}'", "${OTHER}"),
    ("VAR='Let\\'s go!'", "Let's go!"),
    ('VAR="{\\"hello\\": \\"json\\"}"', '{"hello": "json"}'),
    ('VAR="some\\tvalue"', "some\tvalue"),
    ("VAR='some\\tvalue'", "some\\tvalue"),
    ("VAR=some\\tvalue", "some\\tvalue"),
    ("export VAR=VAL", "VAL"),
    ("export   VAR='VAL'", "VAL"),
    ("VAR=", ""),
    ('VAR=""', ""),
    ("VAR= # only a comment", ""),
    ('VAR="a\\nb"', "a\nb"),
    ('VAR="back\\\\slash"', "back\\slash"),
]


@pytest.mark.parametrize(("line", "value"), COMPOSE_RULES, ids=[line for line, _ in COMPOSE_RULES])
def test_a_dotenv_line_reads_as_compose_reads_it(line: str, value: str) -> None:
    (entry,) = parse_env(f"{line}\n", lambda name: None)
    assert (entry.name, entry.value, entry.line) == ("VAR", value, 1)


def test_comments_blank_lines_and_multiline_values_keep_the_line_count() -> None:
    text = "# a comment\n\nA=1\n  # indented comment\nB='multi\nline'\nC=3\n"
    entries = parse_env(text)
    assert [(e.name, e.value, e.line) for e in entries] == [("A", "1", 3), ("B", "multi\nline", 5), ("C", "3", 7)]


def test_crlf_files_read_like_lf_ones() -> None:
    assert [(e.name, e.value) for e in parse_env("A=1\r\nB='x'\r\n")] == [("A", "1"), ("B", "x")]


@pytest.mark.parametrize(
    ("line", "environ", "value"),
    [
        ("A=${HOME}", {"HOME": "/root"}, "/root"),
        ("A=$HOME/x", {"HOME": "/root"}, "/root/x"),
        ('A="${HOME}"', {"HOME": "/root"}, "/root"),
        ("A='${HOME}'", {"HOME": "/root"}, "${HOME}"),
        ("A=${UNSET:-fallback}", {}, "fallback"),
        ("A=${EMPTY:-fallback}", {"EMPTY": ""}, "fallback"),
        ("A=${EMPTY-fallback}", {"EMPTY": ""}, ""),
        ("A=${SET:+other}", {"SET": "x"}, "other"),
        ("A=${UNSET:+other}", {}, ""),
        ("A=${UNSET:-${HOME}}", {"HOME": "/root"}, "/root"),
        ("A=$$HOME", {"HOME": "/root"}, "$HOME"),
        ("A=${UNSET}", {}, ""),
    ],
)
def test_dotenv_values_are_interpolated_like_compose(line: str, environ: dict, value: str) -> None:
    (entry,) = parse_env(line, environ.get)
    assert entry.value == value


def test_interpolation_reads_earlier_lines_and_records_what_it_took_from_the_environment() -> None:
    a, b = parse_env("BASE=/srv\nDATA=${BASE}/data:${HOME}\n", {"HOME": "/root"}.get)
    assert b.value == "/srv/data:/root"
    assert a.from_environ == () and b.from_environ == ("HOME",)


def test_a_bare_name_takes_the_environment_value_or_nothing() -> None:
    assert [(e.name, e.value) for e in parse_env("A\nB\n", {"A": "from-env"}.get)] == [("A", "from-env")]
    assert parse_env("A\n") == []  # env_file reading (no lookup): compose leaves it out too


def test_without_a_lookup_values_are_literal() -> None:
    (entry,) = parse_env('A="${HOME} $$"\n')
    assert entry.value == "${HOME} $$"


@pytest.mark.parametrize(
    ("text", "line", "name", "message"),
    [
        ('A=1\nPASSWORD="hunter2', 2, "PASSWORD", 'the value of PASSWORD has no closing "'),
        ("PASSWORD='hunter2' trailing", 1, "PASSWORD", "unexpected text after the closing ' of PASSWORD's value"),
        ("MY-PASSWORD=hunter2", 1, "MY", "expected '=' after MY"),
        ("A=1\n\n=hunter2", 3, "", "expected NAME=VALUE"),
        ("PASSWORD=${NEEDED:?set it}", 1, "PASSWORD", "NEEDED is required (set it)"),
        ("PASSWORD=hun${ter2", 1, "PASSWORD", "is not a valid interpolation"),
    ],
)
def test_dotenv_errors_name_the_line_and_variable_never_the_value(text, line, name, message) -> None:
    with pytest.raises(EnvSyntaxError) as info:
        parse_env(text, lambda _name: None)
    assert (info.value.line, info.value.name) == (line, name)
    assert message in info.value.message
    assert "hunter2" not in info.value.message


def test_tokens_and_expand_share_compose_s_meaning() -> None:
    items = tokens("a ${X:-${Y:-z}} $$ $Z $ {")
    assert [item if isinstance(item, str) else item.text for item in items] == \
        ["a ", "${X:-${Y:-z}}", " $ ", "$Z", " $ {"]
    assert expand(items, {"Z": "zz"}.get) == "a z $ zz $ {"


@pytest.mark.parametrize(
    ("name", "text", "env_style"),
    [
        ("prod.yaml", "tag=1\n", False),
        ("prod.yml", "tag: 1\n", False),
        ("vars.json", '{"tag": "1"}', False),
        (".env", "tag: 1\n", True),
        (".env.prod", "tag: 1\n", True),
        ("prod.env", "tag: 1\n", True),
        ("prod.vars", "# comment\n\nexport tag=1\n", True),
        ("prod.vars", "# comment\ntag: 1\n", False),
        ("prod", "tag=1\n", True),
    ],
)
def test_a_variables_file_is_yaml_or_env_style_by_extension_then_content(name, text, env_style) -> None:
    assert is_env_style(name, text) is env_style


# --------------------------------------------------------------------------- precedence through load_spec

SPEC = """\
version: 1
stack: vars
variables:
  tag: spec
  port: "80"
  title: Shop
containers:
  web:
    image: "busybox:${variables.tag}"
    env: {PORT: "${variables.port}", TITLE: "${variables.title}"}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _values(spec_path: Path, overrides=None, environ=None) -> tuple[str, str, str]:
    spec = load_spec(str(spec_path), overrides, environ=environ or {}, read_secrets=False)
    web = spec.containers["web"]
    return web.image.partition(":")[2], web.env["PORT"], web.env["TITLE"]


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    return _write(tmp_path, "quayform.yaml", SPEC)


def test_the_spec_s_values_without_anything_else(spec_path: Path) -> None:
    assert _values(spec_path) == ("spec", "80", "Shop")


def test_each_layer_beats_the_one_below(spec_path: Path) -> None:
    folder = spec_path.parent
    _write(folder, ".env", "tag=dotenv\nport=81\ntitle=DotShop\nCOMPOSE_PROJECT_NAME=ignored\n")
    assert _values(spec_path) == ("dotenv", "81", "DotShop")
    first = _write(folder, "first.yaml", "tag: first\nport: 82\n")
    second = _write(folder, "second.env", "tag=second\n")
    files = read_var_files([str(first), str(second)], {}, {})
    assert _values(spec_path, files) == ("second", "82", "DotShop")  # later files win
    environ = {"QUAYFORM_VAR_tag": "environ", "QUAYFORM_VAR_port": "83"}
    files = read_var_files([str(first), str(second)], {}, environ)
    assert _values(spec_path, files, environ) == ("environ", "83", "DotShop")
    files = read_var_files([str(first), str(second)], {"tag": "cli"}, environ)
    assert _values(spec_path, files, environ) == ("cli", "83", "DotShop")


def test_numbers_in_a_yaml_variables_file_keep_their_text(spec_path: Path) -> None:
    path = _write(spec_path.parent, "vars.yaml", "tag: 15.10\nport: 8080\n")
    assert _values(spec_path, read_var_files([str(path)], {}, {}))[:2] == ("15.10", "8080")


def test_a_plain_environment_variable_is_no_override(spec_path: Path) -> None:
    _write(spec_path.parent, ".env", "tag=dotenv\n")
    assert _values(spec_path, environ={"tag": "shell"})[0] == "dotenv"


def test_names_the_spec_does_not_declare_are_ignored_in_dotenv_and_refused_from_a_var_file(spec_path: Path) -> None:
    folder = spec_path.parent
    _write(folder, ".env", "UNRELATED=1\ntag=dotenv\n")
    path = _write(folder, "prod.env", "# prod\ntag=prod\ntga=typo\n")
    with pytest.raises(SpecError) as info:
        _values(spec_path, read_var_files([str(path)], {}, {}))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3: tga: no variable 'tga' is declared in the spec ({spec_path})"]


def test_dotenv_is_read_only_for_a_spec_with_variables(tmp_path: Path) -> None:
    spec = _write(tmp_path, "quayform.yaml", "version: 1\nstack: novars\ncontainers:\n  web: {image: busybox}\n")
    _write(tmp_path, ".env", "A='unterminated\n")
    assert load_spec(str(spec), environ={}, read_secrets=False).stack == "novars"


def test_a_broken_dotenv_is_an_error_at_its_line(spec_path: Path) -> None:
    _write(spec_path.parent, ".env", "tag=1\nport='80\n")
    with pytest.raises(SpecError) as info:
        _values(spec_path)
    dotenv = spec_path.parent / ".env"
    assert [str(p) for p in info.value.problems] == [f"{dotenv}:2: port: the value of port has no closing '"]


def test_a_yaml_variables_file_refuses_lists_and_mappings_at_their_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "vars.yaml", "tag: ok\nport: [80]\ntitle: {a: b}\n")
    with pytest.raises(SpecError) as info:
        read_var_files([str(path)], {}, {})
    assert [str(p) for p in info.value.problems] == [
        f"{path}:2: port: a variable's value is a string, number or boolean",
        f"{path}:3: title: a variable's value is a string, number or boolean"]


def test_a_missing_variables_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        read_var_files([str(tmp_path / "nope.yaml")], {}, {})
    assert "cannot read the variables file" in str(info.value)


SECRET_SPEC = SPEC + "secrets:\n  db_password: {env: DB_PASSWORD}\n"


@pytest.mark.parametrize("dotenv", ["title=${DB_PASSWORD}\n", "title=x-$DB_PASSWORD\n", 'title="${DB_PASSWORD:-x}"\n'])
def test_a_variable_cannot_copy_a_secret_s_environment_variable(tmp_path: Path, dotenv: str) -> None:
    spec_path = _write(tmp_path, "quayform.yaml", SECRET_SPEC)
    _write(tmp_path, ".env", dotenv)
    with pytest.raises(SpecError) as info:
        _values(spec_path, environ={"DB_PASSWORD": "hunter2-secret"})
    (problem,) = info.value.problems
    assert str(problem) == (f"{tmp_path / '.env'}:1: title: reads the environment variable DB_PASSWORD of "
                            "secrets.db_password; a variable is not a secret (plans and outputs show it): use "
                            "${secrets.db_password} where it is needed")
    assert "hunter2" not in str(info.value)


def test_a_var_file_cannot_copy_a_secret_s_environment_variable_either(tmp_path: Path) -> None:
    spec_path = _write(tmp_path, "quayform.yaml", SECRET_SPEC)
    path = _write(tmp_path, "prod.env", "port=8080\ntitle=${DB_PASSWORD}\n")
    environ = {"DB_PASSWORD": "hunter2-secret"}
    with pytest.raises(SpecError) as info:
        _values(spec_path, read_var_files([str(path)], {}, environ), environ)
    assert [p.line for p in info.value.problems] == [2]


def test_variables_from_files_are_never_sensitive(spec_path: Path) -> None:
    _write(spec_path.parent, ".env", "title=${SECRET_LOOKING}\n")
    spec = load_spec(str(spec_path), environ={"SECRET_LOOKING": "x"}, read_secrets=False)
    assert spec.containers["web"].env["TITLE"] == "x" and spec.secret_values == ()


def test_overrides_are_the_command_line_s_values_for_a_saved_plan() -> None:
    """A saved plan stores dict(options.variables): the --var values over the file values that no
    QUAYFORM_VAR_NAME overrides, so `apply FILE` makes the very same plan again."""
    from quayform.spec.load import FileValue

    files = {"tag": FileValue("file", "f", 1), "port": FileValue("81", "f", 2), "title": FileValue("T", "f", 3)}
    overrides = Overrides({"title": "cli"}, files, {"QUAYFORM_VAR_port": "90"})
    assert dict(overrides) == {"tag": "file", "title": "cli"}
    assert overrides.given == {"title": "cli"} and overrides.files == files


# --------------------------------------------------------------------------- the command line

def _quayform(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "quayform", *args], cwd=folder, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///nonexistent", **(env or {})},
                          timeout=60)


OUTPUT_SPEC = SPEC + "outputs:\n  tag: ${variables.tag}\n  port: ${variables.port}\n"


def test_var_file_works_on_the_commands_that_take_var(tmp_path: Path) -> None:
    _write(tmp_path, "quayform.yaml", OUTPUT_SPEC)
    _write(tmp_path, ".env", "tag=dotenv\n")
    _write(tmp_path, "a.yaml", "tag: from-yaml\nport: 81\n")
    _write(tmp_path, "b.env", "port=82\n")
    run = _quayform(tmp_path, "output", "--var-file", "a.yaml", "--var-file", "b.env", "--json")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == '{\n  "tag": "from-yaml",\n  "port": "82"\n}'
    run = _quayform(tmp_path, "output", "--var-file", "a.yaml", "--var", "tag=cli", "--json",
                    env={"QUAYFORM_VAR_port": "9"})
    assert '"tag": "cli"' in run.stdout and '"port": "9"' in run.stdout
    run = _quayform(tmp_path, "validate", "--var-file", "b.env")
    assert run.returncode == 0 and "The spec is valid" in run.stdout


def test_var_file_errors_exit_1_naming_the_file(tmp_path: Path) -> None:
    _write(tmp_path, "quayform.yaml", OUTPUT_SPEC)
    _write(tmp_path, "typo.env", "tga=1\n")
    run = _quayform(tmp_path, "validate", "--var-file", "typo.env")
    assert run.returncode == 1
    assert run.stderr.strip() == "Error: typo.env:1: tga: no variable 'tga' is declared in the spec (quayform.yaml)"
    run = _quayform(tmp_path, "plan", "--var-file", "missing.yaml")
    assert run.returncode == 1 and "Error: missing.yaml: cannot read the variables file" in run.stderr


def test_a_saved_plan_refuses_var_file(tmp_path: Path) -> None:
    _write(tmp_path, "quayform.yaml", OUTPUT_SPEC)
    _write(tmp_path, "a.yaml", "tag: x\n")
    run = _quayform(tmp_path, "apply", "saved.plan", "--var-file", "a.yaml")
    assert run.returncode == 1
    assert "--var-file cannot be combined with FILE" in run.stderr
