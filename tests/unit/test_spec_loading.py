"""load_spec end to end, without Docker: spec files in, a Spec or `file:line: key.path: message` lines out.

Most cases are data files under tests/fixtures/specs/: every good/*.yaml must load and
build a graph; every bad/*.yaml holds one defect and says, in `# expect:` comments at its
top, which problem lines it must produce (and nothing else):

    # expect: [FILE:]LINE: KEY.PATH: MESSAGE FRAGMENT

FILE defaults to the spec itself (templates report their own lines); KEY.PATH is `-` for a
problem about the whole document. A `# xfail: BUG: ...` line marks a known bug.
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from quayform.errors import SpecError, SpecProblem
from quayform.graph import build_graph
from quayform.sensitive import Sensitive
from quayform.spec import load_spec
from quayform.spec.values import Mount, PortBinding

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"
GOOD = sorted((FIXTURES / "good").glob("*.yaml"))
BAD = sorted((FIXTURES / "bad").glob("*.yaml"))
FIXTURE_ENV = {"QF_DB_PASSWORD": "hunter2"}

EXPECT = re.compile(r"^# expect: (?:(?P<file>[^\s:]+):)?(?P<line>\d+): (?P<path>\S+): (?P<fragment>.+)$")
XFAIL = re.compile(r"^# xfail: (?P<reason>.+)$")
# `<file>:<line>: <key path>: <message>`; the key path is left out only for whole-document problems.
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>[1-9]\d*): (?:(?P<path>[A-Za-z0-9_.\-\[\]'/]+): )?(?P<message>\S.*)$")


@dataclass(frozen=True)
class Expected:
    file: str
    line: int
    key_path: str
    fragment: str

    def prefix(self) -> str:
        return f"{self.file}:{self.line}: " + (f"{self.key_path}: " if self.key_path else "")


def expectations(spec_file: Path) -> list[Expected]:
    found = []
    for text in spec_file.read_text().splitlines():
        match = EXPECT.match(text)
        if match:
            file = str(spec_file.parent / match["file"]) if match["file"] else str(spec_file)
            path = "" if match["path"] == "-" else match["path"]
            found.append(Expected(file, int(match["line"]), path, match["fragment"]))
    return found


def bad_param(spec_file: Path):
    marks = []
    for text in spec_file.read_text().splitlines():
        match = XFAIL.match(text)
        if match:
            marks.append(pytest.mark.xfail(strict=True, reason=match["reason"]))
    return pytest.param(spec_file, id=spec_file.stem, marks=marks)


def validate(path: Path | str, overrides=None, environ=None, read_secrets: bool = True):
    """What `quayform validate` does, plus reading secrets: load the spec and build its graph."""
    spec = load_spec(str(path), overrides, environ=FIXTURE_ENV if environ is None else environ,
                     read_secrets=read_secrets)
    return spec, build_graph(spec)


def problem_lines(path: Path | str, **kwargs) -> list[str]:
    with pytest.raises(SpecError) as info:
        validate(path, **kwargs)
    return str(info.value).splitlines()


def write_spec(folder: Path, body: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for relative, text in (files or {}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    path = folder / "quayform.yaml"
    path.write_text(textwrap.dedent(body).lstrip("\n"))
    return path


# --- data files -------------------------------------------------------------------------


def test_fixture_folders_are_not_empty():
    assert len(GOOD) >= 4
    assert len(BAD) >= 40
    assert all(expectations(f) for f in BAD), [f.name for f in BAD if not expectations(f)]


@pytest.mark.parametrize("spec_file", GOOD, ids=lambda p: p.stem)
def test_good_spec_loads_and_builds_a_graph(spec_file):
    spec, graph = validate(spec_file)
    assert len(graph.order()) == len(spec.networks) + len(spec.volumes) + len(spec.containers)


@pytest.mark.parametrize("spec_file", [bad_param(f) for f in BAD])
def test_bad_spec_reports_exactly_the_expected_problems(spec_file):
    expected = expectations(spec_file)
    lines = problem_lines(spec_file)
    for want in expected:
        hits = [line for line in lines if line.startswith(want.prefix()) and want.fragment in line[len(want.prefix()):]]
        assert hits, f"expected a line starting {want.prefix()!r} containing {want.fragment!r}; got:\n" + "\n".join(lines)
    assert len(lines) == len(expected), "\n".join(lines)


@pytest.mark.parametrize("spec_file", [bad_param(f) for f in BAD])
def test_every_problem_line_is_file_line_key_path_message(spec_file):
    with pytest.raises(SpecError) as info:
        validate(spec_file)
    for problem, line in zip(info.value.problems, str(info.value).splitlines(), strict=True):
        match = PROBLEM_LINE.match(line)
        assert match, line
        assert match["file"] == problem.file and Path(problem.file).is_relative_to(spec_file.parent)
        assert int(match["line"]) == problem.line
        assert (match["path"] or "") == problem.key_path
        assert match["message"] == problem.message
        if problem.key_path:
            assert line == f"{problem.file}:{problem.line}: {problem.key_path}: {problem.message}"


# --- what the good fixtures load to -----------------------------------------------------


@pytest.fixture(scope="module")
def full():
    spec, graph = validate(FIXTURES / "good" / "full.yaml")
    return spec


def test_full_spec_names(full):
    assert full.stack == "demo"
    assert full.name_of("containers", "pgsql") == "pgsql"
    assert full.name_of("containers", "app") == "demo-app"
    assert full.name_of("networks", "backend") == "demo-backend"
    assert full.name_of("volumes", "pgsql-data") == "demo-pgsql-data"
    assert full.networks["backend"].internal is True


def test_full_spec_pgsql_container(full):
    pgsql = full.containers["pgsql"]
    assert pgsql.image == "postgres:15"
    assert pgsql.port_bindings == [PortBinding(5432, "tcp", "127.0.0.1", "5432")]
    assert pgsql.volumes == [Mount("volume", "pgsql-data", "/var/lib/postgresql/data"),
                             Mount("bind", "./conf", "/conf", read_only=True)]
    assert pgsql.networks == ["backend"]
    assert pgsql.restart == ("always", 0)
    assert pgsql.healthcheck.test == ["CMD", "pg_isready"]
    assert (pgsql.healthcheck.interval, pgsql.healthcheck.retries, pgsql.healthcheck.start_period) == (
        2_000_000_000, 30, 90_000_000_000)


def test_full_spec_secret_env_is_sensitive(full):
    password = full.containers["pgsql"].env["POSTGRES_PASSWORD"]
    assert isinstance(password, Sensitive)
    assert password.reveal() == "hunter2"
    assert str(password) == "(sensitive)"
    assert "hunter2" not in repr(full) and "api-token-value" not in repr(full)


def test_full_spec_app_container(full):
    app = full.containers["app"]
    assert app.command == ["sh", "-c", 'echo "hello world" && sleep 1']
    assert app.env == {"DB_HOST": "pgsql", "DEBUG": "true", "LITERAL": "${not.a.reference}"}
    assert app.ports == [[PortBinding(80, "tcp", "", "8080")], [PortBinding(53, "udp", "", "53")]]
    assert app.restart == ("on-failure", 3)
    assert app.stop_grace_period == 500_000_000
    assert app.depends_on == ["pgsql"]


def test_full_spec_template_is_rendered_once_and_sensitive(full):
    conf = full.containers["app"].files["/etc/app/app.conf"]
    assert conf.mode == 0o600 and conf.template == "templates/app.conf"
    assert isinstance(conf.content, Sensitive)
    assert conf.content.reveal() == (
        "# rendered by quayform\n"
        "server_name = registry.local\n"
        "database_host = pgsql\n"
        "database_password = hunter2\n"
        "api_token = api-token-value\n"  # the secret file's trailing newline is not part of it
        "shell_style = ${HOME}\n"
    )
    motd = full.containers["app"].files["/etc/app/motd"]
    assert (motd.content, motd.mode) == ("welcome to registry.local", 0o644)


def test_full_spec_outputs_and_reference_edges(full):
    assert full.outputs == {"url": "http://registry.local:8080"}
    assert full.ref_edges == (("containers.pgsql", "containers.app"),)


def test_yaml12_scalars_reach_the_models_as_written():
    spec, _ = validate(FIXTURES / "good" / "yaml12_scalars.yaml")
    sshd = spec.containers["sshd"]
    assert sshd.ports == [[PortBinding(22, "tcp", "", "22")], [PortBinding(80, "tcp", "", "8080")]]
    assert sshd.restart == ("no", 0)
    assert sshd.privileged is False
    assert sshd.labels == {"enabled": "on", "answer": "yes", "port": "0600"}
    assert {path: f.mode for path, f in sshd.files.items()} == {"/etc/a": 0o600, "/etc/b": 0o600, "/etc/c": 0o640}


def test_references_fixture_records_every_edge():
    spec, _ = validate(FIXTURES / "good" / "references.yaml")
    assert spec.ref_edges == (
        ("containers.web", "containers.worker"),
        ("containers.web", "volumes.cache"),
        ("networks.front", "containers.web"),
        ("volumes.cache", "containers.worker"),
    )
    assert spec.containers["web"].env == {"NETWORK": "refs-front"}
    assert spec.containers["worker"].env["WEB"] == "refs-web"
    assert spec.volumes["cache"].name == "refs-web-cache"


# --- variables ----------------------------------------------------------------------------

VARIABLES_SPEC = """
    version: 1
    stack: vars
    variables:
      hostname: default.local
      port: 8080
    outputs:
      url: http://${variables.hostname}:${variables.port}
