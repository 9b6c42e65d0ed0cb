"""The hardening issue on the real engine: secret files read back instead of digested, host ports
held outside the stack, readiness that sees crashes, anonymous volumes, leftover import markers,
and a kill -9 while a container is being stopped."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import docker
import pytest

from quayform.address import Address
from quayform.pipeline import make_plan, run_apply
from tests.integration import helpers
from tests.conftest import BUSYBOX, DEFAULTS, SLEEPER
from tests.integration.helpers import Stack, actions, changed_paths
from tests.ports import free_port

pytestmark = pytest.mark.docker

SECRET = "S3cr3t/+Value=9"
LABEL = "io.quayform.stack"


# -- helpers --------------------------------------------------------------------------------------

def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "QF_TOK": SECRET, **(env or {})}
    environ.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "quayform", *args, "--no-color"], cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, env=environ, timeout=300)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def no_changes(folder: Path) -> None:
    final = cli("plan", "--detailed-exitcode", cwd=folder)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "No changes. Your stack matches the spec." in final.stdout, final.stdout


def write_spec(folder: Path, stack: str, body: str) -> None:
    (folder / "quayform.yaml").write_text(f"version: 1\nstack: {stack}\n" + textwrap.dedent(body))


def docker_cli(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, timeout=120).stdout.strip()


def exists(engine: docker.APIClient, kind: str, name: str) -> bool:
    try:
        (engine.inspect_container if kind == "container" else engine.inspect_volume)(name)
        return True
    except docker.errors.NotFound:
        return False


def stack_containers(engine: docker.APIClient, stack: str) -> dict[str, dict]:
    """The stack's containers (not its lock) by name."""
    found = {}
    for item in engine.containers(all=True, filters={"label": f"{LABEL}={stack}"}):
        if not (item.get("Labels") or {}).get("io.quayform.lock"):
            found[item["Names"][0].lstrip("/")] = item
    return found


def stack_objects(engine: docker.APIClient, stack: str) -> list[str]:
    """Every container (lock included), network and volume labelled with the stack."""
    label = {"label": f"{LABEL}={stack}"}
    found = [c["Names"][0] for c in engine.containers(all=True, filters=label)]
    found += [n["Name"] for n in engine.networks(filters=label)]
    found += [v["Name"] for v in (engine.volumes(filters=label) or {}).get("Volumes") or []]
    return found


def exec_out(engine: docker.APIClient, container: str, *cmd: str, user: str = "") -> str:
    exec_id = engine.exec_create(container, list(cmd), user=user)
    return engine.exec_start(exec_id).decode()


def volumes_by_target(engine: docker.APIClient, container: str) -> dict[str, str]:
    return {m["Destination"]: m["Name"] for m in engine.inspect_container(container)["Mounts"]
            if m["Type"] == "volume"}


def apply_result(spec: Stack):
    """Plan and apply in-process, returning the result (errors included) instead of asserting none."""
    options = spec.options()
    plan = make_plan(options)
    events: list = []
    result = run_apply(plan, options, events.append)
    return plan, result, events


def wait_until(condition, what: str, seconds: float):
    return helpers.wait_until(condition, what, tries=int(seconds * 10), pause=0.1)


# -- 2. no digest of a secret-bearing file in labels ------------------------------------------------

SECRET_FILE = f"""\
secrets:
  tok: {{env: QF_TOK}}
networks:
  net: {{}}
volumes:
  data: {{}}
containers:
  x:
    image: {BUSYBOX}
    command: {SLEEPER}
    networks: [net]
    volumes: ["data:/data"]
    files:
      /etc/app/token: {{content: "${{secrets.tok}}\\n"}}
      /etc/app/public.conf: {{content: "public=1\\n"}}
"""


def _digests(stack: str, name: str) -> set[str]:
    """sha256 (and its usual truncations) of the secret file's content under salts a label could use."""
    found = set()
    path, address = "/etc/app/token", "containers.x"
    for content in (SECRET, SECRET + "\n"):
        for text in (content, f"{address}\0{path}\0{content}", f"{path}\0{content}", f"{address}\0{content}",
                     f"{stack}\0{address}\0{path}\0{content}", f"{name}\0{path}\0{content}",
                     f"{address}{path}{content}", f"{path}{content}", f"{address}:{path}:{content}"):
            digest = hashlib.sha256(text.encode()).hexdigest()
            found |= {digest, digest[:32], digest[:16]}
    return found


