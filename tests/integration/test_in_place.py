"""In-place updates and image defaults, on the real engine: what unit tests can only show on recorded JSON."""

from __future__ import annotations

import pytest

from tests.conftest import BUSYBOX, DEFAULTS, SLEEPER
from tests.integration.helpers import Stack, actions, changed_paths, converged

pytestmark = pytest.mark.docker


def two_networks(restart: str, networks: str) -> str:
    return f"""\
networks:
  front: {{}}
  back: {{}}
containers:
  web:
    image: {BUSYBOX}
    command: {SLEEPER}
    restart: {restart}
    networks: {networks}
  peer:
    image: {BUSYBOX}
    command: {SLEEPER}
    networks: [front, back]
"""


def test_restart_policy_and_networks_change_in_place_on_the_engine(tmp_path, stack, engine) -> None:
    spec = Stack(tmp_path, stack).write(two_networks("always", "[front]"))
    spec.apply()
    web = f"{stack}-web"
    first_id = engine.inspect_container(web)["Id"]
    assert converged(spec.plan())

    spec.write(two_networks('"on-failure:3"', "[front]"))
    plan = spec.plan()
    assert actions(plan) == {"containers.web": "~"} and changed_paths(plan, "containers.web") == ["restart"]
    spec.apply()
    raw = engine.inspect_container(web)
    assert raw["Id"] == first_id
    assert raw["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert converged(spec.plan())

    spec.write(two_networks('"on-failure:3"', "[front, back]"))
    plan = spec.plan()
    assert actions(plan) == {"containers.web": "~"}
    assert changed_paths(plan, "containers.web") == [f"networks.{stack}-back"]
    spec.apply()
    raw = engine.inspect_container(web)
    assert raw["Id"] == first_id
    networks = raw["NetworkSettings"]["Networks"]
    assert set(networks) == {f"{stack}-front", f"{stack}-back"}
    assert "web" in networks[f"{stack}-back"]["Aliases"]
    # the key is its name on the second network too, for the other containers there
    probe = engine.exec_create(f"{stack}-peer", ["ping", "-c", "1", "-W", "2", "web"])
    engine.exec_start(probe["Id"])
    assert engine.exec_inspect(probe["Id"])["ExitCode"] == 0
    assert converged(spec.plan())

    spec.write(two_networks('"on-failure:3"', "[back]"))
    plan = spec.plan()
    assert changed_paths(plan, "containers.web") == [f"networks.{stack}-front"]
    spec.apply()
    raw = engine.inspect_container(web)
    assert raw["Id"] == first_id and set(raw["NetworkSettings"]["Networks"]) == {f"{stack}-back"}
    assert converged(spec.plan())


def test_a_stopped_container_is_started_in_place(tmp_path, stack, engine) -> None:
    spec = Stack(tmp_path, stack).write(two_networks("always", "[front]"))
    spec.apply()
    web = f"{stack}-web"
    first_id = engine.inspect_container(web)["Id"]
    engine.stop(web, timeout=5)
    plan = spec.plan()
    assert actions(plan) == {"containers.web": "~"} and changed_paths(plan, "containers.web") == ["running"]
    spec.apply()
    assert engine.inspect_container(web)["State"]["Running"] and engine.inspect_container(web)["Id"] == first_id
    assert converged(spec.plan())


def test_every_kind_of_image_default_folds_into_the_desired_side(tmp_path, stack, engine) -> None:
    """An image with USER, WORKDIR, ENV, LABEL, VOLUME, HEALTHCHECK, STOPSIGNAL, ENTRYPOINT and CMD:
    a container that overrides none of them plans nothing after apply; one that overrides each
    plans nothing either; changing an override is exactly one replacement."""
    body = f"""\
containers:
  plain:
    image: {DEFAULTS}
  custom:
    image: {DEFAULTS}
    user: "0"
    working_dir: /tmp
    env: {{APP_MODE: custom}}
    labels: {{org.example.role: overridden}}
    healthcheck: {{test: ["CMD", "true"], interval: 500ms}}
    stop_signal: SIGKILL
    command: ["trap 'exit 0' TERM; sleep 3600 & wait"]
"""
    spec = Stack(tmp_path, stack).write(body)
    spec.apply()
    assert converged(spec.plan())
    plain = engine.inspect_container(f"{stack}-plain")
    assert plain["Config"]["User"] == "65534" and plain["State"]["Health"]["Status"] == "healthy"
    custom = engine.inspect_container(f"{stack}-custom")
    assert custom["Config"]["User"] == "0" and "APP_MODE=custom" in custom["Config"]["Env"]
    spec.write(body.replace("APP_MODE: custom", "APP_MODE: changed"))
    plan = spec.plan()
    assert actions(plan) == {"containers.custom": "-/+"}
    assert changed_paths(plan, "containers.custom") == ["env.APP_MODE"]
    spec.apply()
    assert converged(spec.plan())


def resolves(engine, container: str, name: str) -> bool:
    probe = engine.exec_create(container, ["ping", "-c", "1", "-W", "2", name])
    engine.exec_start(probe["Id"])
    return engine.exec_inspect(probe["Id"])["ExitCode"] == 0


def test_network_aliases_answer_on_their_network_only_and_change_in_place(tmp_path, stack, engine) -> None:
    """`networks: {front: {aliases: [...]}}`: extra names (e.g. a registry's hostname) without naming the
    container after them, so two stacks can both use the same hostname on their own networks."""
    spec = Stack(tmp_path, stack).write(two_networks("always", "{front: {aliases: [registry.example.com]}, back: }"))
    spec.apply()
    web = f"{stack}-web"
    first_id = engine.inspect_container(web)["Id"]
    networks = engine.inspect_container(web)["NetworkSettings"]["Networks"]
    assert {"web", "registry.example.com"} <= set(networks[f"{stack}-front"]["Aliases"])
    assert "registry.example.com" not in networks[f"{stack}-back"]["Aliases"]
    assert resolves(engine, f"{stack}-peer", "registry.example.com")
    assert converged(spec.plan())

    spec.write(two_networks("always", "{front: {aliases: [registry.example.org]}, back: }"))
    plan = spec.plan()
    assert actions(plan) == {"containers.web": "~"} and changed_paths(plan, "containers.web") == [
        f"networks.{stack}-front"]
    spec.apply()
    assert engine.inspect_container(web)["Id"] == first_id
    assert resolves(engine, f"{stack}-peer", "registry.example.org")
    assert not resolves(engine, f"{stack}-peer", "registry.example.com")
    assert converged(spec.plan())