"""


@pytest.mark.parametrize(
    ("overrides", "environ", "url"),
    [
        ({}, {}, "http://default.local:8080"),
        ({"hostname": "cli.local"}, {}, "http://cli.local:8080"),
        ({}, {"QUAYFORM_VAR_hostname": "env.local"}, "http://env.local:8080"),
        ({"hostname": "cli.local"}, {"QUAYFORM_VAR_hostname": "env.local"}, "http://cli.local:8080"),
        ({"port": "9090"}, {"QUAYFORM_VAR_hostname": "env.local"}, "http://env.local:9090"),
        ({}, {"QUAYFORM_VAR_undeclared": "ignored"}, "http://default.local:8080"),
    ],
    ids=["default", "--var", "env", "--var-beats-env", "both-kinds", "env-for-undeclared-is-ignored"],
)
def test_variable_overrides(tmp_path, overrides, environ, url):
    spec, _ = validate(write_spec(tmp_path, VARIABLES_SPEC), overrides=overrides, environ=environ)
    assert spec.outputs["url"] == url


def test_undeclared_var_override_is_an_error(tmp_path):
    path = write_spec(tmp_path, VARIABLES_SPEC)
    assert problem_lines(path, overrides={"hostnme": "x"}) == [
        f"{path}:3: variables: --var hostnme: no variable 'hostnme' is declared in the spec"
    ]


@pytest.mark.parametrize(
    ("overrides", "environ"),
    [({}, {}), ({"greeting": "${secrets.token}"}, {}), ({}, {"QUAYFORM_VAR_greeting": "${secrets.token}"})],
    ids=["declared", "--var", "env"],
)
def test_substitution_is_single_pass(tmp_path, overrides, environ):
    path = write_spec(tmp_path, """
        version: 1
        stack: once
        variables:
          greeting: "${secrets.token}"
        secrets:
          token: {env: TOKEN}
        containers:
          app:
            image: busybox
            labels: {greeting: "${variables.greeting}"}
    """)
    spec, _ = validate(path, overrides=overrides, environ={"TOKEN": "t0p", **environ})
    label = spec.containers["app"].labels["greeting"]
    assert label == "${secrets.token}" and not isinstance(label, Sensitive)


def test_double_dollar_writes_a_literal_reference(tmp_path):
    path = write_spec(tmp_path, """
        version: 1
        stack: escape
        variables: {x: value}
        containers:
          app:
            image: busybox
            command: ["sh", "-c", "echo $${HOME} $${variables.x} ${variables.x} $$HOME"]
    """)
    spec, _ = validate(path)
    assert spec.containers["app"].command == ["sh", "-c", "echo ${HOME} ${variables.x} value $$HOME"]


def test_reference_to_a_name_that_uses_a_variable_gets_the_substituted_name(tmp_path):
    path = write_spec(tmp_path, """
        version: 1
        stack: s
        variables: {prefix: foo}
        containers:
          db: {image: postgres, name: "${variables.prefix}-db"}
          app: {image: busybox, env: {DB_HOST: "${containers.db.name}"}}
    """)
    spec, _ = validate(path)
    assert spec.name_of("containers", "db") == "foo-db"
    assert spec.containers["app"].env["DB_HOST"] == "foo-db"


@pytest.mark.parametrize("written", ["15.10", "1.50", "1e3"])
def test_unquoted_float_variable_keeps_the_text_written(tmp_path, written):
    path = write_spec(tmp_path, f"""
        version: 1
        stack: s
        variables: {{tag: {written}}}
        containers:
          db: {{image: "postgres:${{variables.tag}}", labels: {{tag: {written}}}}}
    """)
    spec, _ = validate(path)
    assert spec.containers["db"].image == f"postgres:{written}"
    assert spec.containers["db"].labels["tag"] == written


# --- secrets --------------------------------------------------------------------------------

SECRET_FILE_SPEC = """
    version: 1
    stack: secrets
    secrets:
      password: {file: secrets/password}
    outputs:
      password: ${secrets.password}
