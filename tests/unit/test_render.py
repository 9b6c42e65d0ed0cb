"""render.py: literal expected text for plans, events and results (colour off), and the JSON document."""

from __future__ import annotations

import io
import json
import textwrap

import pytest

from quayform.address import Address
from quayform.changes import UNKNOWN, Action, ApplyEvent, ApplyResult, AttributeChange, Change, Kept, Prerequisite
from quayform.plan import Plan
from quayform.plan_document import FORMAT_VERSION, dumps, plan_to_json
from quayform.render import Printer, render_apply_result, render_event, render_outputs, render_plan
from quayform.sensitive import MASK, Sensitive

WEB = Address("containers", "web")
DB = Address("containers", "db")
CACHE = Address("containers", "cache")
OLD = Address("containers", "old")
DATA = Address("volumes", "data")
NET = Address("networks", "backend")


def text(render, *args) -> str:
    stream = io.StringIO()
    render(*args, Printer(stream, color=False))
    return stream.getvalue()


def plan_text(plan: Plan) -> str:
    return text(render_plan, plan_to_json(plan))


def expected(block: str) -> str:
    return textwrap.dedent(block)


CREATE_WEB = Change(WEB, Action.CREATE, after={
    "name": "s-web", "image": "busybox:1", "image_id": UNKNOWN, "command": ["sleep", "60"], "entrypoint": None,
    "env": {"PATH": "/bin", "PW": Sensitive("hunter2")}, "ports": ["127.0.0.1:8080->80/tcp"], "mounts": [],
    "networks": {"s-backend": ["web"]}, "restart": "always", "privileged": False, "user": "", "labels": {},
    "healthcheck": {"test": ["CMD", "true"], "retries": 3}, "stop_signal": UNKNOWN, "running": True},
    payload="payload")
UPDATE_DB = Change(DB, Action.UPDATE, (AttributeChange("restart", "no", "always"),
                                      AttributeChange("networks.s-front", None, ["db"]),
                                      AttributeChange("networks.s-old", ["db"], None)),
                   before={"name": "s-db"}, after={"name": "s-db"}, live_id="c-db")
REPLACE_CACHE = Change(CACHE, Action.REPLACE, (AttributeChange("image", "redis:6", "redis:7", forces_replace=True),
                                               AttributeChange("env.PW", MASK, MASK, True, True)),
                       before={"name": "s-cache"}, after={"name": "s-cache", "image": "redis:7",
                                                          "env": {"PW": Sensitive("hunter2")}}, live_id="c-cache")
DELETE_OLD = Change(OLD, Action.DELETE, reason="it is no longer in the spec", before={"name": "s-old"}, live_id="c-old")
KEPT_DATA = Kept(DATA, "its definition changed, but recreating it would delete the data in it; "
                       "run with --replace volumes.data to recreate it",
                 (AttributeChange("driver", "local", "nfs", True),))


def test_render_create():
    assert plan_text(Plan("s", [CREATE_WEB])) == expected('''\
        quayform will perform the following actions:

          # containers.web will be created
          + container "s-web" {
              + name = "s-web"
              + image = "busybox:1"
              + image_id = "(known after apply)"
              + command = ["sleep", "60"]
              + env.PATH = "/bin"
              + env.PW = "(sensitive)"
              + ports = ["127.0.0.1:8080->80/tcp"]
              + networks.s-backend = ["web"]
              + restart = "always"
              + healthcheck.test = ["CMD", "true"]
              + healthcheck.retries = 3
              + running = true
            }

        Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy.
        ''')


def test_render_update_in_place():
    assert plan_text(Plan("s", [UPDATE_DB])) == expected('''\
        quayform will perform the following actions:

          # containers.db will be updated in-place
          ~ container "s-db" {
              ~ restart = "no" -> "always"
              + networks.s-front = ["db"]
              - networks.s-old = ["db"]
            }

        Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy.
        ''')


def test_render_replace_marks_what_forces_it():
    assert plan_text(Plan("s", [REPLACE_CACHE])) == expected('''\
        quayform will perform the following actions:

          # containers.cache must be replaced
        -/+ container "s-cache" {
              ~ image = "redis:6" -> "redis:7"  # forces replacement
              ~ env.PW = "(sensitive)" -> "(sensitive)"  # forces replacement
            }

        Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy.
        ''')


