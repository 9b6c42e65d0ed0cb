"""diff.py on plain dicts: desired vs live -> Change / Kept, table-driven (no Docker, no spec loading)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from quayform.address import Address
from quayform.changes import UNKNOWN, Action, AttributeChange, Change, Desired, Kept, LiveObject
from quayform.diff import attribute_changes, choose_action, comparable, diff_resource, diff_stack, sensitive_paths
from quayform.kinds.base import FieldPolicy
from quayform.sensitive import MASK, Sensitive

CONTAINER = FieldPolicy(
    replace_on=frozenset({"name", "image", "command", "env", "ports", "mounts", "labels"}),
    update_in_place=frozenset({"restart", "networks", "running"}),
    mappings=frozenset({"env", "labels", "networks"}),
)
HOLD = "its definition changed, but recreating it would {cost}; run with --replace {{address}} to recreate it"
VOLUME = FieldPolicy(replace_on=frozenset({"name", "driver", "driver_opts", "labels"}),
                     mappings=frozenset({"driver_opts", "labels"}), on_replace="hold",
                     hold_reason=HOLD.format(cost="delete the data in it"), orphan="keep",
                     orphan_reason=lambda live: (f"it is no longer in the spec but may hold data; delete it with "
                                                 f"`docker volume rm {live.name}` if it is no longer needed"))
NETWORK = FieldPolicy(replace_on=frozenset({"name", "driver", "internal", "labels"}), mappings=frozenset({"labels"}),
                      on_replace="hold", hold_reason=HOLD.format(cost="disconnect every container on it"))
POLICIES = {"containers": CONTAINER, "volumes": VOLUME, "networks": NETWORK}


def live_object(address: Address, live_id: str, form: dict[str, Any]) -> LiveObject:
    return LiveObject(address.kind, address, form.get("name", address.key), live_id, form)


def wanted(form: dict[str, Any], partial: tuple[str, ...] = (), payload: Any = None) -> Desired:
    return Desired(form, payload, partial=frozenset(partial))

WEB = Address("containers", "web")
DATA = Address("volumes", "data")
BACKEND = Address("networks", "backend")


def container(**overrides: Any) -> dict[str, Any]:
    """A normalised container form; desired and live share this shape."""
    form = {
        "name": "s-web",
        "image": "busybox:1",
        "command": ["sleep", "60"],
        "env": {"PATH": "/bin", "MODE": "prod"},
        "ports": ["127.0.0.1:8080->80/tcp"],
        "mounts": ["volume:s-data:/data:rw"],
        "networks": {"s-backend": ["web"]},
        "restart": "always",
        "labels": {"app": "web"},
        "running": True,
    }
    form.update(overrides)
    return form


def volume(**overrides: Any) -> dict[str, Any]:
    return {"name": "s-data", "driver": "local", "driver_opts": {}, "labels": {}, **overrides}


def network(**overrides: Any) -> dict[str, Any]:
    return {"name": "s-backend", "driver": "bridge", "internal": False, "labels": {}, **overrides}


@dataclass(frozen=True)
class Case:
    address: Address
    desired: dict[str, Any]
    live: dict[str, Any] | None
    action: Action
    attributes: tuple[AttributeChange, ...] = ()
    replace_requested: bool = False
    partial: tuple[str, ...] = ()  # attributes compared on the desired keys only
    payload: Any = None


CASES = {
    "no-op": Case(WEB, container(), container(), Action.NOOP),
    "create": Case(WEB, container(), None, Action.CREATE),
    "env change forces replace": Case(
        WEB, container(env={"PATH": "/bin", "MODE": "dev"}), container(), Action.REPLACE,
        (AttributeChange("env.MODE", "prod", "dev", forces_replace=True),)),
    "env key added and removed, per key": Case(
        WEB, container(env={"PATH": "/bin", "NEW": "1"}), container(), Action.REPLACE,
        (AttributeChange("env.MODE", "prod", None, True), AttributeChange("env.NEW", None, "1", True))),
    "restart change updates in place": Case(
        WEB, container(restart="unless-stopped"), container(), Action.UPDATE,
        (AttributeChange("restart", "always", "unless-stopped"),)),
    "stopped container -> update": Case(
        WEB, container(), container(running=False), Action.UPDATE, (AttributeChange("running", False, True),)),
    "networks change updates in place": Case(
        WEB, container(networks={"s-backend": ["web"], "s-front": ["web"]}), container(), Action.UPDATE,
        (AttributeChange("networks.s-front", None, ["web"]),)),
    "network alias change": Case(
        WEB, container(), container(networks={"s-backend": ["web", "www"]}), Action.UPDATE,
        (AttributeChange("networks.s-backend", ["web", "www"], ["web"]),)),
    "update and replace together -> replace": Case(
        WEB, container(restart="no", image="busybox:2"), container(), Action.REPLACE,
        (AttributeChange("image", "busybox:1", "busybox:2", True), AttributeChange("restart", "always", "no"))),
    "list attribute shown whole": Case(
        WEB, container(ports=["127.0.0.1:8080->80/tcp", "9090->90/tcp"]), container(), Action.REPLACE,
        (AttributeChange("ports", ["127.0.0.1:8080->80/tcp"], ["127.0.0.1:8080->80/tcp", "9090->90/tcp"], True),)),
    "UNKNOWN desired values are not compared": Case(
        WEB, container(image=UNKNOWN, command=UNKNOWN), container(), Action.NOOP),
    "payload is not compared": Case(WEB, container(), container(), Action.NOOP, payload=object()),
    "live-only keys are not compared": Case(
        WEB, container(), {**container(), "_anonymous_volumes": {"/x": "f" * 64}, "extra": 1}, Action.NOOP),
    "partial env: only the spec's keys": Case(
        WEB, container(env={"MODE": "prod"}, labels={}), container(), Action.NOOP, partial=("env", "labels")),
    "partial list: only the spec's items": Case(
        WEB, container(mounts=[]), container(mounts=["anonymous:/cache", "volume:s-data:/data:rw"]), Action.NOOP,
        partial=("mounts",)),
    "partial still catches a changed key": Case(
        WEB, container(env={"MODE": "dev"}), container(), Action.REPLACE,
        (AttributeChange("env.MODE", "prod", "dev", True),), partial=("env",)),
    "partial list still catches a missing item": Case(
        WEB, container(mounts=["volume:s-other:/o:rw"]), container(), Action.REPLACE,
        (AttributeChange("mounts", [], ["volume:s-other:/o:rw"], True),), partial=("mounts",)),
    "replace requested without a difference": Case(WEB, container(), container(), Action.REPLACE,
                                                   replace_requested=True),
    "volume no-op": Case(DATA, volume(), volume(), Action.NOOP),
    "held volume, replace requested": Case(
        DATA, volume(driver_opts={"type": "tmpfs"}), volume(), Action.REPLACE,
        (AttributeChange("driver_opts.type", None, "tmpfs", True),), replace_requested=True),
    "network replace requested": Case(BACKEND, network(), network(), Action.REPLACE, replace_requested=True),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_diff_resource(case: Case):
    live = live_object(case.address, "live-id", case.live) if case.live is not None else None
    change = diff_resource(case.address, wanted(case.desired, case.partial, case.payload), live,
                           POLICIES[case.address.kind], case.replace_requested)
    assert isinstance(change, Change)
    assert (change.action, change.attributes) == (case.action, case.attributes)
    assert change.address == case.address
    assert change.after is case.desired
    assert change.payload is case.payload
    if case.live is not None:
        assert (change.before, change.live_id) == (case.live, "live-id")


def test_reason_says_why_a_replacement_was_requested():
    change = diff_resource(WEB, wanted(container()), live_object(WEB, "id", container()), CONTAINER,
                           replace_requested=True)
    assert change.reason == "replacement requested with --replace"
    assert diff_resource(WEB, wanted(container(restart="no")), live_object(WEB, "id", container()),
                         CONTAINER).reason is None


HELD = {
    "volume driver change": (DATA, volume(driver="nfs"), volume(), "delete the data in it",
                             (AttributeChange("driver", "local", "nfs", True),)),
    "volume label change": (DATA, volume(labels={"a": "1"}), volume(), "delete the data in it",
                            (AttributeChange("labels.a", None, "1", True),)),
    "network internal change": (BACKEND, network(internal=True), network(), "disconnect every container on it",
                                (AttributeChange("internal", False, True, True),)),
}


@pytest.mark.parametrize("address, desired, live, cost, attributes", HELD.values(), ids=HELD.keys())
def test_held_kind_change_is_kept_with_a_replace_hint(address, desired, live, cost, attributes):
    kept = diff_resource(address, wanted(desired), live_object(address, "id", live), POLICIES[address.kind])
    assert isinstance(kept, Kept)
    assert kept.address == address
    assert kept.attributes == attributes
    assert kept.reason == (f"its definition changed, but recreating it would {cost}; "
                           f"run with --replace {address} to recreate it")


# --- secrets --------------------------------------------------------------------------------

SECRET_CASES = {
    "changed": ({"PATH": "/bin", "PW": "old-secret"}, AttributeChange("env.PW", MASK, MASK, True, True)),
    "added": ({"PATH": "/bin"}, AttributeChange("env.PW", None, MASK, True, True)),
}


@pytest.mark.parametrize("live_env, expected", SECRET_CASES.values(), ids=SECRET_CASES.keys())
def test_sensitive_env_value_is_masked_before_and_after(live_env, expected):
    desired = container(env={"PATH": "/bin", "PW": Sensitive("hunter2")})
    change = diff_resource(WEB, wanted(desired), live_object(WEB, "id", container(env=live_env)), CONTAINER)
    assert change.attributes == (expected,)
    assert change.action is Action.REPLACE
    assert "hunter2" not in repr(change.attributes) and "old-secret" not in repr(change.attributes)


def test_equal_secret_is_no_change():
    desired = container(env={"PATH": "/bin", "MODE": "prod", "PW": Sensitive("hunter2")})
    live = container(env={"PATH": "/bin", "MODE": "prod", "PW": "hunter2"})
    assert diff_resource(WEB, wanted(desired), live_object(WEB, "id", live), CONTAINER).action is Action.NOOP


def test_a_plain_key_next_to_a_secret_is_shown_in_clear():
    desired = container(env={"PATH": "/bin", "MODE": "dev", "PW": Sensitive("hunter2")})
    live = container(env={"PATH": "/bin", "MODE": "prod", "PW": "hunter2"})
    assert attribute_changes(desired, live, CONTAINER.replace_on, CONTAINER.mappings) == (
        AttributeChange("env.MODE", "prod", "dev", True, False),)


def test_a_secret_in_a_non_mapping_attribute_masks_the_whole_value():
    desired = container(command=["run", Sensitive("hunter2")])
    (attr,) = attribute_changes(desired, container(), CONTAINER.replace_on, CONTAINER.mappings)
    assert attr == AttributeChange("command", MASK, MASK, True, True)


def test_comparable_reveals_secrets_and_drops_what_is_not_compared():
    desired = {"env": {"PW": Sensitive("x")}, "image": UNKNOWN, "restart": "no", "ports": []}
    live = {"env": {"PW": "x"}, "image": "busybox", "restart": "no", "ports": [], "running": True}
    assert comparable(desired, live, ignored=frozenset({"ports"})) == (
        {"env": {"PW": "x"}, "restart": "no"}, {"env": {"PW": "x"}, "restart": "no"})


def test_sensitive_paths():
    desired = {"env": {"A": "1", "PW": Sensitive("x")}, "token": Sensitive("y"), "name": "n", "_p": 1}
    assert sensitive_paths(desired) == ["env.PW", "token"]


# --- choose_action --------------------------------------------------------------------------

PLAIN = AttributeChange("restart", "no", "always")
FORCING = AttributeChange("image", "a", "b", forces_replace=True)


@pytest.mark.parametrize("exists, attributes, requested, action", [
    (False, (), False, Action.CREATE),
    (False, (FORCING,), True, Action.CREATE),
    (True, (), False, Action.NOOP),
    (True, (PLAIN,), False, Action.UPDATE),
    (True, (PLAIN, FORCING), False, Action.REPLACE),
    (True, (), True, Action.REPLACE),
])
def test_choose_action(exists, attributes, requested, action):
    assert choose_action(exists, attributes, requested) is action


# --- diff_stack -----------------------------------------------------------------------------

def test_diff_stack_creates_keeps_and_deletes_orphans():
    orphan_c, orphan_v, orphan_n = Address("containers", "old"), Address("volumes", "old"), Address("networks", "old")
    desired = {WEB: wanted(container()), DATA: wanted(volume(driver="nfs")), BACKEND: wanted(network())}
    live = {
        WEB: live_object(WEB, "c1", container(restart="no")),
        DATA: live_object(DATA, "s-data", volume()),
        orphan_c: live_object(orphan_c, "c2", container(name="s-old")),
        orphan_v: live_object(orphan_v, "s-old", volume(name="s-old")),
        orphan_n: live_object(orphan_n, "n2", network(name="s-old")),
    }
    changes, kept = diff_stack(desired, live, POLICIES)
    assert [(c.address, c.action) for c in changes] == [
        (WEB, Action.UPDATE), (BACKEND, Action.CREATE), (orphan_c, Action.DELETE), (orphan_n, Action.DELETE)]
    orphan = changes[2]
    assert (orphan.reason, orphan.live_id, orphan.before["name"], orphan.after) == (
        "it is no longer in the spec", "c2", "s-old", None)
    assert [k.address for k in kept] == [DATA, orphan_v]
    assert kept[1].reason == ("it is no longer in the spec but may hold data; delete it with "
                              "`docker volume rm s-old` if it is no longer needed")


def test_diff_stack_replace_set():
    changes, kept = diff_stack({WEB: wanted(container()), DATA: wanted(volume(driver="nfs"))},
                               {WEB: live_object(WEB, "c1", container()), DATA: live_object(DATA, "s-data", volume())},
                               POLICIES, replace={WEB, DATA})
    assert [(c.address, c.action) for c in changes] == [(WEB, Action.REPLACE), (DATA, Action.REPLACE)]
    assert kept == []


def test_diff_stack_no_changes():
    changes, kept = diff_stack({WEB: wanted(container())}, {WEB: live_object(WEB, "c1", container())}, POLICIES)
    assert [c.action for c in changes] == [Action.NOOP]
    assert kept == []
