"""The default network, external networks and volumes, and adopted ones, from data (no engine)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from quayform.address import Address
from quayform.changes import LiveObject
from quayform.errors import SpecError
from quayform.graph import build_graph
from quayform.kinds.network import KIND as NETWORKS
from quayform.kinds.volume import KIND as VOLUMES
from quayform.pipeline import context, desired_state
from quayform.spec import load_spec
from quayform.targets import DEFAULT_ENGINE


def load(tmp_path: Path, body: str):
    path = tmp_path / "quayform.yaml"
    path.write_text("version: 1\nstack: s\n" + textwrap.dedent(body).lstrip("\n"))
    return load_spec(str(path), environ={}, read_secrets=False)


def joined(spec, key: str) -> dict:
    return desired_state(spec, context(spec))[Address("containers", key)].form["networks"]


@pytest.mark.parametrize(("body", "default_name", "networks"), [
    # a container that names no network joins <stack>-default, its key an alias
    ("containers:\n  web: {image: x}\n  db: {image: x}\n", "s-default",
     {"web": {"s-default": ["web"]}, "db": {"s-default": ["db"]}}),
    # only those that name none; Docker's bridge and the host's network are ways out
    ("networks: {front: {}}\ncontainers:\n  web: {image: x, networks: [front]}\n  db: {image: x}\n"
     "  old: {image: x, network_mode: bridge}\n  fast: {image: x, network_mode: host}\n", "s-default",
     {"web": {"s-front": ["web"]}, "db": {"s-default": ["db"]}, "old": {"bridge": []}, "fast": {"host": []}}),
    # no container needs it: no default network
    ("containers:\n  web: {image: x, network_mode: bridge}\n", None, {"web": {"bridge": []}}),
    # the spec's own default is the one used, with its name
    ("networks: {default: {name: shared, internal: true}}\ncontainers:\n  web: {image: x}\n", "shared",
     {"web": {"shared": ["web"]}}),
    # an external default: joined by its name, never one of the stack's resources
    ("networks: {default: {external: true, name: theirs}}\ncontainers:\n  web: {image: x}\n", None,
     {"web": {"theirs": ["web"]}}),
], ids=["implied", "only-those-without", "not-needed", "declared", "external"])
def test_the_default_network(tmp_path, body, default_name, networks) -> None:
    spec = load(tmp_path, body)
    managed = NETWORKS.items(spec)
    assert (NETWORKS.name_of(spec, "default") if "default" in managed else None) == default_name
    assert {key: joined(spec, key) for key in spec.containers} == networks
    graph = build_graph(spec)
    for key in spec.containers:  # made before the containers that join it; an external one is no node
        needs = graph.dependencies_of(Address("containers", key))
        assert (Address("networks", "default") in needs) == (default_name in networks[key])


def test_external_ones_are_referenced_by_name_and_are_no_resources(tmp_path) -> None:
    spec = load(tmp_path, """
        networks: {shared: {external: true}, own: {}}
        volumes: {data: {external: true, name: pgdata}}
        containers:
          web: {image: x, networks: [shared, own], volumes: ["data:/data"]}
        """)
    desired = desired_state(spec, context(spec))
    assert sorted(str(a) for a in desired) == ["containers.web", "networks.own"]
    assert desired[Address("containers", "web")].form["networks"] == {"shared": ["web"], "s-own": ["web"]}
    assert "volume:pgdata:/data:rw" in desired[Address("containers", "web")].form["mounts"]


@pytest.mark.parametrize(("body", "message"), [
    ("networks: {n: {external: true, driver: bridge}}\n",
     "3: networks.n: an external network is only referenced, never created or changed: driver cannot be given "
     "with external: true (only name)"),
    ("volumes: {v: {external: true, labels: {a: b}}}\n",
     "3: volumes.v: an external volume is only referenced, never created or changed: labels cannot be given with "
     "external: true (only name)"),
    ("volumes: {v: {external: true, lifecycle: {prevent_destroy: true}}}\n",
     "3: volumes.v: an external volume is only referenced, never created or changed: lifecycle cannot be given "
     "with external: true (only name)"),
])
def test_an_external_one_takes_only_a_name(tmp_path, body, message) -> None:
    with pytest.raises(SpecError) as info:
        load(tmp_path, body)
    assert [str(p).split(":", 1)[1] for p in info.value.problems] == [message]


def live(kind: str, name: str, owner: str | None = None, address: Address | None = None) -> LiveObject:
    return LiveObject(kind, address, name, name, {"name": name}, None, owner, False, DEFAULT_ENGINE)


def test_a_missing_external_and_one_that_is_the_stacks_own_are_conflicts(tmp_path) -> None:
    spec = load(tmp_path, """
        networks:
          gone: {external: true, name: nowhere}
          there: {external: true, name: elsewhere}
          mine: {external: true, name: s-mine}
        """)
    objects = [live("networks", "elsewhere", owner="other", address=None),
               live("networks", "s-mine", owner="s", address=Address("networks", "mine")),
               live("volumes", "nowhere")]  # a volume of that name is no network
    assert NETWORKS.conflicts(spec, {}, objects, "s") == [
        f"{spec.path}:4: networks.gone: the external network 'nowhere' does not exist; quayform never creates an "
        "external one (create it first, e.g. `docker network create nowhere`, or remove external: true to have the "
        "stack make it)",
        f"{spec.path}:6: networks.mine: network 's-mine' is this stack's own networks.mine, not one made elsewhere; "
        "remove external: true to keep managing it"]


MARKER = {"Name": "quayform-import-s-volumes-data", "Labels": {
    "io.quayform.stack": "s", "io.quayform.marker": "import", "io.quayform.address": "volumes.data",
    "io.quayform.import-id": "pgdata"}}


def test_an_adopted_volume_and_network_are_read_as_the_stacks() -> None:
    volume = VOLUMES.normalise(({"Name": "pgdata", "Driver": "local", "Labels": None, "Options": None}, False,
                                ("volumes.data", MARKER["Name"])), "s", DEFAULT_ENGINE)
    assert (volume.address, volume.owner, volume.form["labels"]) == (Address("volumes", "data"), "s", {})
    assert volume.payload.import_marker == MARKER["Name"]
    network = NETWORKS.normalise(({"Name": "made", "Id": "n1", "Driver": "bridge", "Labels": {"team": "a"}},
                                  ("networks.back", "quayform-import-s-networks-back")), "s", DEFAULT_ENGINE)
    assert (network.address, network.owner, network.form["labels"]) == (Address("networks", "back"), "s",
                                                                        {"team": "a"})
    assert VOLUMES.normalise((MARKER, False, None), "s", DEFAULT_ENGINE) is None  # the marker itself is bookkeeping


def test_what_cannot_be_imported_is_said_before_the_engine_is_asked(tmp_path) -> None:
    spec = load(tmp_path, "volumes:\n  data: {}\n  named: {name: pgdata}\n  ext: {external: true}\n")
    assert VOLUMES.import_problem(spec, "named", "pgdata") == ""
    assert VOLUMES.import_problem(spec, "data", "pgdata") == (
        "the spec names it 's-data', and a volume cannot be renamed: to import 'pgdata', set `name: pgdata` on "
        "volumes.data and import again")
    assert VOLUMES.import_problem(spec, "ext", "ext").startswith("it is external: true")
