"""One-shot containers (`run: once`) and compose's long `depends_on`, from data: specs in, graph edges,
compared forms and plan actions out; recorded `docker inspect` in, the state a job is judged by out; the
wait and the update they make, against a scripted engine. No engine here (the real one is in
tests/integration/test_one_shot.py); the bad specs and their `file:line: key: message` lines are
fixtures in tests/fixtures/specs/bad/ (one_shot_*, depends_on_*).
"""

from __future__ import annotations

import contextlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from quayform.address import Address
from quayform.changes import UNKNOWN, Action, AttributeChange, LiveObject
from quayform.diff import diff_resource
from quayform.errors import ReadinessError
from quayform.graph import build_graph
from quayform.kinds.container import KIND as CONTAINERS
from quayform.kinds.container import checks, engine, updates
from quayform.kinds.container.form import RUN_LABEL, ImageInfo, LiveContainer, live_form
from quayform.pipeline import context
from quayform.spec import load_spec

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
IMAGE = ImageInfo(id="sha256:1", env={"PATH": "/bin"}, cmd=["sh"])
HEALTHY_IMAGE = ImageInfo(id="sha256:2", env={"PATH": "/bin"}, cmd=["sh"], healthcheck={"test": ["CMD", "true"]})
JOB = "containers:\n  job:\n    image: x\n    run: once\n    command: [sh, -c, 'echo migrated']\n"
SERVICE = "containers:\n  job:\n    image: x\n    command: [sh, -c, 'echo migrated']\n"


def load(tmp_path: Path, body: str):
    path = tmp_path / "quayform.yaml"
    path.write_text("version: 1\nstack: s\n" + textwrap.dedent(body))
    return load_spec(str(path), environ={})


def desired(spec, key: str = "job", images: dict[str, ImageInfo | None] | None = None):
    ctx = context(spec)
    images = images if images is not None else {c.image: IMAGE for c in spec.containers.values()}
    ctx.facts = {"containers": {(c.engine, c.image): images.get(c.image) for c in spec.containers.values()
                                if c.image in images}}  # the facts are per engine and image
    return CONTAINERS.desired(spec, key, ctx)


# --- the spec: both forms of depends_on, and the edges they make --------------------------------

def test_the_list_and_the_long_form_name_the_same_dependencies() -> None:
    spec = load_spec(str(FIXTURES / "specs" / "good" / "one_shot.yaml"), environ={})
    app, worker = spec.containers["app"], spec.containers["worker"]
    assert [(dep, at, d.condition, d.required) for dep, at, d in app.dependencies] == [
        ("migrate", "migrate", "service_completed_successfully", True),
        ("db", "db", "service_started", True),  # `db:` with nothing after it
        ("metrics", "metrics", "service_started", False)]
    assert [(dep, at, d.condition) for dep, at, d in worker.dependencies] == [
        ("migrate", 0, "service_started"), ("app", 1, "service_started")]
    assert spec.containers["migrate"].run == "once" and app.run == "always"
    graph = build_graph(spec)
    containers = {a for a in graph.dependencies_of(Address("containers", "app")) if a.kind == "containers"}
    assert containers == {Address("containers", "migrate"), Address("containers", "db")}  # not the absent metrics
    assert Address("containers", "migrate") in graph.dependencies_of(Address("containers", "worker"))
    order = graph.order()
    assert order.index(Address("containers", "migrate")) < order.index(Address("containers", "app"))


def test_an_optional_dependency_in_the_spec_is_waited_for(tmp_path: Path) -> None:
    spec = load(tmp_path, """\
        containers:
          db: {image: x}
          app: {image: x, depends_on: {db: {required: false}}}
        """)
    assert Address("containers", "db") in build_graph(spec).dependencies_of(Address("containers", "app"))


# --- the compared forms ---------------------------------------------------------------------------

def test_a_job_is_compared_by_how_it_ended_not_by_whether_it_runs(tmp_path: Path) -> None:
    job = desired(load(tmp_path, JOB))
    assert (job.form["run"], job.form["finished"], job.form["exit_code"]) == ("once", True, 0)
    assert "running" not in job.form
    assert job.payload.run == "once" and job.payload.labels[RUN_LABEL] == "once"
    assert job.payload.restart == ("no", 0)


def test_a_service_is_unchanged_by_the_new_attributes(tmp_path: Path) -> None:
    service = desired(load(tmp_path, SERVICE))
    assert service.form["run"] is None and service.form["running"] is True
    assert "finished" not in service.form and "exit_code" not in service.form
    assert RUN_LABEL not in service.payload.labels and service.payload.run == "always"


