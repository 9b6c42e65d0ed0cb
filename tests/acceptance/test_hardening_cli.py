"""The hardening issue through the console script: relayed text is masked, bad container fields
are refused by validate, Ctrl-C during a readiness wait, an unreachable engine, held-only plans,
and internal errors (exit 3, masked, a traceback only with --debug)."""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from urllib.parse import quote

import docker
import pytest

from tests.acceptance.test_cli import quayform, write_spec
from tests.conftest import BUSYBOX

# A secret that URL-encoding changes ('/', '+', '='), so its encoded form is a different string.
SECRET = "S3cr3t/+Value=9"
SECRET_FORMS = {
    "value": SECRET,
    "url-encoded": quote(SECRET, safe=""),
    "base64": base64.b64encode(SECRET.encode()).decode(),
}
SECRET_ENV = {"QF_TOK": SECRET}


def assert_masked(*texts: str) -> None:
    """No form of the secret in any of the texts."""
    for text in texts:
        for what, form in SECRET_FORMS.items():
            assert form not in text, f"the secret's {what} form {form!r} was printed:\n{text}"


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return quayform(*args, cwd=cwd, env={**SECRET_ENV, **(env or {})})


def stack_containers(engine: docker.APIClient, stack: str) -> list[dict]:
    return engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"})


def stack_objects(engine: docker.APIClient, stack: str) -> list[str]:
    """Every container, network and volume labelled with the stack (the lock included)."""
    label = {"label": f"io.quayform.stack={stack}"}
    found = [c["Names"][0] for c in engine.containers(all=True, filters=label)]
    found += [n["Name"] for n in engine.networks(filters=label)]
    found += [v["Name"] for v in (engine.volumes(filters=label) or {}).get("Volumes") or []]
    return found


def container_exists(engine: docker.APIClient, name: str) -> bool:
    try:
        engine.inspect_container(name)
        return True
    except docker.errors.NotFound:
        return False


# -- 1. engine text is masked ---------------------------------------------------------------------

# Shell lines that print the secret as it is, URL-encoded and base64-encoded.
ECHO_FORMS = textwrap.dedent("""\
    echo leak=$TOKEN
    echo url=$(printf %s "$TOKEN" | sed 's,/,%2F,g; s,+,%2B,g; s,=,%3D,g')
    echo b64=$(printf %s "$TOKEN" | base64)
""")


def _block(text: str, indent: int) -> str:
    return textwrap.indent(text, " " * indent)


LOG_LEAK = (
    "secrets:\n"
    "  tok: {env: QF_TOK}\n"
    "containers:\n"
    "  leaky:\n"
    f"    image: {BUSYBOX}\n"
    '    env: {TOKEN: "${secrets.tok}"}\n'
    "    command:\n"
    "      - sh\n"
    "      - -c\n"
    "      - |\n"
    + _block(ECHO_FORMS + "exit 3\n", 8)
)

HEALTH_LEAK = (
    "secrets:\n"
    "  tok: {env: QF_TOK}\n"
    "containers:\n"
    "  sick:\n"
    f"    image: {BUSYBOX}\n"
    '    env: {TOKEN: "${secrets.tok}"}\n'
    """    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]\n"""
    "    healthcheck:\n"
    "      test:\n"
    "        - CMD-SHELL\n"
    "        - |\n"
    + _block(ECHO_FORMS + "exit 1\n", 10)
    + "      interval: 500ms\n"
    "      retries: 2\n"
)