def _all_labels(engine: docker.APIClient, stack: str) -> str:
    """Every label of every object of the stack, as one text."""
    label = {"label": f"{LABEL}={stack}"}
    labels = [engine.inspect_container(c["Id"])["Config"]["Labels"] for c in engine.containers(all=True, filters=label)]
    labels += [engine.inspect_network(n["Id"])["Labels"] for n in engine.networks(filters=label)]
    labels += [v.get("Labels") for v in (engine.volumes(filters=label) or {}).get("Volumes") or []]
    return json.dumps(labels)


def test_secret_file_is_read_back_not_digested_and_hand_edits_are_repaired(tmp_path: Path, stack: str,
                                                                           engine) -> None:
    spec = Stack(tmp_path, stack, {"QF_TOK": SECRET}).write(SECRET_FILE)
    spec.apply()
    name = f"{stack}-x"
    assert exec_out(engine, name, "cat", "/etc/app/token") == SECRET + "\n"
    files = json.loads(engine.inspect_container(name)["Config"]["Labels"]["io.quayform.files"])
    assert files["/etc/app/token"].endswith("read back"), files
    assert files["/etc/app/token"] == "0644 0:0 read back", files
    assert not files["/etc/app/public.conf"].endswith("read back"), files  # a public file keeps its digest
    text = _all_labels(engine, stack)
    assert SECRET not in text
    leaked = [d for d in _digests(stack, name) if d in text]
    assert leaked == [], f"a digest of the secret file is in a label: {leaked}"
    assert spec.plan().changes == []

    # A hand edit inside the container is found by reading the file back, and repaired.
    docker_cli("exec", name, "sh", "-c", "echo other > /etc/app/token")
    plan = spec.plan()
    assert actions(plan) == {"containers.x": "-/+"}
    assert changed_paths(plan, "containers.x") == ["files./etc/app/token"]
    change = plan.changes[0]
    assert [(a.before, a.after, a.sensitive) for a in change.attributes] == [("(sensitive)", "(sensitive)", True)]
    spec.apply()
    assert exec_out(engine, name, "cat", "/etc/app/token") == SECRET + "\n"
    assert spec.plan().changes == []

    # So is a changed mode (the file is compared by mode, owner and content).
    docker_cli("exec", name, "chmod", "0600", "/etc/app/token")
    assert actions(spec.plan()) == {"containers.x": "-/+"}
    spec.apply()
    assert spec.plan().changes == []


# -- 8. a host port held by a container outside the stack -------------------------------------------

@pytest.mark.parametrize("published", ["127.0.0.1:{port}:8080", "{port}:8080"])
def test_host_port_held_outside_the_stack_stops_plan_and_apply(tmp_path: Path, stack: str, engine,
                                                               published: str) -> None:
    port = free_port()
    foreign = f"{stack}-foreign"
    docker_cli("run", "-d", "--name", foreign, "-p", f"127.0.0.1:{port}:80", BUSYBOX, "sh", "-c",
               "trap 'exit 0' TERM; sleep 3600 & wait")
    try:
        write_spec(tmp_path, stack, f"""\
networks:
  net: {{}}
volumes:
  data: {{}}
containers:
  db:
    image: {BUSYBOX}
    command: {SLEEPER}
    networks: [net]
    volumes: ["data:/data"]
  web:
    image: {BUSYBOX}
    command: {SLEEPER}
    networks: [net]
    depends_on: [db]
    ports: ["{published.format(port=port)}"]
""")
        for command in (["plan"], ["apply", "--auto-approve"]):
            result = cli(*command, cwd=tmp_path)
            assert result.returncode == 1, result.stdout + result.stderr
            assert f"Error: containers.web: host port {port}/tcp is already published by container {foreign}" \
                in result.stderr, result.stderr
            assert "Creating..." not in result.stdout and "Traceback" not in result.stderr
            assert stack_objects(engine, stack) == [], "nothing of the stack is created (not even its lock)"
        assert engine.inspect_container(foreign)["State"]["Running"], "the foreign container is left alone"
    finally:
        engine.remove_container(foreign, force=True, v=True)