def test_render_replace_with_a_reason():
    change = Change(DB, Action.REPLACE, reason="it uses volumes.data, which must be replaced",
                    before={"name": "s-db"}, after={"name": "s-db"})
    assert plan_text(Plan("s", [change])) == expected('''\
        quayform will perform the following actions:

          # containers.db must be replaced (it uses volumes.data, which must be replaced)
        -/+ container "s-db" {
            }

        Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy.
        ''')


def test_render_delete():
    assert plan_text(Plan("s", [DELETE_OLD])) == expected('''\
        quayform will perform the following actions:

          # containers.old will be destroyed (it is no longer in the spec)
          - container "s-old" {
            }

        Plan: 0 to add, 0 to change, 0 to replace, 1 to destroy.
        ''')


def test_render_held_differences_are_not_called_a_match():
    """Held differences change nothing, but the stack does not match the spec: the plan says so."""
    assert plan_text(Plan("s", [], kept=[KEPT_DATA])) == expected('''\
          # volumes.data is kept: its definition changed, but recreating it would delete the data in it; run with --replace volumes.data to recreate it
              ~ driver = "local" -> "nfs"  # forces replacement

        No changes to apply, but the stack differs from the spec: 1 resource(s) hold differences back (see above).
        ''')


def test_render_kept_orphan_only_is_no_changes():
    orphan = Kept(Address("volumes", "old"), "it is no longer in the spec but may hold data")
    assert plan_text(Plan("s", [], kept=[orphan])).endswith("No changes. Your stack matches the spec.\n")


def test_render_no_changes():
    assert plan_text(Plan("s", [], unchanged=[WEB])) == "No changes. Your stack matches the spec.\n"


def test_render_full_plan():
    create_net = Change(NET, Action.CREATE, after={"name": "s-backend", "driver": "bridge", "internal": False,
                                                   "labels": {}})
    plan = Plan("s", [create_net, UPDATE_DB, REPLACE_CACHE, DELETE_OLD], kept=[KEPT_DATA],
                prerequisites=[Prerequisite("pull", "redis:7", "Image redis:7 is not on the engine; apply will pull it first.")])
    assert plan_text(plan) == expected('''\
        quayform will perform the following actions:

          # networks.backend will be created
          + network "s-backend" {
              + name = "s-backend"
              + driver = "bridge"
            }

          # containers.db will be updated in-place
          ~ container "s-db" {
              ~ restart = "no" -> "always"
              + networks.s-front = ["db"]
              - networks.s-old = ["db"]
            }

          # containers.cache must be replaced
        -/+ container "s-cache" {
              ~ image = "redis:6" -> "redis:7"  # forces replacement
              ~ env.PW = "(sensitive)" -> "(sensitive)"  # forces replacement
            }

          # containers.old will be destroyed (it is no longer in the spec)
          - container "s-old" {
            }

          # volumes.data is kept: its definition changed, but recreating it would delete the data in it; run with --replace volumes.data to recreate it
              ~ driver = "local" -> "nfs"  # forces replacement

        Image redis:7 is not on the engine; apply will pull it first.
        Plan: 1 to add, 1 to change, 1 to replace, 1 to destroy.
        ''')


def test_render_create_shows_a_zero_value():
    change = Change(WEB, Action.CREATE, after={"name": "s-web", "stop_grace_period": 0, "privileged": False})
    assert "      + stop_grace_period = 0\n" in plan_text(Plan("s", [change]))


# --- JSON -----------------------------------------------------------------------------------

def full_plan() -> Plan:
    return Plan("s", [CREATE_WEB, UPDATE_DB, REPLACE_CACHE, DELETE_OLD], kept=[KEPT_DATA], unchanged=[NET],
                prerequisites=[Prerequisite("pull", "redis:7", "pull it")],
                outputs={"url": "http://x", "pw": Sensitive("hunter2")})


def test_plan_json_document():
    document = plan_to_json(full_plan())
    assert document["format_version"] == FORMAT_VERSION == "1.0"
    assert document["stack"] == "s" and document["destroy"] is False
    assert document["summary"] == {"add": 1, "change": 1, "replace": 1, "destroy": 1}
    assert [(c["address"], c["kind"], c["name"], c["action"]) for c in document["changes"]] == [
        ("containers.web", "containers", "s-web", "create"), ("containers.db", "containers", "s-db", "update"),
        ("containers.cache", "containers", "s-cache", "replace"), ("containers.old", "containers", "s-old", "delete")]
    assert document["unchanged"] == ["networks.backend"]
    assert document["images_to_pull"] == ["redis:7"]
    assert document["outputs"] == {"url": "http://x", "pw": MASK}
    assert document["kept"] == [{"address": "volumes.data", "reason": KEPT_DATA.reason, "reason_code": None,
                                 "attributes": [{"path": "driver", "before": "local", "after": "nfs",
                                                 "forces_replacement": True, "sensitive": False, "held": False}]}]


