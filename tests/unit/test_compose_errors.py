"""Errors in a compose user's words: the key they meant, quayform's name for compose's, plain
wording instead of pydantic's, and quayform's spelling of compose's `${VAR:-default}`."""

from __future__ import annotations

from pathlib import Path

import pytest

from quayform.errors import SpecError
from quayform.spec import load_spec
from quayform.spec.locate import describe, unknown_key

HEAD = "version: 1\nstack: compose\n"


def problems(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "quayform.yaml"
    path.write_text(HEAD + body)
    with pytest.raises(SpecError) as info:
        load_spec(str(path), environ={}, read_secrets=False)
    return [str(p).removeprefix(f"{path}:") for p in info.value.problems]


def one_problem(tmp_path: Path, body: str) -> str:
    (problem,) = problems(tmp_path, body)
    return problem


# --------------------------------------------------------------------------- unknown keys

CONTAINER = "containers:\n  web:\n    image: busybox\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("enviroment: {A: b}",
         "6: containers.web.enviroment: unknown key 'enviroment'; did you mean 'env'? (compose's environment is "
         "quayform's env)"),
        ("port: ['80:80']", "6: containers.web.port: unknown key 'port'; did you mean 'ports'?"),
        ("depends-on: [db]", "6: containers.web.depends-on: unknown key 'depends-on'; did you mean 'depends_on'?"),
        ("healtcheck: {test: x}",
         "6: containers.web.healtcheck: unknown key 'healtcheck'; did you mean 'healthcheck'?"),
        ("environment: {A: b}", "6: containers.web.environment: unknown key 'environment' (compose's environment is "
                                "quayform's env)"),
        ("container_name: web-1", "6: containers.web.container_name: unknown key 'container_name' (compose's "
                                  "container_name is quayform's name)"),
        ("restart_policy: always", "6: containers.web.restart_policy: unknown key 'restart_policy'; did you mean "
                                   "'restart'?"),
        ("build: .", "6: containers.web.build: unknown key 'build' (compose's build is not supported: quayform runs "
                     "images: build it first (docker build -t NAME .) and name it in image)"),
        ("deploy: {replicas: 2}", "6: containers.web.deploy: unknown key 'deploy' (compose's deploy is not supported: "
                                  "quayform runs one container per key)"),
        ("secrets: [db]", "6: containers.web.secrets: unknown key 'secrets' (compose's secrets is not supported: a "
                          "secret goes into a file: files: {/run/secrets/NAME: {content: \"${secrets.NAME}\"}})"),
        ("qwertyuiop: 1", "6: containers.web.qwertyuiop: unknown key 'qwertyuiop'"),
    ],
)
def test_an_unknown_container_key_gets_the_key_it_was_meant_to_be(tmp_path, line, expected) -> None:
    assert one_problem(tmp_path, CONTAINER + f"    {line}\n") == expected


def test_compose_s_top_level_names_get_quayform_s(tmp_path) -> None:
    assert one_problem(tmp_path, "services:\n  web: {image: busybox}\n") == (
        "3: services: unknown key 'services' (compose's services is quayform's containers); this looks like a "
        "docker compose file: `quayform convert` writes a spec from it")
    assert one_problem(tmp_path, CONTAINER + "x-common: {image: busybox}\n") == (
        "6: x-common: unknown key 'x-common' (compose's extension fields have no place in a spec: put an anchor "
        "on a real entry and merge it (<<: *name))")
    assert one_problem(tmp_path, CONTAINER + "conatiners: {}\n") == (
        "6: conatiners: unknown key 'conatiners'; did you mean 'containers'?")


def test_a_compose_file_s_version_says_what_to_do(tmp_path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text('version: "3.8"\nservices:\n  web: {image: busybox}\n')
    with pytest.raises(SpecError) as info:
        load_spec(str(path), environ={}, read_secrets=False)
    assert [str(p).removeprefix(f"{path}:") for p in info.value.problems] == [
        "1: required key 'stack' is missing",
        "1: version: unsupported spec version '3.8' (this quayform reads version 1); this looks like a docker "
        "compose file: `quayform convert` writes a spec from it",
        "2: services: unknown key 'services' (compose's services is quayform's containers); this looks like a "
        "docker compose file: `quayform convert` writes a spec from it"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("networks:\n  front: {internl: true}\n",
         "4: networks.front.internl: unknown key 'internl'; did you mean 'internal'?"),
        ("networks:\n  front: {external: true, driver: bridge}\n",
         "4: networks.front: an external network is only referenced, never created or changed: driver cannot be "
         "given with external: true (only name)"),
        ("volumes:\n  data: {drivr: local}\n", "4: volumes.data.drivr: unknown key 'drivr'; did you mean 'driver'?"),
        ("secrets:\n  pw: {file: pw.txt, generate: {lenght: 20}}\n",
         "4: secrets.pw.generate.lenght: unknown key 'lenght'; did you mean 'length'?"),
        (CONTAINER + "    healthcheck: {test: x, intervl: 1s}\n",
         "6: containers.web.healthcheck.intervl: unknown key 'intervl'; did you mean 'interval'?"),
        (CONTAINER + "    files: {/a: {content: x, mdoe: '0600'}}\n",
         "6: containers.web.files['/a'].mdoe: unknown key 'mdoe'; did you mean 'mode'?"),
    ],
)
def test_suggestions_work_at_every_level(tmp_path, body, expected) -> None:
    assert one_problem(tmp_path, body) == expected


