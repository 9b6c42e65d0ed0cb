"""Pure logic of issue 12's commands: the refresh-only drift document and text, the `ps` table, Terraform's
one-dash spellings, and the container kind's line splitting and port column."""

from __future__ import annotations

import io

from quayform.address import Address
from quayform.changes import Action, AttributeChange, Change, Kept, LiveObject, Reason
from quayform.cli import terraform_spellings
from quayform.kinds.container import day2
from quayform.plan import Plan
from quayform.plan_document import drift_json, plan_to_json
from quayform.render import Printer, render_drift, render_status
from quayform.sensitive import MASK

WEB, DB, OLD, DATA = (Address("containers", "web"), Address("containers", "db"), Address("containers", "old"),
                      Address("volumes", "data"))


def drift_of(plan: Plan) -> dict:
    return drift_json(plan_to_json(plan))


def text(render, document) -> str:
    stream = io.StringIO()
    render(document, Printer(stream, color=False))
    return stream.getvalue()


PLAN = Plan(stack="s", changes=[
    Change(WEB, Action.CREATE, after={"name": "s-web"}),
    Change(DB, Action.REPLACE, (AttributeChange("image", "redis:6", "redis:7", forces_replace=True),
                                AttributeChange("env.PW", MASK, MASK, True, True)), before={"name": "s-db"},
           after={"name": "s-db"}),
    Change(OLD, Action.DELETE, reason="it is no longer in the spec", before={"name": "s-old"}),
], kept=[Kept(DATA, "its definition changed; run with --replace volumes.data to recreate it",
              (AttributeChange("driver", "local", "nfs", True),))])


def test_drift_names_each_difference_live_then_spec() -> None:
    drift = drift_of(PLAN)
    assert drift["mode"] == "refresh-only" and drift["differs"] is True
    assert [(d["address"], d["state"]) for d in drift["drift"]] == [
        ("containers.web", "missing"), ("containers.db", "changed"), ("containers.old", "not_in_spec"),
        ("volumes.data", "held")]
    assert drift["drift"][1]["attributes"] == [
        {"path": "image", "live": "redis:6", "spec": "redis:7", "sensitive": False},
        {"path": "env.PW", "live": MASK, "spec": MASK, "sensitive": True}]


def test_a_requested_replacement_is_no_drift() -> None:
    requested = Reason("replace_requested", "replacement requested with --replace")
    plan = Plan(stack="s", changes=[Change(WEB, Action.REPLACE, reason=requested, before={"name": "s-web"},
                                           after={"name": "s-web"})])
    assert drift_of(plan)["drift"] == [] and drift_of(plan)["differs"] is False


def test_drift_text() -> None:
    shown = text(render_drift, drift_of(PLAN))
    assert "  # containers.db has changed\n      ~ image = \"redis:6\" -> \"redis:7\"\n" in shown
    assert "  # containers.web is missing\n" in shown
    assert "  # containers.old is not in the spec (it is no longer in the spec)\n" in shown
    assert "  # volumes.data differs, held back (its definition changed" in shown
    assert "forces replacement" not in shown  # nothing is planned, so nothing is forced
    assert shown.rstrip().endswith("Drift: 4 resource(s) differ. Run `quayform plan` to see how apply would make "
                                   "them match.")
    assert text(render_drift, drift_of(Plan(stack="s", changes=[]))) == "No drift. Your stack matches the spec.\n"


def test_ps_table_aligns_columns_drops_empty_ones_and_marks_what_is_not_in_the_spec() -> None:
    document = {"stack": "s", "notes": [], "resources": [
        {"address": "volumes.data", "name": "s-data", "in_spec": True, "state": "exists", "health": "", "ports": "",
         "image": ""},
        {"address": "containers.web", "name": "s-web", "in_spec": True, "state": "running", "health": "healthy",
         "ports": "", "image": "busybox:1"},
        {"address": "containers.old", "name": "s-old", "in_spec": False, "state": "exited", "health": "",
         "ports": "", "image": "busybox:1"}]}
    assert text(render_status, document) == (
        "ADDRESS           NAME    STATE    HEALTH   IMAGE\n"
        "volumes.data      s-data  exists            \n"
        "containers.web    s-web   running  healthy  busybox:1\n"
        "containers.old *  s-old   exited            busybox:1\n"
        "* not in the spec: the next apply removes it, or keeps it as the plan says.\n")


def test_terraform_one_dash_spellings_become_the_two_dash_options() -> None:
    assert terraform_spellings(["apply", "-auto-approve", "-target=containers.web", "-var", "a=b",
                                "-lock-timeout=30s", "-no-color"]) == [
        "apply", "--auto-approve", "--target=containers.web", "--var", "a=b", "--lock-timeout=30s", "--no-color"]
    # short options, unknown words and everything after `--` stay as they are
    assert terraform_spellings(["exec", "-i", "web", "--", "ls", "-auto-approve"]) == [
        "exec", "-i", "web", "--", "ls", "-auto-approve"]
    assert terraform_spellings(["plan", "-bogus"]) == ["plan", "-bogus"]


def test_lines_are_whole_even_when_a_chunk_splits_one() -> None:
    assert list(day2.lines_of([b"one\ntw", b"o\nthr", b"ee"])) == ["one", "two", "three"]
    assert list(day2.lines_of([b"caf\xc3", b"\xa9\n"])) == ["caf\u00e9"]  # a character split in two
    assert list(day2.lines_of([b"a\xff\nb"])) == ["a\ufffd", "b"]  # bytes that are not UTF-8 do not stop the relay


def test_ps_ports_read_as_docker_prints_them() -> None:
    raw = [{"PrivatePort": 80, "Type": "tcp", "PublicPort": 8080, "IP": "127.0.0.1"},
           {"PrivatePort": 53, "Type": "udp"}, {"PrivatePort": 80, "Type": "tcp", "PublicPort": 8080, "IP": "::1"}]
    assert [day2._port(p) for p in day2._sorted_ports(raw)] == [
        "53/udp", "127.0.0.1:8080->80/tcp", "[::1]:8080->80/tcp"]


class FakeEngine:
    """Just the two calls `status` makes."""

    def __init__(self, listed):
        self.api = type("Api", (), {"containers": lambda _self, all: listed})()

    def errors(self, _action):
        import contextlib

        return contextlib.nullcontext()


def test_status_reads_state_health_ports_and_image_from_one_list_call() -> None:
    live = LiveObject("containers", WEB, "s-web", "id1", {})
    engine = FakeEngine([{"Id": "id1", "State": "running", "Status": "Up 3 minutes (health: starting)",
                          "Ports": [], "Image": "busybox:1"}, {"Id": "other", "State": "running"}])
    assert day2.status(engine, [live]) == {"id1": {"state": "running", "status": "Up 3 minutes (health: starting)",
                                                   "health": "starting", "ports": "", "image": "busybox:1"}}