@pytest.mark.docker
def test_container_log_lines_that_echo_the_secret_are_masked(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, LOG_LEAK)
    result = run("apply", "--auto-approve", "--no-color", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"container {stack}-leaky exited with code 3; last log lines:" in output, output
    # The log lines are relayed (so there is something to mask), with every form of the secret masked.
    assert "leak=(sensitive)" in output and "url=(sensitive)" in output and "b64=(sensitive)" in output, output
    assert "Traceback" not in output
    assert_masked(result.stdout, result.stderr)


@pytest.mark.docker
def test_health_check_output_that_echoes_the_secret_is_masked(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, HEALTH_LEAK)
    result = run("apply", "--auto-approve", "--no-color", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"container {stack}-sick did not become healthy" in output, output
    assert "last health check output:" in output and "(sensitive)" in output, output
    assert "url=(sensitive)" in output and "b64=(sensitive)" in output, output
    assert_masked(result.stdout, result.stderr)
    # The engine really has the secret in the health log: the masking is quayform's doing.
    health = engine.inspect_container(f"{stack}-sick")["State"]["Health"]["Log"]
    assert any(SECRET in (entry.get("Output") or "") for entry in health)


# -- 8. container fields refused by validate ------------------------------------------------------

REFUSED_FIELDS = {
    "env name with '='": ('env: {"A=B": "1"}', r"containers\.x\.env: 'A=B' is not an environment variable name"),
    "empty env name": ('env: {"": "1"}', r"containers\.x\.env: '' is not an environment variable name"),
    "env name with a space": ('env: {"A B": "1"}', r"containers\.x\.env: 'A B' is not an environment variable name"),
    "mount target /": ('volumes: ["/"]', r"containers\.x\.volumes\[0\]: .*'/' is the container's root"),
    "mount target not normalised": ('volumes: ["/x/../y"]',
                                    r"containers\.x\.volumes\[0\]: .*'/x/\.\./y' is not a normalised path"),
    "file path not normalised": ('files: {/etc/../x: {content: "hi"}}',
                                 r"containers\.x\.files.*: .*'/etc/\.\./x' is not a normalised path"),
}


def _refused_spec(field: str) -> str:
    return f"networks:\n  net: {{}}\ncontainers:\n  x:\n    image: {BUSYBOX}\n    networks: [net]\n    {field}\n"


@pytest.mark.parametrize("case", sorted(REFUSED_FIELDS))
def test_bad_container_fields_are_refused_by_validate(tmp_path: Path, case: str) -> None:
    field, expected = REFUSED_FIELDS[case]
    write_spec(tmp_path, "qft-refused", _refused_spec(field))
    # validate needs no engine: point it at none, to be sure it asks nothing of one
    result = run("validate", "--no-color", cwd=tmp_path, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(r"^Error: quayform\.yaml:9: " + expected, lines[0]), lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.docker
@pytest.mark.parametrize("case", sorted(REFUSED_FIELDS))
def test_bad_container_fields_stop_apply_before_anything_is_touched(tmp_path: Path, stack: str, engine,
                                                                     case: str) -> None:
    field, expected = REFUSED_FIELDS[case]
    write_spec(tmp_path, stack, _refused_spec(field))
    result = run("apply", "--auto-approve", "--no-color", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"Error: quayform\.yaml:9: " + expected, result.stderr), result.stderr
    assert stack_objects(engine, stack) == [], "a refused spec creates nothing (not even the lock)"


# -- 10. Ctrl-C during a readiness wait -----------------------------------------------------------

NEVER_HEALTHY = f"""\
containers:
  sick:
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck: {{test: ["CMD-SHELL", "exit 1"], interval: 1s, retries: 1000, start_period: 300s}}
"""

# Takes 12 s to stop (its stop signal starts a 12 s sleep, and leaves a mark that it was sent).
SLOW_TO_STOP = f"""\
containers:
  slow:
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'touch /tmp/stopping; sleep 12; exit 0' TERM; sleep 3600 & wait"]
    stop_grace_period: 30s
"""


class Running:
    """A quayform apply in a subprocess whose merged output is read by a thread (so waits have deadlines)."""

    def __init__(self, folder: Path, *args: str):
        env = {**os.environ, **SECRET_ENV, "PYTHONUNBUFFERED": "1"}
        env.pop("NO_COLOR", None)
        self.process = subprocess.Popen([sys.executable, "-m", "quayform", *args], cwd=folder, env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, seconds: float) -> str:
        """Read output until a line contains `text`; fail at the deadline or if the process ends first."""
        deadline = time.monotonic() + seconds
        for line in self.lines:
            if text in line:
                return line
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no line with {text!r} within {seconds} s; output so far:\n{self.output}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self._queue.put(None)
                pytest.fail(f"the process ended (code {self.process.wait()}) before printing {text!r}:\n"
                            f"{self.output}")
            self.lines.append(line)
            if text in line:
                return line

    def finish(self, seconds: float) -> int:
        """Wait (bounded) for the process to end and its output to be read; its exit code."""
        try:
            code = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the process did not end within {seconds} s; output so far:\n{self.output}")
        self._reader.join(timeout=30)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def wait_until(condition, what: str, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def running_container(engine: docker.APIClient, name: str) -> dict | None:
    try:
        raw = engine.inspect_container(name)
    except docker.errors.NotFound:
        return None
    return raw if raw["State"]["Running"] else None


def has_file(engine: docker.APIClient, container: str, path: str) -> bool:
    try:
        exec_id = engine.exec_create(container, ["test", "-e", path])
        engine.exec_start(exec_id)
        return engine.exec_inspect(exec_id)["ExitCode"] == 0
    except docker.errors.APIError:
        return False


def lock_exists(engine: docker.APIClient, stack: str) -> bool:
    return container_exists(engine, f"quayform-lock-{stack}")


@pytest.mark.docker
def test_ctrl_c_during_a_readiness_wait_ends_it_at_once(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, NEVER_HEALTHY)
    apply = Running(tmp_path, "apply", "--auto-approve", "--no-color")
    try:
        apply.wait_for("containers.sick: Creating...", 60)
        # Inside the readiness wait: the container runs (under its real name) and is not healthy yet.
        wait_until(lambda: running_container(engine, f"{stack}-sick"), "the sick container to run", 60)
        apply.process.send_signal(signal.SIGINT)
        apply.wait_for("Interrupt received", 10)  # acknowledged right away, not when the wait would end
        # The wait would last the 300 s start period and more; the process ends well before.
        code = apply.finish(30)
    finally:
        apply.kill()
    output = apply.output
    assert code == 130, output
    assert "Traceback" not in output
    assert not lock_exists(engine, stack), "the lock is released on Ctrl-C"

    planned = run("plan", "--no-color", cwd=tmp_path)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    again = run("apply", "--auto-approve", "--lock-timeout", "0s", "--no-color", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "locked" not in again.stderr


@pytest.mark.docker
def test_two_ctrl_c_stop_at_once_and_the_next_apply_repairs(tmp_path: Path, stack: str, engine) -> None:
    """A first Ctrl-C lets the change in progress (a 12 s stop) finish; a second one stops at once.

    The change in progress is the deletion of a container that takes 12 s to stop, so the
    second interrupt certainly arrives while it runs (a readiness wait alone ends at the first)."""
    write_spec(tmp_path, stack, SLOW_TO_STOP)
    first = run("apply", "--auto-approve", "--no-color", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    old_id = engine.inspect_container(f"{stack}-slow")["Id"]

    apply = Running(tmp_path, "apply", "--auto-approve", "--replace", "containers.slow", "--no-color")
    try:
        apply.wait_for("containers.slow: Destroying...", 60)
        wait_until(lambda: has_file(engine, old_id, "/tmp/stopping"), "the old container to be told to stop", 30)
        apply.process.send_signal(signal.SIGINT)
        apply.wait_for("Interrupt received", 10)
        # A person's second press, not a signal racing the handling of the first (see the report:
        # a second SIGINT landing while the first is being acknowledged is not turned into a stop).
        time.sleep(0.5)
        apply.process.send_signal(signal.SIGINT)
        code = apply.finish(30)
    finally:
        apply.kill()
    output = apply.output
    assert code == 130, output
    assert "Two interrupts received" in output, output
    assert "Traceback" not in output
    # It did not wait for the change in progress: the old container is still stopping.
    assert engine.inspect_container(old_id)["State"]["Running"], "the second Ctrl-C waited for the stop to finish"
    assert not lock_exists(engine, stack), "the lock is released even by a second Ctrl-C"

    planned = run("plan", "--no-color", cwd=tmp_path)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    again = run("apply", "--auto-approve", "--no-color", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    final = run("plan", "--detailed-exitcode", "--no-color", cwd=tmp_path)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "No changes. Your stack matches the spec." in final.stdout
    names = [c["Names"][0].lstrip("/") for c in stack_containers(engine, stack)]
    assert names == [f"{stack}-slow"], names


# -- 11. engine unreachable ------------------------------------------------------------------------

UNREACHABLE_COMMANDS = {
    "plan": ("plan",),
    "apply": ("apply", "--auto-approve"),
    "destroy": ("destroy", "--auto-approve"),
    "show": ("show",),
    "graph": ("graph",),
    "import": ("import", "containers.x", "some-container"),
    "force-unlock": ("force-unlock",),
}


@pytest.mark.parametrize("endpoint", ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"])
@pytest.mark.parametrize("command", sorted(UNREACHABLE_COMMANDS))
def test_unreachable_engine_is_one_error_naming_the_endpoint(tmp_path: Path, command: str, endpoint: str) -> None:
    write_spec(tmp_path, "qft-unreachable", "secrets:\n  tok: {env: QF_TOK}\ncontainers:\n"
                                            f"  x:\n    image: {BUSYBOX}\n    env: {{T: \"${{secrets.tok}}\"}}\n")
    result = run(*UNREACHABLE_COMMANDS[command], "--no-color", cwd=tmp_path, env={"DOCKER_HOST": endpoint})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert endpoint in lines[0], lines[0]
    for noise in ("Traceback", "urllib3", "ConnectionError", "Internal error"):
        assert noise not in output, output
    assert_masked(output)


# -- 20. a plan whose only differences are held ----------------------------------------------------

HELD_BASE = f"""\
volumes:
  data: {{}}
containers:
  app:
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: ["data:/data"]
"""

HELD_EDITS = {
    "labels": "  data: {labels: {backup: daily}}\n",
    "driver_opts": "  data: {driver_opts: {type: tmpfs, device: tmpfs}}\n",
}


@pytest.mark.docker
@pytest.mark.parametrize("edit", sorted(HELD_EDITS))
def test_held_differences_say_the_stack_differs(tmp_path: Path, stack: str, engine, edit: str) -> None:
    write_spec(tmp_path, stack, HELD_BASE)
    applied = run("apply", "--auto-approve", "--no-color", cwd=tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    matching = run("plan", "--no-color", cwd=tmp_path)
    assert "No changes. Your stack matches the spec." in matching.stdout, matching.stdout
    assert json.loads(run("plan", "--json", cwd=tmp_path).stdout)["differs"] is False

    write_spec(tmp_path, stack, HELD_BASE.replace("  data: {}\n", HELD_EDITS[edit]))
    planned = run("plan", "--no-color", cwd=tmp_path)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "Your stack matches the spec" not in planned.stdout, planned.stdout
    assert "differs" in planned.stdout, planned.stdout
    assert "# volumes.data is kept" in planned.stdout, planned.stdout
    assert "--replace volumes.data" in planned.stdout, planned.stdout

    document = json.loads(run("plan", "--json", cwd=tmp_path).stdout)
    assert document["differs"] is True, document
    assert document["changes"] == [] and document["summary"] == {"add": 0, "change": 0, "replace": 0, "destroy": 0}
    assert [k["address"] for k in document["kept"]] == ["volumes.data"]

    detailed = run("plan", "--detailed-exitcode", "--no-color", cwd=tmp_path)
    assert detailed.returncode == 0, detailed.stdout + detailed.stderr  # held differences are not changes
    assert "differs" in detailed.stdout


# -- 21. an unexpected exception is an internal error ---------------------------------------------

CRASH = f"""\
import sys

import quayform.pipeline as pipeline


def crashing_plan(options):
    pipeline._load(options)  # the spec and its secrets are read first, as in a real plan
    raise RuntimeError("boom {SECRET} {SECRET_FORMS['url-encoded']} {SECRET_FORMS['base64']}")


pipeline.make_plan = crashing_plan

from quayform.cli import main

sys.argv = ["quayform", *sys.argv[1:]]
main()
"""


def _crash(folder: Path, *args: str) -> subprocess.CompletedProcess:
    script = folder / "crash.py"
    script.write_text(CRASH)
    env = {**os.environ, **SECRET_ENV}
    env.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, str(script), *args], cwd=folder, capture_output=True, text=True,
                          env=env, timeout=120)


def _crash_spec(folder: Path) -> None:
    write_spec(folder, "qft-crash", "secrets:\n  tok: {env: QF_TOK}\ncontainers:\n"
                                    f"  x:\n    image: {BUSYBOX}\n    env: {{T: \"${{secrets.tok}}\"}}\n")


def test_an_unexpected_exception_is_an_internal_error_with_the_secret_masked(tmp_path: Path) -> None:
    _crash_spec(tmp_path)
    result = _crash(tmp_path, "plan", "--no-color")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Internal error: RuntimeError: boom (sensitive)" in result.stderr, result.stderr
    assert "This is a bug in quayform" in result.stderr
    assert "Traceback" not in result.stderr, "a traceback only with --debug"
    assert_masked(result.stdout, result.stderr)


def test_debug_prints_the_traceback_of_an_internal_error_masked(tmp_path: Path) -> None:
    _crash_spec(tmp_path)
    result = _crash(tmp_path, "--debug", "plan", "--no-color")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback (most recent call last):" in result.stderr, result.stderr
    assert "crashing_plan" in result.stderr  # the real traceback, through the code that raised
    assert "RuntimeError: boom (sensitive)" in result.stderr, result.stderr
    assert "Internal error: RuntimeError" in result.stderr
    # The traceback quotes the source line that holds the secret literally: masked too.
    assert_masked(result.stdout, result.stderr)
