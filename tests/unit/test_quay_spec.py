"""The Quay sections of a spec, without an engine: references to what the spec lacks, names Quay
refuses, Quay's own `owners` team, unmanaged settings, and destroy never generating a secret."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from quayform.spec import load_spec

NO_ENGINE = "unix:///nonexistent/quayform-quay-spec-test.sock"

BASE = """\
version: 1
stack: qs
secrets:
  admin: {env: QS_ADMIN}
quay:
  main: {url: "http://127.0.0.1:18080", admin: {username: quayadmin, password: "${secrets.admin}"}}
organizations:
  acme: {}
robots:
  ci: {organization: acme}
teams:
  devs: {organization: acme, members: {robots: [ci]}}
repositories:
  app: {organization: acme, permissions: {robots: {ci: write}, teams: {devs: read}}}
"""


def validate(folder: Path, body: str, *args: str, command: str = "validate") -> subprocess.CompletedProcess:
    (folder / "quayform.yaml").write_text(textwrap.dedent(body))
    env = {**os.environ, "DOCKER_HOST": NO_ENGINE, "QS_ADMIN": "Adm1n-s3cret-value"}
    return subprocess.run([sys.executable, "-m", "quayform", command, *args, "--no-color"], cwd=folder,
                          capture_output=True, text=True, env=env, timeout=60)


def test_the_base_spec_is_valid(tmp_path: Path) -> None:
    result = validate(tmp_path, BASE)
    assert result.returncode == 0, result.stderr


MISSING = {
    "robot in a missing organization": ("robots:\n  ci: {organization: acme}", "robots:\n  ci: {organization: nope}",
                                        "robots.ci.organization: is in organizations.nope"),
    "repository in a missing organization": ("app: {organization: acme,", "app: {organization: nope,",
                                             "repositories.app.organization: is in organizations.nope"),
    "team in a missing organization": ("devs: {organization: acme,", "devs: {organization: nope,",
                                       "teams.devs.organization: is in organizations.nope"),
    "notification on a missing repository": ("", "notifications:\n  n: {repository: nope, event: repo_push, "
                                                 "method: webhook, config: {url: 'http://x.example.com'}}\n",
                                             "notifications.n.repository: is on repositories.nope"),
    "mirror on a missing repository": ("", "mirrors:\n  m: {repository: nope, upstream: up:5000/a/b, tags: [x], "
                                           "robot: ci}\n", "mirrors.m.repository: is on repositories.nope"),
    "default permission in a missing organization": ("", "default_permissions:\n  d: {organization: nope, "
                                                         "role: read, team: devs}\n",
                                                     "default_permissions.d.organization: is in organizations.nope"),
    "application in a missing organization": ("", "applications:\n  a: {organization: nope}\n",
                                              "applications.a.organization: is in organizations.nope"),
}


@pytest.mark.parametrize("old, new, expected", MISSING.values(), ids=MISSING.keys())
def test_a_reference_to_what_the_spec_lacks_is_an_error_not_a_crash(tmp_path: Path, old: str, new: str,
                                                                   expected: str) -> None:
    body = BASE.replace(old, new) if old else BASE + new
    assert body != BASE
    result = validate(tmp_path, body)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stderr and "Internal error" not in result.stderr, result.stderr


@pytest.mark.parametrize("section, key, line", [
    ("organizations", "Acme_Org", "  Acme_Org: {}"),
    ("robots", "CI-Bot", "  CI-Bot: {organization: acme}"),
    ("teams", "Dev_Team", "  Dev_Team: {organization: acme}"),
    ("repositories", "App", "  App: {organization: acme}"),
])
def test_a_key_that_is_no_name_quay_accepts_is_refused(tmp_path: Path, section: str, key: str, line: str) -> None:
    body = BASE.replace(f"{section}:\n", f"{section}:\n{line}\n", 1)
    result = validate(tmp_path, body)
    assert result.returncode == 1, result.stdout
    assert f"{section}.{key}: the key is its name in Quay, and Quay does not accept {key!r}" in result.stderr
    # The same key with a name Quay accepts is fine.
    named = line.replace("{", "{name: fine-name, " if section != "robots" else "{name: fine_name, ", 1)
    assert validate(tmp_path, BASE.replace(f"{section}:\n", f"{section}:\n{named}\n", 1)).returncode == 0


def test_team_names_follow_quays_own_rule(tmp_path: Path) -> None:
    body = BASE.replace("teams:\n", "teams:\n  ops: {organization: acme, name: site-ops.eu}\n", 1)
    assert validate(tmp_path, body).returncode == 0


def test_quays_owners_team_is_not_managed(tmp_path: Path) -> None:
    result = validate(tmp_path, BASE.replace("teams:\n", "teams:\n  owners: {organization: acme}\n", 1))
    assert result.returncode == 1 and "teams.owners: 'owners' is the team Quay keeps" in result.stderr
    result = validate(tmp_path, BASE.replace("teams:\n", "teams:\n  admins: {organization: acme, name: owners}\n", 1))
    assert result.returncode == 1 and "'owners' is the team Quay keeps" in result.stderr


def test_auto_prune_left_out_is_not_managed_and_an_empty_list_means_none(tmp_path: Path) -> None:
    from quayform.changes import UNKNOWN
    from quayform.pipeline import context, desired_state

    (tmp_path / "quayform.yaml").write_text(BASE.replace("  acme: {}", "  acme: {auto_prune: []}"))
    spec = load_spec(str(tmp_path / "quayform.yaml"), environ={"QS_ADMIN": "x"})
    desired = {str(a): d for a, d in desired_state(spec, context(spec)).items()}
    assert desired["organizations.acme"].form["auto_prune"] == []
    assert desired["repositories.app"].form["auto_prune"] == UNKNOWN
    assert desired["organizations.acme"].form["quota"] == UNKNOWN


def test_default_permissions_count_in_each_repositorys_exact_set(tmp_path: Path) -> None:
    from quayform.pipeline import context, desired_state

    body = BASE + ("default_permissions:\n  devs-write: {organization: acme, team: devs, role: write}\n"
                   "  ci-read: {organization: acme, robot: ci, role: read}\n"
                   "  other-user: {organization: acme, user: alice, role: read, activating_user: bob}\n")
    (tmp_path / "quayform.yaml").write_text(body)
    spec = load_spec(str(tmp_path / "quayform.yaml"), environ={"QS_ADMIN": "x"})
    desired = {str(a): d for a, d in desired_state(spec, context(spec)).items()}
    # Explicit permissions win; a default for another creator does not apply to quayform's repositories.
    assert desired["repositories.app"].form["permissions"] == {"robot:acme+ci": "write", "team:devs": "read"}
    body = body.replace("permissions: {robots: {ci: write}, teams: {devs: read}}", "permissions: {}")
    (tmp_path / "quayform.yaml").write_text(body)
    spec = load_spec(str(tmp_path / "quayform.yaml"), environ={"QS_ADMIN": "x"})
    desired = {str(a): d for a, d in desired_state(spec, context(spec)).items()}
    assert desired["repositories.app"].form["permissions"] == {"robot:acme+ci": "read", "team:devs": "write"}


def test_destroy_never_generates_a_secret(tmp_path: Path) -> None:
    body = BASE.replace("  admin: {env: QS_ADMIN}", "  admin: {file: secrets/admin, generate: {}}")
    result = validate(tmp_path, body, "--auto-approve", command="destroy")
    assert result.returncode != 0  # no engine here
    assert not (tmp_path / "secrets").exists(), "destroy wrote a new secret"
    assert "Internal error" not in result.stderr