def test_suggestions_come_from_the_model_at_that_place() -> None:
    assert unknown_key(("containers", "web", "imgae")) == "unknown key 'imgae'; did you mean 'image'?"
    assert unknown_key(("networks", "n", "imgae")) == "unknown key 'imgae'"  # a network has no image
    assert unknown_key(("nowhere", "x", "imgae")) == "unknown key 'imgae'"


# --------------------------------------------------------------------------- pydantic's wording, replaced

@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ports: '80:80'", "containers.web.ports: expected a list, got the text '80:80' (write it as a list: "
                           "[\"80:80\"])"),
        ("depends_on: db", "containers.web.depends_on: expected a list, got the text 'db' (write it as a list: "
                           "[\"db\"])"),
        ("volumes: {a: b}", "containers.web.volumes: expected a list, got a mapping"),
        ("privileged: maybe", "containers.web.privileged: expected true or false, got the text 'maybe'"),
        ("user: {a: 1}", "containers.web.user: expected a string, got a mapping"),
        ("working_dir: [a]", "containers.web.working_dir: expected a string, got a list"),
        ("healthcheck: {test: x, retries: many}", "containers.web.healthcheck.retries: expected a whole number, got "
                                                  "the text 'many'"),
        ("healthcheck: {test: x, retries: -1}", "containers.web.healthcheck.retries: must be at least 0, got the "
                                                "number -1"),
        ("files: {/a: x}", "containers.web.files['/a']: expected a mapping (key: value), got the text 'x'"),
        ("networks: {front: {aliases: foo}}", "containers.web.networks.front.aliases: expected a list, got the text "
                                              "'foo' (write it as a list: [\"foo\"])"),
    ],
)
def test_type_errors_say_what_was_expected_and_what_was_given(tmp_path, line, expected) -> None:
    found = problems(tmp_path, CONTAINER + f"    {line}\n" + "networks:\n  front: {}\n")
    assert found == [f"6: {expected}"]
    assert not any("Input should be" in p or "valid dictionary" in p for p in found)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("containers:\n  web: busybox\n", "4: containers.web: expected a mapping (key: value), got the text 'busybox'"),
        ("containers:\n  web: {image: ''}\n", "4: containers.web.image: must not be empty"),
        ("containers:\n  web: {image: [busybox]}\n", "4: containers.web.image: expected a string, got a list"),
        ("volumes:\n  data: {driver_opts: [type=tmpfs]}\n",
         "4: volumes.data.driver_opts: expected a mapping (key: value), got a list (compose's list of NAME=value is "
         "written NAME: value here)"),
        ("secrets:\n  pw: {file: pw.txt, generate: {length: 3}}\n",
         "4: secrets.pw.generate.length: must be at least 16, got the number 3"),
        ("secrets:\n  pw: {file: pw.txt, generate: {format: hex}}\n",
         "4: secrets.pw.generate.format: expected 'urlsafe' or 'base64', got the text 'hex'"),
        ("variables: {port: 80}\ncontainers:\n  web: {image: busybox, ports: [true]}\n",
         "5: containers.web.ports[0]: True is not a valid port mapping (write it as a string, e.g. \"8080:80\")"),
    ],
)
def test_more_type_errors_in_plain_words(tmp_path, body, expected) -> None:
    assert one_problem(tmp_path, body) == expected


@pytest.mark.parametrize(
    ("value", "shown"),
    [({}, "a mapping"), ([], "a list"), (True, "true"), (None, "nothing (null)"), (5, "the number 5"),
     ("x" * 80, f"the text {'x' * 60 + '...'!r}")],
)
def test_describe_names_values_in_yaml_s_words(value, shown) -> None:
    assert describe(value) == shown


def test_a_secret_value_is_never_described() -> None:
    from quayform.sensitive import Sensitive

    assert describe(Sensitive("hunter2")) == "a secret"


# --------------------------------------------------------------------------- compose's interpolation

