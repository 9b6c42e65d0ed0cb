"""examples/quay-local end to end, as the README's first command runs it: the stack from nothing to a
configured registry, a push and a pull with the robot's token, a no-op plan, and a destroy that
keeps the repository holding the image until it is released."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from tests.conftest import BUSYBOX, remove_stack
from tests.ports import free_port
from tests.quay.conftest import docker_cli

pytestmark = pytest.mark.docker

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quay-local"


def quayform(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    environ = {**os.environ}
    environ.pop("NO_COLOR", None)
    result = subprocess.run([sys.executable, "-m", "quayform", *args, "--no-color"], cwd=folder,
                            capture_output=True, text=True, env=environ, timeout=900)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def example(tmp_path: Path, engine: docker.APIClient, quay_image: str, stack: str):
    folder = tmp_path / "quay-local"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("secrets", "*.plan"))
    port = free_port()
    spec = (folder / "quayform.yaml").read_text()
    spec = re.sub(r"(?m)^stack: quay-local$", f"stack: {stack}", spec)
    spec = re.sub(r'(?m)^  http_port: "8080"$', f'  http_port: "{port}"', spec)
    assert f"stack: {stack}" in spec and f'http_port: "{port}"' in spec
    (folder / "quayform.yaml").write_text(spec)
    yield folder, port
    remove_stack(engine, stack)


def test_the_quay_example_from_nothing_to_push_and_pull_and_back(example, stack: str, engine: docker.APIClient,
                                                                 tmp_path: Path) -> None:
    folder, port = example
    quayform(folder, "validate")
    applied = quayform(folder, "apply", "--auto-approve")
    assert "Apply complete" in applied.stdout
    assert quayform(folder, "plan", "--detailed-exitcode").returncode == 0

    robot = quayform(folder, "output", "robot", "-raw").stdout.strip()
    token = quayform(folder, "output", "robot_token", "-raw").stdout.strip()
    assert robot == "demo+pusher" and len(token) > 20
    registry = f"127.0.0.1:{port}"
    config = tmp_path / "docker-config"
    config.mkdir()
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    login = subprocess.run(["docker", "login", registry, "-u", robot, "--password-stdin"], input=token, text=True,
                           capture_output=True, env=env, timeout=120)
    assert login.returncode == 0, login.stderr
    image = f"{registry}/demo/busybox:1"
    docker_cli("tag", BUSYBOX, image)
    try:
        docker_cli("push", image, env=env)
        docker_cli("rmi", image)
        docker_cli("pull", image, env=env)
    finally:
        docker_cli("rmi", "-f", image, check=False)
    # The push left an image in the repository; the spec still matches.
    assert quayform(folder, "plan", "--detailed-exitcode").returncode == 0

    # destroy keeps the repository holding the image and the organization around it.
    destroyed = quayform(folder, "destroy", "--auto-approve")
    assert re.search(r"repositories\.busybox.*\n?.*holds", destroyed.stdout), destroyed.stdout
    assert "organizations.demo" in destroyed.stdout
    assert not engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"})
    # Back up: the same registry returns with the image still there.
    quayform(folder, "apply", "--auto-approve")
    docker_cli("pull", image, env=env)
    docker_cli("rmi", "-f", image, check=False)
    assert quayform(folder, "plan", "--detailed-exitcode").returncode == 0

    released = quayform(folder, "destroy", "--auto-approve", "--repositories", "--volumes", "--databases")
    assert "holds" not in released.stdout, released.stdout
    assert not engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"})
    assert not (engine.volumes(filters={"label": f"io.quayform.stack={stack}"})["Volumes"] or [])