def test_plan_json_change_details():
    create, update, replace, delete = plan_to_json(full_plan())["changes"]
    assert "payload" not in json.dumps(create)
    assert create["after"]["env"] == {"PATH": "/bin", "PW": MASK}
    assert update["after"] is None and delete["after"] is None
    assert update["attributes"][0] == {"path": "restart", "before": "no", "after": "always",
                                       "forces_replacement": False, "sensitive": False, "held": False}
    assert replace["attributes"][1] == {"path": "env.PW", "before": MASK, "after": MASK,
                                        "forces_replacement": True, "sensitive": True, "held": False}
    assert replace["after"]["env"] == {"PW": MASK}
    assert delete["reason"] == "it is no longer in the spec"


def test_no_secret_value_anywhere_in_the_json():
    output = dumps(plan_to_json(full_plan()))
    assert "hunter2" not in output
    assert json.loads(output)["summary"]["add"] == 1


def test_no_secret_value_anywhere_in_the_text():
    plan = full_plan()
    output = plan_text(plan) + text(render_outputs, plan.outputs)
    assert "hunter2" not in output
    assert 'pw = "(sensitive)"' in output


def test_dumps_masks_a_stray_sensitive_value():
    assert json.loads(dumps({"x": Sensitive("hunter2"), "y": [Sensitive("a")]})) == {"x": MASK, "y": [MASK]}


def test_render_destroy_plan_json():
    plan = Plan("s", [DELETE_OLD], destroy=True)
    document = plan_to_json(plan)
    assert document["destroy"] is True
    assert document["summary"] == {"add": 0, "change": 0, "replace": 0, "destroy": 1}


# --- events, results, outputs -----------------------------------------------------------------

EVENTS = {
    "create start": (ApplyEvent(WEB, "start", "create"), "containers.web: Creating...\n"),
    "create done": (ApplyEvent(WEB, "done", "create", 2.4), "containers.web: Creation complete after 2s\n"),
    "update start": (ApplyEvent(WEB, "start", "update"), "containers.web: Modifying...\n"),
    "update done": (ApplyEvent(WEB, "done", "update", 0.1), "containers.web: Modifications complete after 0s\n"),
    "delete start": (ApplyEvent(WEB, "start", "delete"), "containers.web: Destroying...\n"),
    "delete done": (ApplyEvent(WEB, "done", "delete", 11.0), "containers.web: Destruction complete after 11s\n"),
    "pull start": (ApplyEvent(WEB, "start", "pull", message="redis:7"), "containers.web: Pulling image redis:7\n"),
    "failed": (ApplyEvent(WEB, "failed", "create", 1.0, "port in use"), "containers.web: create failed: port in use\n"),
    "skipped": (ApplyEvent(DB, "skipped", "create", message="a change it depends on failed"),
                "containers.db: skipped: a change it depends on failed\n"),
    "info": (ApplyEvent(WEB, "info", "pull", message="abc: Pull complete"), "containers.web: abc: Pull complete\n"),
    "info without message": (ApplyEvent(WEB, "info", "wait"), ""),
}


@pytest.mark.parametrize("event, line", EVENTS.values(), ids=EVENTS.keys())
def test_render_event(event, line):
    assert text(render_event, event) == line


RESULTS = {
    "apply": (ApplyResult(added=2, changed=1, replaced=1, destroyed=3), False,
              "\nApply complete! Resources: 2 added, 1 changed, 1 replaced, 3 destroyed.\n"),
    "destroy": (ApplyResult(destroyed=4), True, "\nDestroy complete! Resources: 4 destroyed.\n"),
    "errors": (ApplyResult(added=1, errors=[(WEB, "boom")], skipped=[DB, CACHE]), False,
               "\nApply failed: 1 error(s), 2 change(s) skipped.\nError: containers.web: boom\n"),
}


@pytest.mark.parametrize("result, destroy, output", RESULTS.values(), ids=RESULTS.keys())
def test_render_apply_result(result, destroy, output):
    assert text(render_apply_result, result, destroy) == output


def test_render_outputs():
    assert text(render_outputs, {"url": "http://x:8080", "n": 3, "pw": Sensitive("hunter2")}) == expected('''\

        Outputs:

        url = "http://x:8080"
        n = 3
        pw = "(sensitive)"
        ''')
    assert text(render_outputs, {}) == ""
