"""External networks and volumes, and `quayform import` of volumes and networks, on the real engine.

An external object is used (joined, mounted) and never created, changed or removed: not by destroy, not
when it leaves the spec; a missing one stops the plan before anything changes. An imported one becomes the
stack's as it is: no create, its data kept, a difference from the spec held, never a replacement.
"""

from __future__ import annotations

import uuid

import docker
import pytest

from quayform.errors import PlanError
from quayform.pipeline import import_resource
from tests.conftest import BUSYBOX, SLEEPER, remove_stack
from tests.integration.helpers import Stack, actions, converged

pytestmark = pytest.mark.docker


@pytest.fixture
def by_hand(engine: docker.APIClient):
    """Networks and volumes made by hand (no labels): removed after the test, whatever it left."""
    made: list[tuple[str, str]] = []

    def make(kind: str, name: str, **kwargs) -> str:
        made.append((kind, name))
        if kind == "network":
            engine.create_network(name, **kwargs)
        else:
            engine.create_volume(name=name, **kwargs)
        return name

    yield make
    for kind, name in reversed(made):
        try:
            engine.remove_network(name) if kind == "network" else engine.remove_volume(name, force=True)
        except docker.errors.NotFound:
            pass


def write_into(engine: docker.APIClient, volume: str, text: str) -> None:
    cid = engine.create_container(BUSYBOX, ["sh", "-c", f"echo {text} > /v/keep"],
                                  host_config=engine.create_host_config(binds=[f"{volume}:/v"]))["Id"]
    engine.start(cid)
    assert engine.wait(cid)["StatusCode"] == 0
    engine.remove_container(cid, force=True)


def read_in(engine: docker.APIClient, stack: str, key: str, path: str) -> str:
    (found,) = engine.containers(filters={"label": [f"io.quayform.stack={stack}",
                                                    f"io.quayform.address=containers.{key}"]})
    execution = engine.exec_create(found["Id"], ["cat", path])
    return engine.exec_start(execution["Id"]).decode().strip()


def app(networks: str = "[shared]", volume: str = "store") -> str:
    return f"""
        containers:
          app:
            image: {BUSYBOX}
            command: {SLEEPER}
            networks: {networks}
            volumes: ["{volume}:/data"]
        """


def markers(engine: docker.APIClient, stack: str) -> list[str]:
    return sorted(v["Name"] for v in (engine.volumes(filters={"label": ["io.quayform.marker=import",
                                                                        f"io.quayform.stack={stack}"]})
                                      or {}).get("Volumes") or [])


# -- external -------------------------------------------------------------------------------------------

def test_external_network_and_volume_are_used_and_never_managed(tmp_path, stack: str, engine: docker.APIClient,
                                                                by_hand) -> None:
    net, vol = by_hand("network", f"{stack}-made-net"), by_hand("volume", f"{stack}-made-vol")
    write_into(engine, vol, "before")
    spec = Stack(tmp_path, stack).write(f"""
        networks:
          shared: {{external: true, name: {net}}}
        volumes:
          store: {{external: true, name: {vol}}}
        """ + app())
    assert actions(spec.apply()) == {"containers.app": "+"}
    (found,) = engine.containers(filters={"label": f"io.quayform.stack={stack}"})
    raw = engine.inspect_container(found["Id"])
    assert list(raw["NetworkSettings"]["Networks"]) == [net]
    assert "app" in raw["NetworkSettings"]["Networks"][net]["Aliases"]
    assert read_in(engine, stack, "app", "/data/keep") == "before"
    assert converged(spec.plan())

    spec.destroy(remove_volumes=True)  # even with --volumes: not the stack's
    assert engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"}) == []
    assert engine.inspect_network(net)["Name"] == net and engine.inspect_volume(vol)["Name"] == vol
    assert engine.inspect_network(net)["Labels"] in (None, {})  # nothing was written on it


def test_an_external_that_leaves_the_spec_is_left_alone(tmp_path, stack: str, engine: docker.APIClient,
                                                        by_hand) -> None:
    net, vol = by_hand("network", f"{stack}-made-net"), by_hand("volume", f"{stack}-made-vol")
    spec = Stack(tmp_path, stack).write(f"""
        networks:
          shared: {{external: true, name: {net}}}
        volumes:
          store: {{external: true, name: {vol}}}
        """ + app())
    spec.apply()
    spec.write(f"""
        containers:
          app: {{image: {BUSYBOX}, command: {SLEEPER}, network_mode: bridge}}
        """)
    assert actions(spec.apply()) == {"containers.app": "-/+"}
    assert converged(spec.plan())
    assert engine.inspect_network(net)["Name"] == net and engine.inspect_volume(vol)["Name"] == vol


def test_an_external_default_network_is_joined_by_containers_that_name_none(tmp_path, stack: str,
                                                                            engine: docker.APIClient,
                                                                            by_hand) -> None:
    net = by_hand("network", f"{stack}-theirs")
    spec = Stack(tmp_path, stack).write(f"""
        networks:
          default: {{external: true, name: {net}}}
        containers:
          app: {{image: {BUSYBOX}, command: {SLEEPER}}}
        """)
    assert actions(spec.apply()) == {"containers.app": "+"}
    (found,) = engine.containers(filters={"label": f"io.quayform.stack={stack}"})
    assert list(engine.inspect_container(found["Id"])["NetworkSettings"]["Networks"]) == [net]
    spec.destroy()
    assert engine.inspect_network(net)["Name"] == net