# -- 9. readiness sees crashes ------------------------------------------------------------------------

def test_a_container_that_dies_just_after_starting_fails_and_its_dependent_is_not_created(
        tmp_path: Path, stack: str, engine) -> None:
    spec = Stack(tmp_path, stack).write(f"""\
containers:
  dying:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo starting up; sleep 1.5; echo giving up; exit 3"]
  after:
    image: {BUSYBOX}
    command: {SLEEPER}
    depends_on: [dying]
""")
    _, result, _ = apply_result(spec)
    assert [str(a) for a, _ in result.errors] == ["containers.dying"], result.errors
    message = result.errors[0][1]
    assert f"container {stack}-dying exited with code 3; last log lines:" in message, message
    assert "starting up" in message and "giving up" in message, message
    assert Address("containers", "after") in result.skipped
    assert list(stack_containers(engine, stack)) == [f"{stack}-dying"], "the dependent must not be created"


def test_a_restart_always_crash_loop_fails_the_apply(tmp_path: Path, stack: str, engine) -> None:
    spec = Stack(tmp_path, stack).write(f"""\
containers:
  looping:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo boom; exit 1"]
    restart: always
  after:
    image: {BUSYBOX}
    command: {SLEEPER}
    depends_on: [looping]
""")
    _, result, _ = apply_result(spec)
    assert [str(a) for a, _ in result.errors] == ["containers.looping"], result.errors
    message = result.errors[0][1]
    assert f"container {stack}-looping keeps restarting" in message, message
    assert "boom" in message, message
    assert Address("containers", "after") in result.skipped
    assert f"{stack}-after" not in stack_containers(engine, stack)


# -- 16. anonymous volumes -------------------------------------------------------------------------------

ANONYMOUS = f"""\
containers:
  x:
    image: {DEFAULTS}
    volumes: ["/cache"]
    files:
      /cache/seed.txt: {{content: "seed\\n"}}
"""


def _write_markers(engine: docker.APIClient, name: str) -> None:
    exec_out(engine, name, "sh", "-c", "echo image-volume > /srv/data/marker; echo spec-volume > /cache/marker",
             user="0")


def _markers(engine: docker.APIClient, name: str) -> tuple[str, str]:
    return (exec_out(engine, name, "cat", "/srv/data/marker").strip(),
            exec_out(engine, name, "cat", "/cache/marker").strip())


def _volume_names() -> set[str]:
    return set(docker_cli("volume", "ls", "-q").split())


def test_anonymous_volumes_survive_replace_and_destroy_and_go_with_destroy_volumes(tmp_path: Path, stack: str,
                                                                                     engine) -> None:
    spec = Stack(tmp_path, stack).write(ANONYMOUS)
    spec.apply()
    name = f"{stack}-x"
    first = volumes_by_target(engine, name)
    assert set(first) == {"/srv/data", "/cache"}, first  # the image's VOLUME and the spec's anonymous mount
    for volume in first.values():
        assert engine.inspect_volume(volume)["Labels"].get(LABEL) == stack, "made by quayform, with the stack's label"
    assert spec.plan().changes == []
    _write_markers(engine, name)
    old_id = engine.inspect_container(name)["Id"]

    spec.apply(replace=("containers.x",))
    assert engine.inspect_container(name)["Id"] != old_id
    assert volumes_by_target(engine, name) == first
    assert _markers(engine, name) == ("image-volume", "spec-volume")
    assert exec_out(engine, name, "cat", "/cache/seed.txt") == "seed\n"
    assert spec.plan().changes == []

    destroyed = cli("destroy", "--auto-approve", cwd=tmp_path)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "# containers.x will be destroyed" in destroyed.stdout, destroyed.stdout
    line = next(line for line in destroyed.stdout.splitlines() if "# containers.x will be destroyed" in line)
    assert "anonymous volumes are kept" in line, line
    assert f"{first['/srv/data'][:12]} at /srv/data" in line, line
    assert f"{first['/cache'][:12]} at /cache" in line, line
    assert "/cache/seed.txt" in line, line  # what quayform wrote into it
    assert "--volumes" in line, line
    assert not exists(engine, "container", name)
    assert set(first.values()) <= _volume_names(), "destroy without --volumes keeps them"

    # The stack again (new container), then destroy --volumes: every volume that carried the
    # stack's label or was mounted by its containers is gone, the kept ones from before included.
    spec.apply()
    second = volumes_by_target(engine, name)
    labelled = {v["Name"] for v in (engine.volumes(filters={"label": f"{LABEL}={stack}"}) or {}).get("Volumes") or []}
    destroyed = cli("destroy", "--volumes", "--auto-approve", cwd=tmp_path)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    left = (set(first.values()) | set(second.values()) | labelled) & _volume_names()
    assert left == set(), f"destroy --volumes left volumes behind: {sorted(left)}"


