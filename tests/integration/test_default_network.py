"""The default network on the real engine: containers that name no network join `<stack>-default` and reach
each other by key, as compose's `<project>_default`; `network_mode: bridge` keeps Docker's bridge; a stack
applied when such containers were on the bridge moves onto the default network in place; destroy removes it."""

from __future__ import annotations

import docker
import pytest

from tests.conftest import BUSYBOX, SLEEPER
from tests.integration.helpers import Stack, actions, converged

pytestmark = pytest.mark.docker
BRIDGE = "\n            network_mode: bridge"


def two_containers(extra: str = "") -> str:
    return f"""
        containers:
          db:
            image: {BUSYBOX}
            command: {SLEEPER}{extra}
          web:
            image: {BUSYBOX}
            command: {SLEEPER}{extra}
        """


def container(engine: docker.APIClient, stack: str, key: str) -> dict:
    (found,) = engine.containers(filters={"label": [f"io.quayform.stack={stack}",
                                                    f"io.quayform.address=containers.{key}"]})
    return engine.inspect_container(found["Id"])


def run_in(engine: docker.APIClient, cid: str, *argv: str) -> tuple[int, str]:
    execution = engine.exec_create(cid, list(argv))
    output = engine.exec_start(execution["Id"]).decode(errors="replace")
    return engine.exec_inspect(execution["Id"])["ExitCode"], output


def reaches(engine: docker.APIClient, stack: str, key: str, host: str) -> bool:
    code, _ = run_in(engine, container(engine, stack, key)["Id"], "ping", "-c", "1", "-W", "2", host)
    return code == 0


def test_containers_that_name_no_network_reach_each_other_by_key(tmp_path, stack: str,
                                                                 engine: docker.APIClient) -> None:
    spec = Stack(tmp_path, stack).write(two_containers())
    plan = spec.plan()
    assert actions(plan) == {"networks.default": "+", "containers.db": "+", "containers.web": "+"}
    spec.apply()
    (network,) = engine.networks(names=[f"{stack}-default"])
    assert network["Labels"]["io.quayform.address"] == "networks.default"
    for key in ("db", "web"):
        endpoint = container(engine, stack, key)["NetworkSettings"]["Networks"]
        assert list(endpoint) == [f"{stack}-default"]
        assert key in endpoint[f"{stack}-default"]["Aliases"]
    assert reaches(engine, stack, "web", "db") and reaches(engine, stack, "db", "web")
    assert converged(spec.plan())

    spec.destroy()
    assert engine.networks(names=[f"{stack}-default"]) == []
    assert engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"}) == []


def test_network_mode_bridge_keeps_dockers_bridge_and_needs_no_default_network(tmp_path, stack: str,
                                                                               engine: docker.APIClient) -> None:
    spec = Stack(tmp_path, stack).write(two_containers(BRIDGE))
    assert actions(spec.apply()) == {"containers.db": "+", "containers.web": "+"}
    assert engine.networks(names=[f"{stack}-default"]) == []
    assert list(container(engine, stack, "web")["NetworkSettings"]["Networks"]) == ["bridge"]
    assert not reaches(engine, stack, "web", "db")  # Docker's bridge resolves no container names
    assert converged(spec.plan())


def test_a_stack_applied_on_the_bridge_moves_to_the_default_network_in_place(tmp_path, stack: str,
                                                                            engine: docker.APIClient) -> None:
    """Before the default network, a container that named no network was created on Docker's bridge, exactly
    as `network_mode: bridge` creates it now; the next plan joins it to the default network in place."""
    spec = Stack(tmp_path, stack).write(two_containers(BRIDGE))
    spec.apply()
    before = {key: container(engine, stack, key)["Id"] for key in ("db", "web")}

    spec.write(two_containers())
    plan = spec.plan()
    assert actions(plan) == {"networks.default": "+", "containers.db": "~", "containers.web": "~"}
    for key in ("db", "web"):
        (change,) = [c for c in plan.changes if str(c.address) == f"containers.{key}"]
        assert [(a.path, a.before, a.after, a.forces_replace) for a in change.attributes] == [
            ("networks", {"bridge": []}, {f"{stack}-default": [key]}, False)]  # leaves bridge, joins the default
    assert [str(c.address) for c in plan.changes][0] == "networks.default"  # made before the containers join it
    spec.apply()
    assert {key: container(engine, stack, key)["Id"] for key in ("db", "web")} == before  # not recreated
    assert list(container(engine, stack, "web")["NetworkSettings"]["Networks"]) == [f"{stack}-default"]
    assert reaches(engine, stack, "web", "db")
    assert converged(spec.plan())


def test_a_declared_default_network_is_the_one_containers_join(tmp_path, stack: str,
                                                               engine: docker.APIClient) -> None:
    spec = Stack(tmp_path, stack).write(f"""
        networks:
          default: {{name: {stack}-mine, labels: {{purpose: test}}}}
          side: {{}}
        containers:
          db:
            image: {BUSYBOX}
            command: {SLEEPER}
            networks: [side]
          web:
            image: {BUSYBOX}
            command: {SLEEPER}
        """)
    assert actions(spec.apply()) == {"networks.default": "+", "networks.side": "+", "containers.db": "+",
                                     "containers.web": "+"}
    (network,) = engine.networks(names=[f"{stack}-mine"])
    assert network["Labels"]["purpose"] == "test"
    assert list(container(engine, stack, "web")["NetworkSettings"]["Networks"]) == [f"{stack}-mine"]
    assert list(container(engine, stack, "db")["NetworkSettings"]["Networks"]) == [f"{stack}-side"]
    assert engine.networks(names=[f"{stack}-default"]) == []
    assert converged(spec.plan())