def test_a_missing_external_is_an_error_before_anything_changes(tmp_path, stack: str,
                                                                engine: docker.APIClient) -> None:
    spec = Stack(tmp_path, stack).write(f"""
        networks:
          shared: {{external: true, name: {stack}-nowhere}}
        volumes:
          store: {{external: true}}
        """ + app())
    with pytest.raises(PlanError) as info:
        spec.plan()
    assert str(info.value).splitlines() == [
        f"{spec.path}:5: networks.shared: the external network '{stack}-nowhere' does not exist; quayform never "
        f"creates an external one (create it first, e.g. `docker network create {stack}-nowhere`, or remove "
        "external: true to have the stack make it)",
        f"{spec.path}:7: volumes.store: the external volume 'store' does not exist; quayform never creates an "
        "external one (create it first, e.g. `docker volume create store`, or remove external: true to have the "
        "stack make it)"]
    assert engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"}) == []


# -- import ---------------------------------------------------------------------------------------------

def test_an_imported_volume_keeps_its_data_and_holds_a_difference(tmp_path, stack: str, engine: docker.APIClient,
                                                                  by_hand) -> None:
    vol = by_hand("volume", f"{stack}-store")  # the name the spec gives volumes.store
    write_into(engine, vol, "precious")
    spec = Stack(tmp_path, stack).write("""
        volumes:
          store: {}
        """ + app(networks="[]", volume="store").replace("networks: []", "network_mode: bridge"))
    with pytest.raises(PlanError, match=f"quayform import volumes.store {vol}"):
        spec.plan()  # a clash, with the way out
    assert import_resource(spec.options(), "volumes.store", vol) == vol
    assert markers(engine, stack) == [f"quayform-import-{stack}-volumes-store"]
    assert actions(spec.plan()) == {"containers.app": "+"}  # no create for the volume
    spec.apply()
    assert read_in(engine, stack, "app", "/data/keep") == "precious"
    assert converged(spec.plan())

    spec.write(spec.path.read_text().split("\n", 2)[2].replace("store: {}", "store: {labels: {tier: gold}}"))
    plan = spec.plan()
    assert actions(plan) == {}  # never recreated: that would lose the data
    (kept,) = [k for k in plan.kept if str(k.address) == "volumes.store"]
    assert [a.path for a in kept.attributes] == ["labels.tier"]

    spec.destroy()
    assert engine.inspect_volume(vol)["Name"] == vol  # volumes are kept without --volumes
    spec.destroy(remove_volumes=True)
    with pytest.raises(docker.errors.NotFound):
        engine.inspect_volume(vol)
    assert markers(engine, stack) == []


def test_an_imported_network_is_the_stacks_until_destroy(tmp_path, stack: str, engine: docker.APIClient,
                                                         by_hand) -> None:
    net = by_hand("network", f"{stack}-back")
    spec = Stack(tmp_path, stack).write(f"""
        networks:
          back: {{}}
        containers:
          app: {{image: {BUSYBOX}, command: {SLEEPER}, networks: [back]}}
        """)
    net_id = import_resource(spec.options(), "networks.back", net)
    assert net_id == engine.inspect_network(net)["Id"]
    assert actions(spec.apply()) == {"containers.app": "+"}
    assert converged(spec.plan())
    spec.destroy()
    with pytest.raises(docker.errors.NotFound):
        engine.inspect_network(net)
    assert markers(engine, stack) == []


def test_import_errors_say_what_is_wrong(tmp_path, stack: str, engine: docker.APIClient, by_hand) -> None:
    other = f"qft-{uuid.uuid4().hex[:10]}"
    try:
        net = by_hand("network", f"{stack}-back")
        vol = by_hand("volume", f"{stack}-store")
        theirs = by_hand("network", f"{stack}-theirs", labels={"io.quayform.stack": other,
                                                                "io.quayform.address": "networks.x"})
        spec = Stack(tmp_path, stack).write(f"""
            networks:
              back: {{}}
              theirs: {{name: {theirs}}}
              wrong: {{name: {vol}}}
              ext: {{external: true, name: {net}}}
              gone: {{name: {stack}-nothing}}
            volumes:
              store: {{}}
            """)

        def refused(address: str, name: str) -> str:
            with pytest.raises(PlanError) as info:
                import_resource(spec.options(), address, name)
            return str(info.value)

        assert refused("networks.gone", f"{stack}-nothing") == f"there is no network named '{stack}-nothing' to import"
        assert refused("networks.wrong", vol) == (f"there is no network named '{vol}' to import ('{vol}' is a volume, "
                                                  "not a network)")
        assert refused("networks.theirs", theirs) == (f"network '{theirs}' is already managed by stack '{other}' "
                                                      "(as networks.x)")
        assert refused("networks.back", "elsewhere") == (
            f"networks.back: the spec names it '{stack}-back', and a network cannot be renamed: to import "
            "'elsewhere', set `name: elsewhere` on networks.back and import again")
        assert refused("networks.ext", net).startswith("networks.ext: it is external: true")

        # imported by one stack, it is not another's to import
        other_spec = Stack(tmp_path / "other", other)
        (tmp_path / "other").mkdir()
        other_spec.write(f"volumes:\n  store: {{name: {vol}}}\n")
        import_resource(other_spec.options(), "volumes.store", vol)
        assert refused("volumes.store", vol) == (f"volume '{vol}' has already been imported by stack '{other}' as "
                                                 "volumes.store")
        import_resource(spec.options(), "networks.back", net)
        assert refused("networks.back", net) == f"network '{net}' has already been imported by stack '{stack}' " \
                                                "as networks.back"
    finally:
        remove_stack(engine, other)
