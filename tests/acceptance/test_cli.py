"""The console script in a subprocess: exit codes, output, JSON, errors that touch nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import BUSYBOX, SLEEPER

SECRET = "s3cr3t-Value-never-shown"


def quayform(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess:
    environ = {**os.environ, "APP_TOKEN": SECRET, **(env or {})}
    environ.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "quayform", *args], cwd=cwd, capture_output=True, text=True,
                          input=stdin if stdin is not None else "", env=environ, timeout=300)


def write_spec(folder: Path, stack: str, body: str) -> Path:
    path = folder / "quayform.yaml"
    path.write_text(f"version: 1\nstack: {stack}\n" + textwrap.dedent(body))
    return path


GOOD = f"""\
secrets:
  token: {{env: APP_TOKEN}}
networks:
  net: {{}}
volumes:
  data: {{}}
containers:
  first:
    image: {BUSYBOX}
    command: {SLEEPER}
    env: {{TOKEN: "${{secrets.token}}"}}
    volumes: ["data:/data"]
    networks: [net]
    healthcheck: {{test: ["CMD", "true"], interval: 200ms, retries: 20}}
  second:
    image: {BUSYBOX}
    command: {SLEEPER}
    depends_on: [first]
    networks: [net]
    files:
      /run/token: {{content: "${{secrets.token}}", mode: "0600"}}
outputs:
  token: ${{secrets.token}}
  hello: world
