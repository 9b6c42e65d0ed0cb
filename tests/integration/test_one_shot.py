"""One-shot containers (`run: once`) and compose's long `depends_on`, on the real engine.

A job runs to completion before what waits for it is created (it writes a file into a shared volume
that the dependent's command requires), stays behind as an exited container, and plans nothing
afterwards; a changed command runs it again; a failing job fails the apply with its exit code and its
log lines, secrets masked, and its dependents are not created; a kill -9 during the wait leaves a job
that the next apply waits for; `service_healthy` waits for the healthcheck.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from quayform.address import Address
from quayform.pipeline import make_plan, run_apply
from tests.conftest import BUSYBOX, SLEEPER
from tests.integration.helpers import Stack, actions, converged, wait_until

pytestmark = pytest.mark.docker

SECRET = "one-shot-S3cret/value"
LABEL = "io.quayform.stack"

# The dependent refuses to start without the job's file: created too early, it exits 7 and the apply fails.
JOB_AND_APP = f"""\
volumes:
  shared: {{}}
containers:
  migrate:
    image: {BUSYBOX}
    run: once
    command: ["sh", "-c", "sleep {{delay}}; echo {{version}} > /shared/schema"]
    volumes: ["shared:/shared"]
  app:
    image: {BUSYBOX}
    command: ["sh", "-c", "test -f /shared/schema || exit 7; trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: ["shared:/shared"]
    depends_on:
      migrate: {{condition: service_completed_successfully}}
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environ = {**os.environ, "QF_ONE_SHOT_TOKEN": SECRET}
    environ.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "quayform", *args, "--no-color"], cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, env=environ, timeout=300)


def containers_of(engine: docker.APIClient, stack: str) -> dict[str, dict]:
    """The stack's containers (not its lock), inspected, by name."""
    found = {}
    for item in engine.containers(all=True, filters={"label": f"{LABEL}={stack}"}):
        if (item.get("Labels") or {}).get("io.quayform.lock"):
            continue
        try:
            found[item["Names"][0].lstrip("/")] = engine.inspect_container(item["Id"])
        except docker.errors.NotFound:  # removed between the list and the inspect (apply is running)
            continue
    return found


def moment(text: str) -> datetime.datetime:
    """Docker's RFC 3339 time with nanoseconds, to the microsecond."""
    seconds, _, fraction = text.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(f"{seconds}.{(fraction + '000000')[:6]}")


def read(engine: docker.APIClient, container: str, path: str) -> str:
    exec_id = engine.exec_create(container, ["cat", path])
    return engine.exec_start(exec_id).decode()


def test_a_job_runs_to_completion_before_its_dependent_and_then_plans_nothing(tmp_path: Path, stack: str,
                                                                              engine) -> None:
    spec = Stack(tmp_path, stack).write(JOB_AND_APP.replace("{delay}", "1").replace("{version}", "v1"))
    spec.apply()
    phases = [(str(e.address), e.phase) for e in spec.events if e.address is not None]
    assert phases.index(("containers.migrate", "done")) < phases.index(("containers.app", "start")), phases

    found = containers_of(engine, stack)
    job, app = found[f"{stack}-migrate"], found[f"{stack}-app"]
    assert (job["State"]["Status"], job["State"]["ExitCode"]) == ("exited", 0)  # kept, so its logs remain
    assert app["State"]["Running"] and app["RestartCount"] == 0
    assert moment(job["State"]["FinishedAt"]) <= moment(app["State"]["StartedAt"])
    assert read(engine, app["Id"], "/shared/schema") == "v1\n"

    assert converged(spec.plan()), "a job that exited with 0 is done: nothing to change"

    # a changed command is a new job: run again (the dependent, unchanged, is left running)
    spec.write(JOB_AND_APP.replace("{delay}", "1").replace("{version}", "v2"))
    assert actions(spec.plan()) == {"containers.migrate": "-/+"}
    spec.apply()
    again = containers_of(engine, stack)
    assert again[f"{stack}-migrate"]["Id"] != job["Id"]
    assert again[f"{stack}-migrate"]["State"]["ExitCode"] == 0
    assert again[f"{stack}-app"]["Id"] == app["Id"]
    assert read(engine, app["Id"], "/shared/schema") == "v2\n"
    assert converged(spec.plan())


