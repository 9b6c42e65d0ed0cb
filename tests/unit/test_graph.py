"""The dependency graph: nodes, edges, a deterministic order, and cycles named from their smallest address."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from quayform.address import Address
from quayform.errors import CycleError, SpecError
from quayform.graph import build_graph
from quayform.spec import load_spec


def load(tmp_path: Path, body: str):
    path = tmp_path / "quayform.yaml"
    path.write_text("version: 1\nstack: g\n" + textwrap.dedent(body).lstrip("\n"))
    return path, load_spec(str(path), environ={}, read_secrets=True)


def graph_of(tmp_path: Path, body: str):
    return build_graph(load(tmp_path, body)[1])


def A(text: str) -> Address:
    return Address.parse(text)


def names(addresses) -> list[str]:
    return [str(a) for a in addresses]


@pytest.mark.parametrize(
    ("body", "order"),
    [
        ("", []),
        (
            # Networks, then volumes, then containers; keys in order within a kind.
            """
            containers:
              web: {image: nginx, networks: [front], volumes: ["html:/usr/share/nginx/html"]}
              api: {image: busybox}
            volumes: {html: {}, cache: {}}
            networks: {front: {}, back: {}}
            """,
            ["networks.back", "networks.default", "networks.front", "volumes.cache", "volumes.html", "containers.api",
             "containers.web"],
        ),
        (
            # depends_on puts z before a although a sorts first.
            """
            containers:
              a: {image: busybox, depends_on: [z]}
              z: {image: busybox}
            """,
            ["networks.default", "containers.z", "containers.a"],  # the network they join: compose's default
        ),
        (
            # A reference is an edge too: web uses db's name.
            """
            containers:
              a-web: {image: busybox, env: {DB: "${containers.z-db.name}"}}
              z-db: {image: postgres}
            """,
            ["networks.default", "containers.z-db", "containers.a-web"],
        ),
        (
            # A volume whose name refers to a container comes after it.
            """
            volumes:
              data: {name: "${containers.db.name}-data"}
            containers:
              db: {image: postgres}
              app: {image: busybox, volumes: ["data:/data"]}
            """,
            ["networks.default", "containers.db", "volumes.data", "containers.app"],
        ),
        (
            # A chain and an independent container.
            """
            containers:
              c: {image: busybox, depends_on: [b]}
              b: {image: busybox, depends_on: [a]}
              a: {image: busybox}
              x: {image: busybox}
            """,
            ["networks.default", "containers.a", "containers.b", "containers.c", "containers.x"],
        ),
        (
            # A bind mount and an anonymous volume are no edges; outputs add none.
            """
            volumes: {zz: {}}
            containers:
              app: {image: busybox, volumes: ["./conf:/conf", "/anon"]}
            outputs:
              name: ${containers.app.name}
            """,
            ["networks.default", "volumes.zz", "containers.app"],
        ),
    ],
    ids=["empty", "kinds-first", "depends-on", "reference", "volume-after-container", "chain", "no-edges"],
)
def test_order(tmp_path, body, order):
    graph = graph_of(tmp_path, body)
    assert names(graph.order()) == order
    assert names(graph.reverse_order()) == order[::-1]


def test_dependencies_and_dependents(tmp_path):
    graph = graph_of(tmp_path, """
        networks: {net: {}}
        volumes: {data: {}}
        containers:
          db: {image: postgres, networks: [net], volumes: ["data:/data"]}
          app: {image: busybox, networks: [net], depends_on: [db]}
          web: {image: nginx, env: {API: "${containers.app.name}"}}
    """)
    assert graph.dependencies_of(A("containers.db")) == {A("networks.net"), A("volumes.data")}
    assert graph.dependencies_of(A("containers.app")) == {A("networks.net"), A("containers.db")}
    assert graph.dependents_of(A("networks.net")) == {A("containers.db"), A("containers.app")}
    assert graph.all_dependencies_of(A("containers.web")) == {
        A("containers.app"), A("containers.db"), A("networks.net"), A("volumes.data"), A("networks.default")}
    assert graph.all_dependents_of(A("volumes.data")) == {A("containers.db"), A("containers.app"), A("containers.web")}
    assert graph.dependencies_of(A("containers.nope")) == set()
    assert graph.all_dependents_of(A("containers.nope")) == set()


def test_self_reference_is_not_an_edge(tmp_path):
    graph = graph_of(tmp_path, """
        containers:
          app: {image: busybox, env: {ME: "${containers.app.name}"}}
    """)
    assert names(graph.order()) == ["networks.default", "containers.app"]
    assert graph.dependencies_of(A("containers.app")) == {A("networks.default")}  # the network it joins only


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (
            """
            containers:
              a: {image: busybox, depends_on: [b]}
              b: {image: busybox, depends_on: [a]}
            """,
            ["4: containers.a: dependency cycle: containers.a -> containers.b -> containers.a"],
        ),
        (
            # Declared in another order: still named from the smallest address, a.
            """
            containers:
              b:
                image: busybox
                depends_on: [a]
              c:
                image: busybox
                depends_on: [b]
              a:
                image: busybox
                depends_on: [c]
            """,
            ["12: containers.a: dependency cycle: containers.a -> containers.c -> containers.b -> containers.a"],
        ),
        (
            # Through references only: a uses b's name, b uses a's name.
            """
            containers:
              b: {image: busybox, env: {PEER: "${containers.a.name}"}}
              a: {image: busybox, env: {PEER: "${containers.b.name}"}}
            """,
            ["5: containers.a: dependency cycle: containers.a -> containers.b -> containers.a"],
        ),
        (
            # Through a volume: the volume's name uses the container that mounts it.
            """
            volumes:
              data: {name: "${containers.db.name}-data"}
            containers:
              db: {image: postgres, volumes: ["data:/data"]}
            """,
            ["6: containers.db: dependency cycle: containers.db -> volumes.data -> containers.db"],
        ),
        (
            # Through a network: the network's name uses a container on it.
            """
            networks:
              net: {name: "${containers.app.name}-net"}
            containers:
              app: {image: busybox, networks: [net]}
            """,
            ["6: containers.app: dependency cycle: containers.app -> networks.net -> containers.app"],
        ),
        (
            # Two separate cycles: both are named.
            """
            containers:
              a: {image: busybox, depends_on: [b]}
              b: {image: busybox, depends_on: [a]}
              x: {image: busybox, depends_on: [y]}
              y: {image: busybox, depends_on: [x]}
            """,
            ["4: containers.a: dependency cycle: containers.a -> containers.b -> containers.a",
             "6: containers.x: dependency cycle: containers.x -> containers.y -> containers.x"],
        ),
    ],
    ids=["two", "three-out-of-order", "references", "volume", "network", "two-cycles"],
)
def test_cycles_are_named_from_the_smallest_address_with_the_spec_line(tmp_path, body, lines):
    path, spec = load(tmp_path, body)
    with pytest.raises(CycleError) as info:
        build_graph(spec)
    assert isinstance(info.value, SpecError)
    assert str(info.value).splitlines() == [f"{path}:{line}" for line in lines]
