"""Bugs found by review, each pinned by the smallest input that showed it."""

from __future__ import annotations

from pathlib import Path

from quayform.address import Address
from quayform.changes import Action, Change
from quayform.diff import attribute_changes
from quayform.plan import Plan, check_prevent_destroy
from quayform.kinds.container import KIND as CONTAINERS
from quayform.kinds.container.form import ImageInfo
from quayform.kinds.postgres.user import KIND as USERS
from quayform.kinds.postgres.user import judge_grants
from quayform.kinds.postgres.user import live_user as catalog_user
from quayform.pipeline import context
from quayform.sensitive import Sensitive
from quayform.spec import load_spec

FIELDS = CONTAINERS.policy


def desired_container(key, container, spec, image):
    ctx = context(spec)
    ctx.facts = {"containers": {(container.engine, container.image): image}}
    return CONTAINERS.desired(spec, key, ctx).form


def desired_user(key, spec):
    return USERS.desired(spec, key, context(spec)).form


def live_user(raw, databases, desired):
    form, payload = catalog_user(raw, databases)
    return {**form, "grants": judge_grants(desired.get("grants"), form, payload)}

import pytest

from quayform.errors import PlanError


def spec_from(tmp_path: Path, body: str):
    path = tmp_path / "quayform.yaml"
    path.write_text("version: 1\nstack: s\n" + body)
    return load_spec(str(path), environ={"PW": "x"})


IMAGE = ImageInfo(id="sha256:1", cmd=["serve"], healthcheck={"test": ["CMD", "probe"], "interval": "5s", "retries": 7})


def test_spec_healthcheck_fields_left_out_come_from_the_image(tmp_path: Path) -> None:
    spec = spec_from(tmp_path, "containers:\n  a: {image: x, healthcheck: {test: [CMD, mine], interval: 1s}}\n")
    desired = desired_container("a", spec.containers["a"], spec, IMAGE)
    assert desired["healthcheck"] == {"test": ["CMD", "mine"], "interval": "1s", "retries": 7}


def test_an_empty_command_means_the_image_cmd(tmp_path: Path) -> None:
    spec = spec_from(tmp_path, "containers:\n  a: {image: x, command: []}\n")
    assert desired_container("a", spec.containers["a"], spec, IMAGE)["command"] == ["serve"]


def test_a_plain_text_user_password_is_still_secret(tmp_path: Path) -> None:
    spec = spec_from(tmp_path, "containers:\n  pg: {image: x}\npostgres:\n  main: {container: pg}\n"
                               "users:\n  u: {server: main, password: literal-pw}\n")
    desired = desired_user("u", spec)
    assert isinstance(desired["password"], Sensitive)


def test_a_removed_secret_env_var_shows_as_removed() -> None:
    desired = {"env": {}}
    live = {"env": {"TOKEN": Sensitive("hunter2")}}
    (change,) = attribute_changes(desired, live, FIELDS.replace_on, FIELDS.mappings)
    assert (change.path, change.before, change.after, change.sensitive) == ("env.TOKEN", "(sensitive)", None, True)


def test_prevent_destroy_can_be_lifted_in_the_spec() -> None:
    address = Address("volumes", "data")
    plan = Plan("s", [Change(address, Action.DELETE, before={"name": "s-data"}, guarded=True)])
    check_prevent_destroy(plan, {address: False})  # the spec no longer guards it
    with pytest.raises(PlanError, match="volumes.data has lifecycle.prevent_destroy"):
        check_prevent_destroy(plan, {})  # removed from the spec: the recorded guard holds


def test_an_owner_declaring_a_narrow_grant_on_its_database_is_not_a_perpetual_change() -> None:
    databases = [{"name": "mine", "owner": "u", "acl": ["u=CTc/u"]}]
    desired = {"grants": {"mine": ["CONNECT"]}, "password": None}
    assert live_user({"name": "u"}, databases, desired)["grants"] == {"mine": ["CONNECT"]}


def test_numbers_keep_their_text_in_commands_and_file_owners(tmp_path: Path) -> None:
    spec = spec_from(tmp_path, "containers:\n  a:\n    image: x\n    command: [sleep, 1.50]\n"
                               "    files: {/f: {content: x, owner: 1000}}\n")
    assert spec.containers["a"].command == ["sleep", "1.50"]
    assert spec.containers["a"].files["/f"].owner == "1000"


def test_generate_with_an_invalid_length_writes_nothing(tmp_path: Path) -> None:
    from quayform.errors import SpecError

    with pytest.raises(SpecError):
        spec_from(tmp_path, "secrets:\n  k: {file: secrets/k, generate: {length: 8}}\n")
    assert not (tmp_path / "secrets" / "k").exists()
