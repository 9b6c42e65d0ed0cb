"""A Quay that is not published at all: quayform bootstraps its first user and manages its contents
through the engine (a relay run inside the Quay container), as it reaches PostgreSQL."""

from __future__ import annotations

import secrets
import subprocess

import docker
import pytest

from tests.integration.helpers import Stack, actions, converged
from tests.quay.conftest import QUAY_CONFIG, instance_spec

pytestmark = pytest.mark.docker

CONTENTS = """\
organizations:
  org: {name: hidden, email: hidden@example.com}
robots:
  ci: {organization: org, description: pushes}
repositories:
  app: {organization: org, visibility: public, permissions: {robots: {ci: write}}}
outputs:
  token: ${robots.ci.token}
"""


def test_an_unpublished_quay_is_bootstrapped_and_managed_through_the_engine(tmp_path, stack, engine: docker.APIClient,
                                                                             quay_image) -> None:
    spec = instance_spec(8080).replace('    ports: ["127.0.0.1:8080:8080"]\n', "")
    assert "ports:" not in spec.split("quay:\n    image:")[1].split("postgres:")[0]
    (tmp_path / "quay-config.yaml").write_text(QUAY_CONFIG)
    environ = {"QF_QUAY_PG": secrets.token_urlsafe(16), "QF_QUAY_DB": secrets.token_urlsafe(16),
               "QF_QUAY_DBKEY": secrets.token_urlsafe(24), "QF_QUAY_SECRET": secrets.token_urlsafe(24),
               "QF_QUAY_ADMIN": "Adm1n-" + secrets.token_urlsafe(12)}
    quay = Stack(tmp_path, stack, environ).write(spec + CONTENTS)
    plan = quay.plan()
    assert {a for a, s in actions(plan).items() if s == "+"} >= {"containers.quay", "organizations.org", "robots.ci",
                                                                 "repositories.app"}
    quay.apply()
    assert converged(quay.plan())
    container = engine.inspect_container(f"{stack}-quay")
    assert not any(container["NetworkSettings"]["Ports"].get("8080/tcp") or [])
    # Inside the container, as Quay itself answers: the first user exists, the contents too.
    probe = ("import json, urllib.request as u; r = u.urlopen('http://127.0.0.1:8080/api/v1/repository/hidden/app',"
             " timeout=10); print(json.load(r)['is_public'])")
    seen = subprocess.run(["docker", "exec", container["Id"], "python3", "-c", probe], capture_output=True,
                          text=True, timeout=60)
    assert seen.stdout.strip() == "True", seen.stderr
    # A second run signs in (the admin exists now) and still sees every object.
    quay.write(spec + CONTENTS.replace("visibility: public", "visibility: private"))
    plan = quay.plan()
    assert actions(plan) == {"repositories.app": "~"}
    quay.apply()
    assert converged(quay.plan())
