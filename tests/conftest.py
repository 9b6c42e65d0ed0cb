"""Shared fixtures: the real engine, unique stack names, and cleanup that always runs."""

from __future__ import annotations

import time
import uuid

import docker
import pytest

BUSYBOX = "quayform-test/busybox:1"
DEFAULTS = "quayform-test/defaults:1"  # busybox with USER, WORKDIR, ENV, LABEL, VOLUME, HEALTHCHECK...
POSTGRES = "quayform-test/postgres:15"
REDIS = "quayform-test/redis:7"
# A busybox process that exits at once on SIGTERM, so stops take milliseconds, not 10 s.
SLEEPER = '["sh", "-c", "trap \'exit 0\' TERM; sleep 3600 & wait"]'


@pytest.fixture(scope="session")
def engine() -> docker.APIClient:
    """The real Docker engine; a missing engine or image fails loudly, never skips."""
    api = docker.APIClient(version="1.41", **docker.utils.kwargs_from_env())
    try:
        api.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here means the environment is not ready
        pytest.fail(f"the Docker engine is not reachable ({exc}); run scripts/test-env first", pytrace=False)
    for image in (BUSYBOX, DEFAULTS, POSTGRES, REDIS):
        try:
            api.inspect_image(image)
        except docker.errors.NotFound:
            pytest.fail(f"test image {image} is missing; run scripts/test-env first", pytrace=False)
    return api


def remove_stack(api: docker.APIClient, stack: str) -> None:
    """Delete every object labelled with `stack`, whatever state a failed test left it in."""
    label = f"io.quayform.stack={stack}"
    for container in api.containers(all=True, filters={"label": label}):
        api.remove_container(container["Id"], force=True, v=True)
    for network in api.networks(filters={"label": label}):
        _remove_network(api, network["Id"])
    for volume in (api.volumes(filters={"label": label}) or {}).get("Volumes") or []:
        api.remove_volume(volume["Name"], force=True)


def _remove_network(api: docker.APIClient, network: str, attempts: int = 6) -> None:
    """Remove a network whose containers were just removed: dockerd can report their endpoints as active
    for a moment after, so disconnect what is left and try again."""
    for attempt in range(attempts):
        try:
            api.remove_network(network)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if attempt == attempts - 1:
                raise
            for endpoint in (api.inspect_network(network).get("Containers") or {}):
                api.disconnect_container_from_network(endpoint, network, force=True)
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture
def stack(engine: docker.APIClient):
    """A unique stack name; everything labelled with it is removed after the test, pass or fail."""
    name = f"qft-{uuid.uuid4().hex[:10]}"
    yield name
    remove_stack(engine, name)


ENGINE2_HOST = "unix:///run/quayform-engine2.sock"
SECOND_ENGINE_SCRIPT = __import__("pathlib").Path(__file__).resolve().parent.parent / "scripts" / "second-engine"


@pytest.fixture(scope="session")
def engine2(engine: docker.APIClient):
    """A second real engine beside the first (scripts/second-engine: its own socket, data root, exec root,
    pidfile and bridge), with the busybox and PostgreSQL test images loaded. Started here when it is not running, and
    stopped again at the end of the session then; a failure to start it fails the tests, never skips them."""
    import subprocess

    running = subprocess.run([str(SECOND_ENGINE_SCRIPT), "status"], capture_output=True).returncode == 0
    started = subprocess.run([str(SECOND_ENGINE_SCRIPT), "start"], capture_output=True, text=True, timeout=180)
    if started.returncode != 0:
        pytest.fail(f"the second engine did not start: {started.stderr.strip() or started.stdout.strip()}",
                    pytrace=False)
    api = docker.APIClient(base_url=ENGINE2_HOST, version="1.41")
    try:
        api.ping()
        for image in (BUSYBOX, POSTGRES):
            api.inspect_image(image)
    except Exception as exc:  # noqa: BLE001 - the environment is not ready
        pytest.fail(f"the second engine at {ENGINE2_HOST} is not usable ({exc})", pytrace=False)
    if subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode != 0:
        pytest.fail("starting the second engine removed the first engine's docker0 bridge", pytrace=False)
    yield api
    if not running:
        subprocess.run([str(SECOND_ENGINE_SCRIPT), "stop"], capture_output=True, timeout=120)
    try:
        engine.ping()  # the first engine must be untouched by all this
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the first engine stopped answering after the second one ran: {exc}", pytrace=False)
