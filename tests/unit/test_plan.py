"""plan.py: order, cascade, summary, destroy plans; graphs built from real specs or plain edges."""

from __future__ import annotations

import textwrap

import pytest

from quayform.address import Address
from quayform.changes import Action, AttributeChange, Change, Kept, LiveObject, Prerequisite
from quayform.graph import StackGraph, build_graph
from quayform.plan import Plan, build_destroy_plan, build_plan, cascade_replacements, order_changes
from quayform.spec import load_spec

NET = Address("networks", "backend")
DATA = Address("volumes", "data")
DB = Address("containers", "db")
APP = Address("containers", "app")
CACHE = Address("containers", "cache")


def graph(*edges: tuple[Address, Address], nodes: tuple[Address, ...] = ()) -> StackGraph:
    every = list(dict.fromkeys([*nodes, *(a for edge in edges for a in edge)]))
    return StackGraph(every, set(edges))


# db uses the volume and network; app depends on db and uses the network; cache stands alone.
STACK = graph((DATA, DB), (NET, DB), (NET, APP), (DB, APP), nodes=(CACHE,))


def change(address: Address, action: Action, **kwargs) -> Change:
    return Change(address, action, **kwargs)


@pytest.fixture
def spec_graph(tmp_path):
    path = tmp_path / "quayform.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        stack: s
        networks:
          backend: {}
        volumes:
          data: {}
        containers:
          app:
            image: busybox
            networks: [backend]
            depends_on: [db]
          db:
            image: postgres
            volumes: ["data:/var/lib/postgresql/data"]
            networks: [backend]
          cache:
            image: redis
            network_mode: bridge  # Docker's bridge: no network of the stack, no edge
        """))
    return build_graph(load_spec(str(path), environ={}))


def test_spec_graph_is_the_one_these_tests_assume(spec_graph):
    assert set(spec_graph.dag.edges) == set(STACK.dag.edges)
    assert spec_graph.order() == [NET, DATA, CACHE, DB, APP]


def test_order_changes_follows_the_graph_then_orphans_by_kind_and_key():
    orphans = [Address("containers", "zz-old"), Address("networks", "old"), Address("containers", "aa-old")]
    changes = [change(a, Action.DELETE) for a in orphans]
    changes += [change(a, Action.CREATE) for a in (APP, CACHE, DB, DATA, NET)]
    ordered = [c.address for c in order_changes(changes, STACK)]
    assert ordered == [NET, DATA, CACHE, DB, APP, Address("networks", "old"), Address("containers", "aa-old"),
                       Address("containers", "zz-old")]


def test_order_without_a_graph_is_by_kind_then_key():
    changes = [change(a, Action.CREATE) for a in (APP, DB, NET, DATA)]
    assert [c.address for c in order_changes(changes, None)] == [NET, DATA, APP, DB]


def test_build_plan_separates_unchanged_and_sorts_kept():
    kept = [Kept(Address("volumes", "zz"), "r1"), Kept(NET, "r2"), Kept(Address("volumes", "aa"), "r3")]
    changes = [change(APP, Action.UPDATE), change(DB, Action.NOOP), change(CACHE, Action.CREATE),
               change(DATA, Action.NOOP), change(NET, Action.NOOP)]
    plan = build_plan("s", changes, kept, STACK, [Prerequisite("pull", "redis:7", "pull it")], {"url": "x"})
    assert [c.address for c in plan.changes] == [CACHE, APP]
    assert plan.unchanged == [NET, DATA, DB]
    assert [k.address for k in plan.kept] == [NET, Address("volumes", "aa"), Address("volumes", "zz")]
    assert (plan.stack, plan.images_to_pull, plan.outputs, plan.graph, plan.destroy) == (
        "s", ["redis:7"], {"url": "x"}, STACK, False)
    assert plan.has_changes


def test_summary_counts_each_action():
    plan = build_plan("s", [
        change(NET, Action.CREATE), change(DATA, Action.CREATE), change(DB, Action.UPDATE),
        change(APP, Action.REPLACE), change(CACHE, Action.DELETE), change(Address("containers", "x"), Action.NOOP),
    ], [], None, [], {})
    assert plan.summary() == {"add": 2, "change": 1, "replace": 1, "destroy": 1}


def test_empty_plan_has_no_changes():
    plan = build_plan("s", [change(DB, Action.NOOP)], [], STACK, [], {})
    assert not plan.has_changes
    assert plan.summary() == {"add": 0, "change": 0, "replace": 0, "destroy": 0}


# --- cascade --------------------------------------------------------------------------------

def test_replaced_volume_replaces_the_containers_on_it():
    changes = [change(DATA, Action.REPLACE, reason="replacement requested with --replace"),
               change(DB, Action.NOOP), change(CACHE, Action.NOOP), change(NET, Action.NOOP)]
    result = {c.address: c for c in cascade_replacements(changes, graph((DATA, DB), (NET, DB), nodes=(CACHE,)))}
    assert result[DB].action is Action.REPLACE
    assert result[DB].reason == "it uses volumes.data, which must be replaced"
    assert result[CACHE].action is Action.NOOP
    assert result[NET].action is Action.NOOP


def test_cascade_keeps_the_order_and_the_attributes():
    attrs = (AttributeChange("restart", "no", "always"),)
    changes = [change(NET, Action.REPLACE), change(DB, Action.UPDATE, attributes=attrs), change(CACHE, Action.NOOP)]
    result = cascade_replacements(changes, graph((NET, DB), nodes=(CACHE,)))
    assert [(c.address, c.action) for c in result] == [(NET, Action.REPLACE), (DB, Action.REPLACE),
                                                       (CACHE, Action.NOOP)]
    assert result[1].attributes == attrs


@pytest.mark.parametrize("action", [Action.CREATE, Action.DELETE, Action.REPLACE])
def test_cascade_leaves_creates_deletes_and_replacements_alone(action):
    original = change(DB, action, reason="own reason")
    result = cascade_replacements([change(DATA, Action.REPLACE), original], graph((DATA, DB)))
    assert result[1] is original


def test_a_replaced_container_does_not_cascade():
    changes = [change(DB, Action.REPLACE), change(APP, Action.NOOP)]
    assert [c.action for c in cascade_replacements(changes, graph((DB, APP)))] == [Action.REPLACE, Action.NOOP]


def test_build_plan_applies_the_cascade():
    changes = [change(NET, Action.REPLACE), change(DATA, Action.NOOP), change(CACHE, Action.NOOP),
               change(DB, Action.NOOP), change(APP, Action.UPDATE)]
    plan = build_plan("s", changes, [], STACK, [], {})
    assert [(c.address, c.action) for c in plan.changes] == [
        (NET, Action.REPLACE), (DB, Action.REPLACE), (APP, Action.REPLACE)]
    assert plan.summary()["replace"] == 3


def test_cascade_replaces_only_containers_that_use_the_replaced_resource():
    changes = [change(DATA, Action.REPLACE), change(DB, Action.NOOP), change(APP, Action.NOOP)]
    # app depends_on db; only db mounts the volume.
    result = {c.address: c for c in cascade_replacements(changes, graph((DATA, DB), (DB, APP)))}
    assert result[DB].action is Action.REPLACE
    assert result[APP].action is Action.NOOP


# --- destroy --------------------------------------------------------------------------------

def live(entries: dict) -> dict[Address, LiveObject]:
    return {address: LiveObject(address.kind, address, form.get("name", ""), oid, form)
            for address, (oid, form) in entries.items()}


LIVE = live({
    NET: ("n1", {"name": "s-backend"}),
    DATA: ("s-data", {"name": "s-data"}),
    DB: ("c-db", {"name": "s-db"}),
    APP: ("c-app", {"name": "s-app"}),
    CACHE: ("c-cache", {"name": "s-cache"}),
    Address("containers", "stray"): ("c-stray", {"name": "s-stray"}),
})
VOLUMES = frozenset({"volumes"})


def test_destroy_plan_keeps_volumes_and_orders_dependents_first():
    plan = build_destroy_plan("s", LIVE, STACK, release=frozenset())
    assert [c.address for c in plan.changes] == [APP, DB, CACHE, Address("containers", "stray"), NET]
    assert all(c.action is Action.DELETE and c.reason == "destroy" for c in plan.changes)
    assert plan.changes[0].live_id == "c-app" and plan.changes[0].before == {"name": "s-app"}
    assert plan.kept == [Kept(DATA, "named volumes keep their data; add --volumes to delete them")]
    assert (plan.destroy, "volumes" in plan.release) == (True, False)
    assert plan.summary() == {"add": 0, "change": 0, "replace": 0, "destroy": 5}


def test_destroy_plan_with_remove_volumes_deletes_them_after_the_containers():
    plan = build_destroy_plan("s", LIVE, STACK, release=VOLUMES)
    addresses = [c.address for c in plan.changes]
    assert addresses == [APP, DB, CACHE, Address("containers", "stray"), DATA, NET]
    assert plan.kept == []
    assert "volumes" in plan.release


def test_destroy_plan_without_a_graph():
    plan = build_destroy_plan("s", live({NET: ("n", {}), DB: ("c", {}), APP: ("c2", {})}), None)
    assert [c.address for c in plan.changes] == [APP, DB, NET]


def test_plan_default_fields():
    plan = Plan("s", [])
    assert (plan.kept, plan.unchanged, plan.images_to_pull, plan.outputs, plan.graph) == ([], [], [], {}, None)