"""


@pytest.mark.parametrize(
    ("content", "value"),
    [("pw", "pw"), ("pw\n", "pw"), ("pw\r\n", "pw"), ("pw\n\n", "pw\n"), ("two\nlines\n", "two\nlines"), ("", "")],
    ids=["bare", "newline", "crlf", "only-one-newline-stripped", "multi-line", "empty"],
)
def test_secret_file_loses_one_trailing_newline(tmp_path, content, value):
    spec, _ = validate(write_spec(tmp_path, SECRET_FILE_SPEC, {"secrets/password": content}))
    assert spec.outputs["password"] == Sensitive(value)


def test_secret_from_env(tmp_path):
    path = write_spec(tmp_path, """
        version: 1
        stack: secrets
        secrets: {password: {env: PW}}
        outputs: {password: "pw=${secrets.password}"}
    """)
    spec, _ = validate(path, environ={"PW": "s3cret\n"})
    assert spec.outputs["password"] == Sensitive("pw=s3cret\n")


def test_secrets_are_not_read_when_not_asked(tmp_path):
    path = write_spec(tmp_path, """
        version: 1
        stack: secrets
        secrets: {a: {env: UNSET_VAR}, b: {file: secrets/absent}}
        containers:
          app: {image: busybox, env: {A: "${secrets.a}"}}
    """)
    spec, _ = validate(path, environ={}, read_secrets=False)
    assert isinstance(spec.containers["app"].env["A"], Sensitive)


def test_secret_file_through_a_symlink_out_of_the_spec_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("stolen\n")
    folder = tmp_path / "spec"
    path = write_spec(folder, SECRET_FILE_SPEC)
    (folder / "secrets").mkdir()
    (folder / "secrets" / "password").symlink_to(outside)
    lines = problem_lines(path)
    assert lines == [f"{path}:4: secrets.password: secret 'password' is unavailable: "
                     f"'secrets/password' leads outside the spec's folder {os.path.realpath(folder)}"]


def test_secret_file_through_a_symlinked_folder_out_of_the_spec_folder_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "password").write_text("stolen")
    folder = tmp_path / "spec"
    path = write_spec(folder, SECRET_FILE_SPEC)
    (folder / "secrets").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    [line] = problem_lines(path)
    assert line.startswith(f"{path}:4: secrets.password: secret 'password' is unavailable: 'secrets/password' leads outside")


def test_secret_file_through_a_symlink_inside_the_spec_folder_is_read(tmp_path):
    path = write_spec(tmp_path, SECRET_FILE_SPEC, {"real/password": "pw\n"})
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "password").symlink_to(tmp_path / "real" / "password")
    spec, _ = validate(path)
    assert spec.outputs["password"] == Sensitive("pw")


# --- templates --------------------------------------------------------------------------------

TEMPLATE_SPEC = """
    version: 1
    stack: tpl
    variables: {host: db.local}
    secrets: {password: {env: PW}}
    containers:
      db: {image: postgres}
      app:
        image: busybox
        files:
          /etc/app.conf: {template: app.conf.tpl, mode: "0640"}
