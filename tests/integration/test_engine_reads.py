"""The standard-library read path against the real engine: the same answers as the Docker SDK, the
same errors, and a no-op plan that never loads the SDK (issue 15)."""

from __future__ import annotations

import json
import subprocess
import sys

import docker
import pytest

from quayform.docker_client import DockerEngine
from quayform.engine_api import ApiNotFound
from tests.conftest import BUSYBOX, SLEEPER
from tests.integration.helpers import Stack, converged

pytestmark = pytest.mark.docker

BODY = f"""\
networks:
  net: {{}}
volumes:
  data: {{}}
containers:
  web_1:
    image: {BUSYBOX}
    command: {SLEEPER}
    env: {{GREETING: hello}}
    volumes: ["data:/data"]
    networks: [net]
"""


def test_reads_answer_as_the_sdk_does(engine: docker.APIClient, stack: str, tmp_path) -> None:
    Stack(tmp_path, stack).write(BODY).apply()
    ours = DockerEngine.connect().api
    label = {"label": [f"io.quayform.stack={stack}"]}
    listed = ours.containers(all=True, filters=label)
    assert listed == engine.containers(all=True, filters=label) and len(listed) == 1
    cid = listed[0]["Id"]
    assert ours.inspect_container(cid) == engine.inspect_container(cid)
    assert ours.inspect_container(f"{stack}-web_1")["Id"] == cid
    assert ours.inspect_image(BUSYBOX) == engine.inspect_image(BUSYBOX)
    assert ours.volumes(filters=label) == engine.volumes(filters=label)
    networks = ours.networks(filters=label)
    assert [n["Id"] for n in networks] == [n["Id"] for n in engine.networks(filters=label)]
    assert ours.inspect_network(networks[0]["Id"])["Name"] == networks[0]["Name"]
    assert ours.inspect_volume(f"{stack}-data")["Name"] == f"{stack}-data"


def test_missing_objects_raise_not_found_that_kinds_catch(stack: str) -> None:
    connection = DockerEngine.connect()
    for read in (connection.api.inspect_container, connection.api.inspect_image, connection.api.inspect_volume,
                 connection.api.inspect_network):
        with pytest.raises(ApiNotFound) as raised:
            read(f"{stack}-nothing")
        assert raised.value.status_code == 404 and "nothing" in raised.value.explanation
        try:
            read(f"{stack}-nothing")
        except connection.NotFound:
            pass


def test_the_lock_is_taken_and_released_on_the_read_client(engine: docker.APIClient, stack: str) -> None:
    from quayform.lock import StackLock, lock_name

    connection = DockerEngine.connect()
    with StackLock(connection, stack, "apply"):
        labels = engine.inspect_container(lock_name(stack))["Config"]["Labels"]
        assert labels["io.quayform.stack"] == stack
        assert not StackLock(connection, stack, "apply")._try_create()  # 409 from the engine: someone holds it
    assert not engine.containers(all=True, filters={"name": lock_name(stack)})


PROBE = """\
import gc, json, sys
from quayform.cli import main
sys.argv = ["quayform", *sys.argv[1:]]
try:
    main()
except SystemExit as end:
    code = end.code
print(json.dumps({"code": code, "sdk": "docker" in sys.modules, "gc": gc.isenabled()}), file=sys.stderr)
"""


def _probe(folder, *argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=folder, capture_output=True, text=True,
                          timeout=300)
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_a_no_op_plan_and_apply_never_load_the_docker_sdk(stack: str, tmp_path) -> None:
    """Nor do they collect garbage (start-up's objects all live to the end); an apply that changes something
    collects again before its waits."""
    Stack(tmp_path, stack).write(BODY).apply()
    assert _probe(tmp_path, "plan", "--detailed-exitcode") == {"code": 0, "sdk": False, "gc": False}
    assert _probe(tmp_path, "apply", "--auto-approve") == {"code": 0, "sdk": False, "gc": False}
    spec = tmp_path / "quayform.yaml"
    spec.write_text(spec.read_text().replace("GREETING: hello", "GREETING: bye"))
    assert _probe(tmp_path, "plan", "--detailed-exitcode") == {"code": 2, "sdk": False, "gc": False}
    assert _probe(tmp_path, "apply", "--auto-approve") == {"code": 0, "sdk": True, "gc": True}  # a create: the SDK
    assert converged(Stack(tmp_path, stack).plan())