"""


@pytest.mark.docker
def test_plan_apply_noop_destroy_exit_codes(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, GOOD)
    first = quayform("plan", "--detailed-exitcode", "--no-color", cwd=tmp_path)
    assert first.returncode == 2, first.stderr
    assert "Plan: 4 to add, 0 to change, 0 to replace, 0 to destroy." in first.stdout
    for address in ("networks.net", "volumes.data", "containers.first", "containers.second"):
        assert f"# {address} will be created" in first.stdout
    refused = quayform("apply", "--no-color", cwd=tmp_path, stdin="no\n")
    assert refused.returncode == 1
    assert engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"}) == []
    applied = quayform("apply", "--no-color", cwd=tmp_path, stdin="yes\n")
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete! Resources: 4 added, 0 changed, 0 replaced, 0 destroyed." in applied.stdout
    assert 'hello = "world"' in applied.stdout and 'token = "(sensitive)"' in applied.stdout
    again = quayform("plan", "--detailed-exitcode", "--no-color", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes. Your stack matches the spec." in again.stdout
    as_json = quayform("plan", "--json", cwd=tmp_path)
    document = json.loads(as_json.stdout)
    assert document["format_version"] == "1.0" and document["summary"] == {"add": 0, "change": 0, "replace": 0, "destroy": 0}
    destroyed = quayform("destroy", "--auto-approve", "--no-color", cwd=tmp_path)
    assert destroyed.returncode == 0, destroyed.stderr
    assert "volumes.data is kept" in destroyed.stdout
    everything = first.stdout + first.stderr + applied.stdout + applied.stderr + as_json.stdout + destroyed.stdout
    assert SECRET not in everything


@pytest.mark.docker
def test_secret_never_in_json_or_labels(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, GOOD)
    as_json = quayform("plan", "--json", cwd=tmp_path)
    assert as_json.returncode == 0
    assert SECRET not in as_json.stdout
    assert "(sensitive)" in as_json.stdout
    assert quayform("apply", "--auto-approve", cwd=tmp_path).returncode == 0
    for container in engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"}):
        labels = engine.inspect_container(container["Id"])["Config"]["Labels"]
        assert SECRET not in json.dumps(labels)


BAD_SPECS = {
    "malformed YAML": ("containers:\n  a: [1\n", r"quayform.yaml:\d+: invalid YAML"),
    "unknown key": (f"containers:\n  a:\n    image: {BUSYBOX}\n    imagee: x\n",
                    "quayform.yaml:6: containers.a.imagee: unknown key 'imagee'"),
    "cycle": (f"containers:\n  a: {{image: {BUSYBOX}, depends_on: [b]}}\n  b: {{image: {BUSYBOX}, depends_on: [a]}}\n",
              "quayform.yaml:4: containers.a: dependency cycle: containers.a -> containers.b -> containers.a"),
    "dangling reference": (f"containers:\n  a:\n    image: {BUSYBOX}\n    env: {{X: '${{containers.zz.name}}'}}\n",
                           "quayform.yaml:6: containers.a.env.X: ${containers.zz.name} names no resource containers.zz"),
    "bad port": (f"containers:\n  a:\n    image: {BUSYBOX}\n    ports: ['80:80:80']\n",
                 "quayform.yaml:6: containers.a.ports[0]: '80:80:80' is not a valid port mapping"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_bad_specs_fail_with_location_and_touch_nothing(tmp_path: Path, case: str, command: str) -> None:
    import re

    body, expected = BAD_SPECS[case]
    write_spec(tmp_path, "qft-bad", body)
    result = quayform(command, "--auto-approve" if command == "apply" else "--no-color", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert re.search(re.escape(expected) if "\\d" not in expected else expected, lines[0]), lines[0]
    assert "Traceback" not in result.stderr and "Internal error" not in result.stderr


def test_missing_engine_is_one_clear_line(tmp_path: Path) -> None:
    write_spec(tmp_path, "qft-noengine", f"containers:\n  a: {{image: {BUSYBOX}}}\n")
    result = quayform("plan", cwd=tmp_path, env={"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"})
    assert result.returncode == 1
    assert "cannot reach the Docker engine" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_validate_needs_no_engine_and_no_secrets(tmp_path: Path) -> None:
    write_spec(tmp_path, "qft-valid", GOOD)
    result = quayform("validate", cwd=tmp_path, env={"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock",
                                                     "APP_TOKEN": ""})
    assert result.returncode == 0, result.stderr
    assert "The spec is valid" in result.stdout


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = quayform("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("validate", "plan", "apply", "destroy"):
        assert command in result.stdout


@pytest.mark.docker
def test_unpullable_image_fails_before_anything_changes(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, "networks:\n  n: {}\ncontainers:\n  a: {image: 'quayform-test/absent:1', networks: [n]}\n")
    planned = quayform("plan", "--no-color", cwd=tmp_path)
    assert "Image quayform-test/absent:1 is not on the engine; apply will pull it first." in planned.stdout
    result = quayform("apply", "--auto-approve", "--no-color", cwd=tmp_path)
    assert result.returncode == 1
    assert "Error: image quayform-test/absent:1 is not on this engine and cannot be pulled" in result.stderr
    assert engine.networks(filters={"label": f"io.quayform.stack={stack}"}) == []


@pytest.mark.docker
def test_name_taken_by_an_unmanaged_container_is_refused(tmp_path: Path, stack: str, engine) -> None:
    foreign = engine.create_container(BUSYBOX, name=f"{stack}-a", command=["true"])
    try:
        write_spec(tmp_path, stack, f"containers:\n  a: {{image: {BUSYBOX}}}\n")
        result = quayform("apply", "--auto-approve", "--no-color", cwd=tmp_path)
        assert result.returncode == 1
        assert f"containers.a: a container named '{stack}-a' already exists and is not managed" in result.stderr
        assert engine.inspect_container(foreign["Id"])["Config"]["Labels"] == {}
    finally:
        engine.remove_container(foreign["Id"], force=True)


@pytest.mark.docker
def test_a_secret_env_var_removed_from_the_spec_stays_hidden(tmp_path: Path, stack: str) -> None:
    write_spec(tmp_path, stack, GOOD)
    assert quayform("apply", "--auto-approve", cwd=tmp_path).returncode == 0
    write_spec(tmp_path, stack, GOOD.replace('    env: {TOKEN: "${secrets.token}"}\n', ""))
    for args in (("plan", "--no-color"), ("plan", "--json")):
        result = quayform(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout
        assert "env.TOKEN" in result.stdout and "(sensitive)" in result.stdout