def recorded(state: dict[str, Any], run: str | None) -> dict[str, Any]:
    """A container quayform made (tests/fixtures/inspect), as it would be in another state, labelled a job or not."""
    raw = json.loads((FIXTURES / "inspect" / "quayform-web.json").read_text())
    raw["State"] = {**raw["State"], **state}
    labels = raw["Config"]["Labels"]
    labels.pop(RUN_LABEL, None)
    if run:
        labels[RUN_LABEL] = run
    return raw


@pytest.mark.parametrize("state, run, status, exit_code", [
    ({"Status": "exited", "Running": False, "ExitCode": 0}, "once", "exited", 0),
    ({"Status": "exited", "Running": False, "ExitCode": 3}, "once", "exited", 3),
    ({"Status": "running", "Running": True, "ExitCode": 0}, "once", "running", 0),
    ({"Status": "running", "Running": True, "ExitCode": 0}, None, "running", 0),
])
def test_inspect_says_how_a_job_ended(state, run, status, exit_code) -> None:
    form, payload = live_form(recorded(state, run))
    assert form["run"] == run
    assert (payload.status, payload.exit_code) == (status, exit_code)
    assert form["running"] is (status == "running")


def live(form: dict[str, Any], status: str, exit_code: int | None = 0, paused: bool = False) -> LiveObject:
    return LiveObject("containers", Address("containers", "job"), form["name"], "id", form,
                      payload=LiveContainer(status=status, exit_code=exit_code, paused=paused))


def as_found(desired_form: dict[str, Any], run: str | None, status: str) -> dict[str, Any]:
    """What normalise reads back for the container the desired form describes, in `status`, labelled `run`."""
    form = {k: v for k, v in desired_form.items() if k not in ("finished", "exit_code")}
    return {**form, "run": run, "running": status == "running"}


# (spec, the container's label, its state, its exit code) -> the plan's action and attributes
PLANS = [
    (JOB, "once", "exited", 0, Action.NOOP, ()),  # a finished job never makes a plan dirty
    (JOB, "once", "exited", 3, Action.REPLACE, (AttributeChange("exit_code", 3, 0, True),)),  # failed: run again
    (JOB, "once", "exited", 137, Action.REPLACE, (AttributeChange("exit_code", 137, 0, True),)),  # killed
    (JOB, "once", "dead", 1, Action.REPLACE, (AttributeChange("exit_code", 1, 0, True),)),
    # an apply was interrupted while it waited: the job goes on, the next apply waits for it
    (JOB, "once", "running", 0, Action.UPDATE, (AttributeChange("finished", False, True),)),
    (JOB, "once", "created", 0, Action.UPDATE, (AttributeChange("finished", False, True),)),  # never started
    (JOB, "once", "paused", 0, Action.UPDATE, (AttributeChange("finished", False, True),)),
    # a service that is now a job, and a job that is now a service: each is a new container
    (JOB, None, "running", 0, Action.REPLACE, (AttributeChange("finished", False, True),
                                               AttributeChange("run", None, "once", True))),
    (SERVICE, "once", "exited", 0, Action.REPLACE, (AttributeChange("run", "once", None, True),
                                                    AttributeChange("running", False, True))),
    (SERVICE, None, "running", 0, Action.NOOP, ()),
]


@pytest.mark.parametrize("body, run, status, exit_code, action, attributes", PLANS)
def test_what_a_plan_does_with_a_job(tmp_path: Path, body, run, status, exit_code, action, attributes) -> None:
    want = desired(load(tmp_path, body))
    found = live(as_found(want.form, run, status), status, exit_code, paused=status == "paused")
    change = diff_resource(Address("containers", "job"), want, found, CONTAINERS.policy)
    assert change.action is action
    assert change.attributes == attributes


# --- apply: the wait and the update ---------------------------------------------------------------

class ScriptedEngine:
    """The calls a job's wait and update make; inspect answers the scripted states in turn (the last one stays)."""

    Failure = RuntimeError
    NotFound = LookupError

    def __init__(self, *states: dict[str, Any], logs: bytes = b"migrating\nno such table: users\n"):
        self.states, self.calls, self.output = list(states), [], logs
        outer = self

        class Api:
            def inspect_container(self, name: str) -> dict[str, Any]:
                outer.calls.append(("inspect", name))
                return {"State": outer.states.pop(0) if len(outer.states) > 1 else outer.states[0]}

            def logs(self, name: str, tail: int) -> bytes:
                outer.calls.append(("logs", name, tail))
                return outer.output

            def start(self, cid: str) -> None:
                outer.calls.append(("start", cid))

            def unpause(self, cid: str) -> None:
                outer.calls.append(("unpause", cid))

        self.api = Api()

    def errors(self, action: str) -> Any:
        return contextlib.nullcontext()

    def pause(self, seconds: float, what: str) -> None:
        self.calls.append(("pause", what))

    def describe(self, exc: BaseException) -> str:
        return str(exc)