FAILING = f"""\
secrets:
  token: {{env: QF_ONE_SHOT_TOKEN}}
containers:
  migrate:
    image: {BUSYBOX}
    run: once
    env: {{TOKEN: "${{secrets.token}}"}}
    command: ["sh", "-c", "echo connecting with token=$TOKEN; echo relation users does not exist; exit 5"]
  app:
    image: {BUSYBOX}
    command: {SLEEPER}
    depends_on:
      migrate: {{condition: service_completed_successfully}}
  worker:
    image: {BUSYBOX}
    command: {SLEEPER}
    depends_on: [app]
"""


def test_a_failing_job_fails_the_apply_with_its_code_and_masked_log_lines(tmp_path: Path, stack: str,
                                                                          engine) -> None:
    Stack(tmp_path, stack).write(FAILING)
    applied = cli("apply", "--auto-approve", cwd=tmp_path)
    output = applied.stdout + applied.stderr
    assert applied.returncode == 1, output
    assert f"Error: containers.migrate: container {stack}-migrate runs once and exited with code 5; " \
           "last log lines:" in output, output
    assert "connecting with token=(sensitive)" in output and "relation users does not exist" in output, output
    assert SECRET not in output
    assert "containers.app: skipped" in output and "containers.worker: skipped" in output, output
    assert list(containers_of(engine, stack)) == [f"{stack}-migrate"], "no dependent may be created"

    # the failed job is kept for its logs, and the next plan runs it again
    planned = cli("plan", "--detailed-exitcode", cwd=tmp_path)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "containers.migrate must be replaced" in planned.stdout, planned.stdout
    assert "~ exit_code = 5 -> 0  # forces replacement" in planned.stdout, planned.stdout
    assert SECRET not in planned.stdout + planned.stderr


def test_service_healthy_waits_for_the_healthcheck(tmp_path: Path, stack: str, engine) -> None:
    spec = Stack(tmp_path, stack).write(f"""\
containers:
  db:
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3; touch /tmp/ready; sleep 3600 & wait"]
    healthcheck: {{test: "test -f /tmp/ready", interval: 500ms, retries: 30}}
  app:
    image: {BUSYBOX}
    command: {SLEEPER}
    depends_on:
      db: {{condition: service_healthy}}
""")
    spec.apply()
    found = containers_of(engine, stack)
    db, app = found[f"{stack}-db"], found[f"{stack}-app"]
    healthy = [moment(probe["End"]) for probe in db["State"]["Health"]["Log"] if probe["ExitCode"] == 0]
    assert db["State"]["Health"]["Status"] == "healthy"
    assert healthy and min(healthy) <= moment(app["State"]["StartedAt"]), "app started before db was healthy"
    assert converged(spec.plan())


def test_a_kill_9_during_the_wait_leaves_a_job_the_next_apply_waits_for(tmp_path: Path, stack: str,
                                                                        engine) -> None:
    spec = Stack(tmp_path, stack).write(JOB_AND_APP.replace("{delay}", "8").replace("{version}", "v1"))
    environ = {**os.environ}
    environ.pop("NO_COLOR", None)
    apply = subprocess.Popen([sys.executable, "-m", "quayform", "apply", "--auto-approve", "--no-color"],
                             cwd=tmp_path, env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        def started() -> bool:  # it has its real name once started
            assert apply.poll() is None, "apply ended before the job was started"
            return f"{stack}-migrate" in containers_of(engine, stack)

        wait_until(started, "the job to be started", tries=300, pause=0.2)
    finally:
        apply.send_signal(signal.SIGKILL)
        apply.wait(timeout=30)
    job = containers_of(engine, stack)[f"{stack}-migrate"]
    assert job["State"]["Running"], "the job finished before the kill: the test proves nothing"

    plan = spec.plan()
    assert actions(plan) == {"containers.migrate": "~", "containers.app": "+"}
    change = next(c for c in plan.changes if c.address == Address("containers", "migrate"))
    assert [(a.path, a.before, a.after) for a in change.attributes] == [("finished", False, True)]

    options = spec.options()
    result = run_apply(make_plan(options), options, spec.events.append)
    assert not result.errors, result.errors
    found = containers_of(engine, stack)
    assert found[f"{stack}-migrate"]["Id"] == job["Id"], "the same job was waited for, not run again"
    assert found[f"{stack}-migrate"]["State"]["ExitCode"] == 0
    assert found[f"{stack}-app"]["State"]["Running"]
    assert converged(spec.plan())