PREFIX = "is not a valid reference (expected ${section.key} or ${section.key.attr}): "


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("${TAG:-latest}", "compose's default-value form; in quayform, declare the default under variables: (TAG: "
                           "latest) and write ${variables.TAG}; --var, QUAYFORM_VAR_TAG, --var-file or .env override "
                           "it"),
        ("${TAG-latest}", "compose's default-value form; in quayform, declare the default under variables: (TAG: "
                          "latest) and write ${variables.TAG}; --var, QUAYFORM_VAR_TAG, --var-file or .env override "
                          "it"),
        ("${TAG:?set TAG}", "compose's required-value form; a quayform variable always has a value: declare it under "
                            "variables: and write ${variables.TAG}, or read it from the environment as a secret "
                            "(secrets: {TAG: {env: TAG}}, then ${secrets.TAG}: an error when unset)"),
        ("${TAG?}", "compose's required-value form; a quayform variable always has a value: declare it under "
                    "variables: and write ${variables.TAG}, or read it from the environment as a secret (secrets: "
                    "{TAG: {env: TAG}}, then ${secrets.TAG}: an error when unset)"),
        ("${TAG:+x}", "compose's alternative-value form, which quayform has no spelling for: write the text itself, "
                      "or a variable that holds it"),
        ("${TAG}", "compose's spelling? quayform's is ${variables.TAG} (declared under variables:) or "
                   "${secrets.TAG}; for the text ${TAG} itself (for a shell), write $${TAG}"),
        ("${variables.tag:-1}", "a quayform reference takes no default or condition: the default is "
                                "variables.tag's value"),
        ("${secrets.pw:?}", "a quayform reference takes no default or condition: a secret is read from its source"),
    ],
)
def test_compose_s_interpolation_gets_quayform_s_spelling(tmp_path, value, hint) -> None:
    body = f"variables: {{tag: '1'}}\ncontainers:\n  web:\n    image: busybox\n    env: {{A: \"x{value}y\"}}\n"
    assert one_problem(tmp_path, body) == f"7: containers.web.env.A: {value} {PREFIX}{hint}"


def test_every_compose_form_in_a_spec_is_reported_with_its_line(tmp_path) -> None:
    body = ("containers:\n  web:\n    image: \"busybox:${TAG:-1}\"\n    command: [sh, -c, \"echo ${HOME}\"]\n"
            "    ports: [\"${PORT-80}:80\"]\n")
    found = [p for p in problems(tmp_path, body) if "is not a valid reference" in p]
    assert [p.split(": ")[0:2] for p in found] == [
        ["5", "containers.web.image"], ["6", "containers.web.command[2]"], ["7", "containers.web.ports[0]"]]


def test_dollar_dollar_stays_quayform_s_literal_text(tmp_path) -> None:
    """compose's `$$` is one `$`; in quayform `$` is plain text and `$$` stays `$$` (docs/compose.md says so)."""
    path = tmp_path / "quayform.yaml"
    path.write_text(HEAD + "containers:\n  web: {image: busybox, command: [sh, -c, 'echo $$HOME $HOME $${HOME}']}\n")
    spec = load_spec(str(path), environ={}, read_secrets=False)
    assert spec.containers["web"].command == ["sh", "-c", "echo $$HOME $HOME ${HOME}"]


def test_ordinary_reference_errors_keep_their_words(tmp_path) -> None:
    body = "containers:\n  web: {image: busybox, env: {A: '${a.b.c.d}', B: '${variables.host name}'}}\n"
    assert problems(tmp_path, body) == [
        "4: containers.web.env.A: ${a.b.c.d} is not a valid reference (expected ${section.key} or "
        "${section.key.attr})",
        "4: containers.web.env.B: ${variables.host name} is not a valid reference (expected ${section.key} or "
        "${section.key.attr})"]


DOCS = Path(__file__).resolve().parents[2] / "docs" / "compose.md"
DOC_SPEC = """\
services: {}
containers:
  web:
    image: busybox
    enviroment: {A: b}
    container_name: x
    port: ["80:80"]
    depends-on: [db]
    build: .
    ports: "8080:80"
    privileged: maybe
"""


def test_the_errors_docs_compose_md_shows_are_real(tmp_path) -> None:
    section = DOCS.read_text().split("## Errors in compose's words", 1)[1].split("```", 2)[1]
    shown = [line.removeprefix("Error: quayform.yaml:") for line in section.strip().splitlines()]
    head = "version: 1\nstack: shop\n"
    path = tmp_path / "quayform.yaml"
    path.write_text(head + DOC_SPEC)
    with pytest.raises(SpecError) as info:
        load_spec(str(path), environ={}, read_secrets=False)
    assert [str(p).removeprefix(f"{path}:") for p in info.value.problems] == shown