def test_destroy_volumes_after_a_replace_removes_the_anonymous_volumes(tmp_path: Path, stack: str, engine) -> None:
    spec = Stack(tmp_path, stack).write(ANONYMOUS)
    spec.apply()
    name = f"{stack}-x"
    before = volumes_by_target(engine, name)
    spec.apply(replace=("containers.x",))
    after = volumes_by_target(engine, name)
    assert after == before
    destroyed = cli("destroy", "--volumes", "--auto-approve", cwd=tmp_path)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "anonymous volumes are kept" not in destroyed.stdout
    left = (set(before.values()) | set(after.values())) & _volume_names()
    assert left == set(), f"destroy --volumes left volumes behind: {sorted(left)}"
    assert docker_cli("volume", "ls", "-q", "--filter", f"label={LABEL}={stack}") == ""


# -- 17. a leftover import marker ---------------------------------------------------------------------

def test_a_leftover_import_marker_does_not_block_an_import(tmp_path: Path, stack: str, engine) -> None:
    marker = f"quayform-import-{stack}-web"
    name = f"{stack}-web"
    gone = engine.create_container(BUSYBOX, command=["true"], name=f"{stack}-gone")["Id"]
    engine.remove_container(gone, force=True)
    try:
        engine.create_volume(name=marker, labels={LABEL: stack, "io.quayform.marker": "import",
                                                  "io.quayform.address": "containers.web",
                                                  "io.quayform.import-id": gone})
        docker_cli("run", "-d", "--name", name, BUSYBOX, "sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait")
        hand_made = engine.inspect_container(name)["Id"]
        write_spec(tmp_path, stack, f"containers:\n  web:\n    image: {BUSYBOX}\n    command: {SLEEPER}\n")

        imported = cli("import", "containers.web", name, cwd=tmp_path)
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert f"Imported container {name} ({hand_made[:12]}) as containers.web." in imported.stdout
        assert engine.inspect_volume(marker)["Labels"]["io.quayform.import-id"] == hand_made

        planned = ok(cli("plan", cwd=tmp_path))
        assert "# containers.web must be replaced (imported: " in planned.stdout, planned.stdout
        ok(cli("apply", "--auto-approve", cwd=tmp_path))
        assert engine.inspect_container(name)["Config"]["Labels"].get("io.quayform.address") == "containers.web"
        no_changes(tmp_path)
        assert not exists(engine, "volume", marker)
    finally:
        if exists(engine, "container", name):
            engine.remove_container(name, force=True, v=True)
        if exists(engine, "volume", marker):
            engine.remove_volume(marker, force=True)


# -- 18. kill -9 while a container is being stopped ------------------------------------------------------

# Takes 8 s to stop: its stop signal leaves a mark, then sleeps.
SLOW_STOP = f"""\
containers:
  slow:
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'touch /tmp/stopping; sleep 8; exit 0' TERM; sleep 3600 & wait"]
    stop_grace_period: 30s
    env: {{V: "{{version}}"}}
"""