RUNNING = {"Status": "running", "Running": True, "ExitCode": 0}


def created(tmp_path: Path, body: str = JOB):
    want = desired(load(tmp_path, body))
    return diff_resource(Address("containers", "job"), want, None, CONTAINERS.policy)


def test_apply_waits_for_a_job_until_it_exits_with_0(tmp_path: Path) -> None:
    api = ScriptedEngine(RUNNING, RUNNING, {"Status": "exited", "Running": False, "ExitCode": 0})
    engine.wait_ready(created(tmp_path), api)
    assert [c[0] for c in api.calls] == ["inspect", "pause", "inspect", "pause", "inspect"]
    assert api.calls[1] == ("pause", "container s-job to finish")


def test_a_job_that_fails_fails_the_apply_with_its_code_and_last_log_lines(tmp_path: Path) -> None:
    api = ScriptedEngine(RUNNING, {"Status": "exited", "Running": False, "ExitCode": 2})
    with pytest.raises(ReadinessError) as info:
        engine.wait_ready(created(tmp_path), api)
    assert str(info.value) == ("container s-job runs once and exited with code 2; last log lines:\n"
                               "  migrating\n  no such table: users")
    assert ("logs", "s-job", engine.LOG_TAIL) in api.calls


def test_a_replacement_job_is_waited_for_under_its_staging_name(tmp_path: Path) -> None:
    api = ScriptedEngine({"Status": "exited", "Running": False, "ExitCode": 0})
    engine.wait_ready(created(tmp_path), api, name="c0ffee")
    assert api.calls == [("inspect", "c0ffee")]


@pytest.mark.parametrize("status, paused, calls", [
    ("created", False, [("start", "id")]),
    ("paused", True, [("unpause", "id")]),
    ("running", False, []),  # left to run: the wait follows
])
def test_a_job_that_has_not_finished_is_started_or_unpaused(tmp_path: Path, status, paused, calls) -> None:
    want = desired(load(tmp_path, JOB))
    found = live(as_found(want.form, "once", status), status, 0, paused)
    change = diff_resource(Address("containers", "job"), want, found, CONTAINERS.policy)
    api = ScriptedEngine(RUNNING)
    updates.update_finished(CONTAINERS, change, api)
    assert api.calls == calls


# --- service_healthy, once the image is known -----------------------------------------------------

HEALTHY = """\
    containers:
      db: {image: busybox}
      app:
        image: busybox
        depends_on:
          db: {condition: service_healthy}
    """


@pytest.mark.parametrize("image, problem", [
    (IMAGE, "quayform.yaml:8: containers.app.depends_on.db.condition: service_healthy needs a healthcheck, and "
            "neither containers.db nor its image busybox declares one (add healthcheck: to containers.db, or wait "
            "with condition: service_started)"),
    (HEALTHY_IMAGE, None),  # the image's HEALTHCHECK is the dependency's
    (None, None),  # not on the engine yet: apply pulls it, and waits for health if it has one
])
def test_service_healthy_needs_a_healthcheck_from_the_spec_or_the_image(tmp_path: Path, image, problem) -> None:
    spec = load(tmp_path, HEALTHY)
    wanted = {Address("containers", key): desired(spec, key, {"busybox": image}) for key in spec.containers}
    if image is None:
        assert wanted[Address("containers", "db")].form["healthcheck"] == UNKNOWN
    found = checks.healthchecks_missing(spec, wanted)
    assert found == ([f"{tmp_path}/{problem}"] if problem else [])


def test_service_healthy_with_the_specs_own_healthcheck_needs_no_image(tmp_path: Path) -> None:
    body = HEALTHY.replace("db: {image: busybox}", "db: {image: busybox, healthcheck: {test: \"true\"}}")
    spec = load(tmp_path, body)
    wanted = {Address("containers", key): desired(spec, key, {"busybox": IMAGE}) for key in spec.containers}
    assert checks.healthchecks_missing(spec, wanted) == []