"""
TEMPLATE_ENV = {"PW": "pw"}


def test_template_without_secrets_renders_to_plain_text(tmp_path):
    path = write_spec(tmp_path, TEMPLATE_SPEC, {"app.conf.tpl": "host=${variables.host}\nname=${containers.db.name}\n$${x}\n"})
    spec, _ = validate(path, environ=TEMPLATE_ENV)
    conf = spec.containers["app"].files["/etc/app.conf"]
    assert conf.content == "host=db.local\nname=tpl-db\n${x}\n" and not isinstance(conf.content, Sensitive)
    assert conf.mode == 0o640
    assert ("containers.db", "containers.app") in spec.ref_edges


def test_template_with_a_secret_is_sensitive(tmp_path):
    path = write_spec(tmp_path, TEMPLATE_SPEC, {"app.conf.tpl": "password=${secrets.password}"})
    spec, _ = validate(path, environ=TEMPLATE_ENV)
    assert spec.containers["app"].files["/etc/app.conf"].content == Sensitive("password=pw")


def test_template_errors_point_at_the_template_lines(tmp_path):
    template = "# header\nhost=${variables.hots}\nok=${variables.host}\n\nbad=${containers.db}\n"
    path = write_spec(tmp_path, TEMPLATE_SPEC, {"app.conf.tpl": template})
    where = f"{tmp_path / 'app.conf.tpl'}"
    key = "containers.app.files['/etc/app.conf'].content"
    assert problem_lines(path, environ=TEMPLATE_ENV) == [
        f"{where}:2: {key}: ${{variables.hots}} names no variable 'hots'",
        f"{where}:5: {key}: ${{containers.db}}: name an attribute, e.g. ${{containers.db.name}}",
    ]


def test_template_through_a_symlink_out_of_the_spec_folder_is_refused(tmp_path):
    (tmp_path / "outside.tpl").write_text("x")
    folder = tmp_path / "spec"
    path = write_spec(folder, TEMPLATE_SPEC)
    (folder / "app.conf.tpl").symlink_to(tmp_path / "outside.tpl")
    [line] = problem_lines(path, environ=TEMPLATE_ENV)
    assert line.startswith(f"{path}:10: containers.app.files['/etc/app.conf'].template: "
                           f"'app.conf.tpl' leads outside the spec's folder")


# --- loading as a whole -----------------------------------------------------------------------


def test_every_problem_is_reported_together_in_line_order(tmp_path):
    path = write_spec(tmp_path, """
        version: 1
        stack: many
        variables: {a: 1}
        secrets: {pw: {env: UNSET}}
        containers:
          app:
            image: busybox
            env: {X: "${variables.b}"}
            labels: {y: "${volumes.v.name}"}
    """)
    assert problem_lines(path, overrides={"c": "3"}, environ={}) == [
        f"{path}:3: variables: --var c: no variable 'c' is declared in the spec",
        f"{path}:4: secrets.pw: secret 'pw' is unavailable: environment variable UNSET is not set",
        f"{path}:8: containers.app.env.X: ${{variables.b}} names no variable 'b'",
        f"{path}:9: containers.app.labels.y: ${{volumes.v.name}} names no resource volumes.v",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the spec must be a mapping with at least 'version' and 'stack'"),
        ("# only a comment\n", "the spec must be a mapping with at least 'version' and 'stack'"),
        ("- version: 1\n", "the spec must be a mapping with at least 'version' and 'stack'"),
        ("just text\n", "the spec must be a mapping with at least 'version' and 'stack'"),
    ],
    ids=["empty", "comment", "list", "scalar"],
)
def test_spec_that_is_not_a_mapping(tmp_path, text, message):
    path = tmp_path / "quayform.yaml"
    path.write_text(text)
    assert problem_lines(path) == [f"{path}:1: {message}"]


def test_missing_spec_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert problem_lines(path) == [f"{path}: spec file not found (use -f PATH to name another)"]


@pytest.mark.parametrize(
    "containers",
    [
        '{a: {image: x, ports: ["127.0.0.1:80:80"]}, b: {image: x, ports: ["127.0.0.2:80:80"]}}',
        '{a: {image: x, ports: ["53:53/tcp"]}, b: {image: x, ports: ["53:53/udp"]}}',
        '{a: {image: x, ports: ["80"]}, b: {image: x, ports: ["80"]}}',
        '{a: {image: x, ports: ["127.0.0.1::80"]}, b: {image: x, ports: ["127.0.0.1::80"]}}',
        '{a: {image: x, volumes: ["/srv:/data"]}, b: {image: x, volumes: ["/srv:/data"]}}',
        '{a: {image: x, name: clash-a}, b: {image: x, name: other}}',
        '{a: {image: x, volumes: ["/srv:/data"], files: {/data/x: {content: y}}}}',
    ],
    ids=["other-ip", "other-protocol", "random-host-port", "random-host-port-same-ip", "same-path-other-container",
         "own-default-name", "file-below-mount"],
)
def test_no_clash(tmp_path, containers):
    spec, graph = validate(write_spec(tmp_path, f"version: 1\nstack: clash\ncontainers: {containers}\n"))
    assert graph.order()


def test_merge_key_after_an_explicit_key_keeps_the_explicit_line(tmp_path):
    path = write_spec(tmp_path, """
        version: 1
        stack: merge
        containers:
          a: &base
            image: busybox
            restart: always
          b:
            restart: sometimes
            <<: *base
    """)
    assert problem_lines(path) == [
        f"{path}:8: containers.b.restart: 'sometimes' is not a restart policy (no, always, unless-stopped, on-failure[:N])"
    ]


def test_merge_keys_fill_in_missing_keys(tmp_path):
    path = write_spec(tmp_path, """
        version: 1
        stack: merge
        containers:
          a: &base
            image: busybox
            restart: always
          b:
            <<: *base
            restart: "no"
    """)
    spec, _ = validate(path)
    assert (spec.containers["b"].image, spec.containers["b"].restart) == ("busybox", ("no", 0))


def test_spec_problem_without_a_line_or_key_path():
    assert str(SpecProblem("q.yaml", None, "", "gone")) == "q.yaml: gone"
    assert str(SpecProblem("q.yaml", 3, "", "bad")) == "q.yaml:3: bad"
    assert str(SpecProblem("q.yaml", 3, "containers.a", "bad")) == "q.yaml:3: containers.a: bad"


def test_spec_error_sorts_problems_by_file_line_and_key():
    error = SpecError([SpecProblem("b.yaml", 1, "x", "m"), SpecProblem("a.yaml", 9, "y", "m"),
                       SpecProblem("a.yaml", 2, "z", "m"), SpecProblem("a.yaml", 2, "a", "m")])
    assert str(error).splitlines() == ["a.yaml:2: a: m", "a.yaml:2: z: m", "a.yaml:9: y: m", "b.yaml:1: x: m"]


@pytest.mark.parametrize(
    "users",
    ['{u: {server: main, password: "${users.u.password}"}}',
     '{u: {server: main, password: "${users.v.password}"}, v: {server: main, password: "${users.u.password}"}}'],
    ids=["self", "mutual"],
)
def test_user_password_that_refers_to_itself_is_a_spec_error(tmp_path, users):
    path = write_spec(tmp_path, f"""
        version: 1
        stack: pg
        containers: {{pg: {{image: postgres}}}}
        postgres: {{main: {{container: pg}}}}
        users: {users}
    """)
    lines = problem_lines(path)
    assert lines and all(line.startswith(f"{path}:5: users.") for line in lines)