class Background:
    """A quayform command in a subprocess; its merged output read by a thread, so waits have deadlines."""

    def __init__(self, folder: Path, *args: str):
        env = {**os.environ, "QF_TOK": SECRET, "PYTHONUNBUFFERED": "1"}
        env.pop("NO_COLOR", None)
        self.process = subprocess.Popen([sys.executable, "-m", "quayform", *args, "--no-color"], cwd=folder,
                                        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no line with {text!r} within {seconds} s:\n{''.join(self.lines)}")
            if line is None:
                pytest.fail(f"the process ended before printing {text!r}:\n{''.join(self.lines)}")
            self.lines.append(line)
            if text in line:
                return

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def _told_to_stop(engine: docker.APIClient, cid: str) -> bool:
    try:
        exec_id = engine.exec_create(cid, ["test", "-e", "/tmp/stopping"])
        engine.exec_start(exec_id)
        return engine.exec_inspect(exec_id)["ExitCode"] == 0
    except docker.errors.APIError:
        return False


@pytest.mark.parametrize("how", ["env changed", "--replace"])
def test_kill_9_while_a_container_is_being_stopped(tmp_path: Path, stack: str, engine, how: str) -> None:
    write_spec(tmp_path, stack, SLOW_STOP.replace("{version}", "1"))
    ok(cli("apply", "--auto-approve", cwd=tmp_path))
    name = f"{stack}-slow"
    old_id = engine.inspect_container(name)["Id"]
    if how == "env changed":
        write_spec(tmp_path, stack, SLOW_STOP.replace("{version}", "2"))
        args = ("apply", "--auto-approve")
    else:  # the spec is unchanged: only the dying container itself could make the plan look converged
        args = ("apply", "--auto-approve", "--replace", "containers.slow")

    apply = Background(tmp_path, *args)
    try:
        apply.wait_for("containers.slow: Destroying...", 60)
        wait_until(lambda: _told_to_stop(engine, old_id), "the old container to be sent its stop signal", 30)
    finally:
        apply.kill()  # kill -9, while the engine is still stopping the old container

    planned = cli("plan", "--detailed-exitcode", cwd=tmp_path)
    still_stopping = engine.inspect_container(old_id)["State"]["Running"]
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "No changes" not in planned.stdout, planned.stdout
    assert still_stopping, "the old container finished stopping before the plan was made: the test proves nothing"

    again = cli("apply", "--auto-approve", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    no_changes(tmp_path)
    assert list(stack_containers(engine, stack)) == [name], stack_containers(engine, stack)
    assert engine.inspect_container(name)["Id"] != old_id
    env = dict(e.partition("=")[::2] for e in engine.inspect_container(name)["Config"]["Env"])
    assert env["V"] == ("2" if how == "env changed" else "1")
    assert not _dying_markers(engine, stack), "the marker of the dying container goes with it"


def _dying_markers(engine: docker.APIClient, stack: str) -> list[str]:
    return [v["Name"] for v in (engine.volumes(filters={"label": [f"io.quayform.stack={stack}",
                                                                   "io.quayform.marker=dying"]}) or {}).get("Volumes")
            or []]


def test_destroying_many_containers_on_one_network_removes_the_network(tmp_path: Path, stack: str, engine) -> None:
    """Renaming running containers before stopping them (the old way of marking them as dying) made dockerd 20.10
    miscount the network's endpoints once a few dozen stopped at once: destroy then failed on the network, until a
    dockerd restart. Deletes now leave the names alone."""
    count = 50
    body = "networks:\n  net: {}\ncontainers:\n" + "".join(
        f"  c{i}:\n    image: {BUSYBOX}\n    command: {SLEEPER}\n    networks: [net]\n" for i in range(count))
    write_spec(tmp_path, stack, body)
    ok(cli("apply", "--auto-approve", "--parallelism", "16", cwd=tmp_path))
    assert len(stack_containers(engine, stack)) == count
    destroyed = cli("destroy", "--auto-approve", "--parallelism", "16", cwd=tmp_path)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert not engine.networks(filters={"label": f"io.quayform.stack={stack}"})
    assert not stack_containers(engine, stack) and not _dying_markers(engine, stack)
