"""What a Terraform or compose user reaches for, run as they would: the CLI as a subprocess, the terminal
behaviours under a pseudo-terminal (issue 12)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.acceptance.test_cli import SECRET, quayform, write_spec
from tests.conftest import BUSYBOX, SLEEPER

DAY2 = f"""\
secrets:
  token: {{env: APP_TOKEN}}
containers:
  web:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo started token=$TOKEN; echo to-stderr >&2; trap 'exit 0' TERM; sleep 3600 & wait"]
    env: {{TOKEN: "${{secrets.token}}"}}
    ports: ["127.0.0.1::80"]
    healthcheck: {{test: ["CMD", "true"], interval: 200ms, retries: 20}}
  worker:
    image: {BUSYBOX}
    command: {SLEEPER}
"""


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _own_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is the pty, so Ctrl-C is SIGINT."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """quayform under a pseudo-terminal, as a person at a terminal runs it."""

    def __init__(self, cwd: Path, *args: str, env: dict[str, str] | None = None):
        self.master, slave = pty.openpty()
        environ = {**os.environ, "APP_TOKEN": SECRET, "TERM": "xterm-256color", "COLUMNS": "120", **(env or {})}
        environ.pop("NO_COLOR", None)
        self.process = subprocess.Popen([sys.executable, "-m", "quayform", *args], cwd=cwd, stdin=slave,
                                        stdout=slave, stderr=slave, env=environ, preexec_fn=_own_terminal)
        os.close(slave)
        self.output = ""

    def read_until(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} did not appear in {timeout} s; output so far:\n{self.output}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.output += os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the process ended and closed the terminal
                    if self.process.poll() is not None and text not in self.output:
                        raise AssertionError(f"{text!r} never appeared; output:\n{self.output}") from None
        return self.output

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    break
        return self.process.wait(max(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        os.close(self.master)


# -- day-2 commands --------------------------------------------------------------------------------

@pytest.mark.docker
def test_ps_logs_exec_restart_reach_the_stack_by_address_with_secrets_masked(tmp_path: Path, stack: str,
                                                                             engine) -> None:
    write_spec(tmp_path, stack, DAY2)
    before = ok(quayform("ps", "--no-color", cwd=tmp_path))
    containers = [line.split()[:4] for line in before.stdout.splitlines()[1:] if line.startswith("containers.")]
    assert containers == [["containers.web", f"{stack}-web", "not", "created"],
                          ["containers.worker", f"{stack}-worker", "not", "created"]]
    ok(quayform("apply", "--auto-approve", "--no-color", cwd=tmp_path))

    listed = json.loads(ok(quayform("ps", "--json", cwd=tmp_path)).stdout)
    rows = {r["address"]: r for r in listed["resources"]}
    web = engine.inspect_container(f"{stack}-web")
    host_port = web["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
    assert rows["containers.web"]["state"] == "running" and rows["containers.web"]["health"] == "healthy"
    assert rows["containers.web"]["ports"] == f"127.0.0.1:{host_port}->80/tcp"
    assert rows["containers.web"]["image"] == BUSYBOX and rows["containers.worker"]["health"] == ""
    table = ok(quayform("ps", "--no-color", cwd=tmp_path)).stdout
    assert table.splitlines()[0].split() == ["ADDRESS", "NAME", "STATE", "HEALTH", "PORTS", "IMAGE"]

    logs = ok(quayform("logs", "web", "--no-color", cwd=tmp_path))
    assert "started token=(sensitive)" in logs.stdout and "to-stderr" in logs.stdout
    assert SECRET not in logs.stdout + logs.stderr
    last = ok(quayform("logs", "containers.web", "--tail", "1", cwd=tmp_path))
    assert len(last.stdout.splitlines()) == 1

    ran = quayform("exec", "web", "--", "sh", "-c", "echo out $TOKEN; echo err >&2; exit 3", cwd=tmp_path)
    assert ran.returncode == 3, ran.stdout + ran.stderr
    assert ran.stdout == "out (sensitive)\n" and ran.stderr == "err\n"
    piped = quayform("exec", "-i", "web", "--", "tr", "a-z", "A-Z", cwd=tmp_path, stdin="hello\n")
    assert ok(piped).stdout == "HELLO\n"

    started = web["State"]["StartedAt"]
    restarted = ok(quayform("restart", "web", "containers.worker", cwd=tmp_path))
    assert f"Restarted containers.web ({stack}-web)." in restarted.stdout
    assert engine.inspect_container(f"{stack}-web")["State"]["StartedAt"] != started
    assert engine.inspect_container(f"{stack}-web")["State"]["Running"]

    nothing = quayform("logs", "nope", cwd=tmp_path)
    assert nothing.returncode == 1 and "'nope' is not the key of one resource in containers" in nothing.stderr


@pytest.mark.docker
def test_logs_follow_prints_new_lines_until_interrupted(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, f"""\
containers:
  ticker:
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done"]
""")
    ok(quayform("apply", "--auto-approve", "--no-color", cwd=tmp_path))
    terminal = Terminal(tmp_path, "logs", "-f", "ticker")
    try:
        terminal.read_until("tick-2", 20)
        time.sleep(1.0)  # lines written after the command started arrive too
        count = terminal.output.count("tick-")
        terminal.read_until(f"tick-{count + 2}", 20)
        terminal.type(b"\x03")
        assert terminal.finish(20) == 0
    finally:
        terminal.close()
    assert "Traceback" not in terminal.output


# -- plan -refresh-only ----------------------------------------------------------------------------

@pytest.mark.docker
def test_plan_refresh_only_shows_drift_and_plans_nothing(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, DAY2)
    missing = quayform("plan", "-refresh-only", "-detailed-exitcode", "-no-color", cwd=tmp_path)
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "# containers.web is missing" in missing.stdout and "will be created" not in missing.stdout
    ok(quayform("apply", "-auto-approve", cwd=tmp_path))
    clean = quayform("plan", "-refresh-only", "-detailed-exitcode", "-no-color", cwd=tmp_path)
    assert clean.returncode == 0 and "No drift. Your stack matches the spec." in clean.stdout

    engine.stop(f"{stack}-worker", timeout=5)
    drifted = quayform("plan", "-refresh-only", "-detailed-exitcode", "-no-color", cwd=tmp_path)
    assert drifted.returncode == 2
    assert "# containers.worker has changed" in drifted.stdout and "~ running = false -> true" in drifted.stdout
    document = json.loads(ok(quayform("plan", "-refresh-only", "-json", cwd=tmp_path)).stdout)
    assert document["mode"] == "refresh-only" and document["differs"] is True
    assert [(d["address"], d["state"]) for d in document["drift"]] == [("containers.worker", "changed")]
    assert {"path": "running", "live": False, "spec": True, "sensitive": False} in document["drift"][0]["attributes"]
    assert not engine.inspect_container(f"{stack}-worker")["State"]["Running"], "refresh-only changed nothing"

    refused = quayform("plan", "-refresh-only", "-out", str(tmp_path / "p"), cwd=tmp_path)
    assert refused.returncode == 1 and "takes neither -out nor -replace" in refused.stderr
    assert not (tmp_path / "p").exists()


# -- Terraform's spellings, validate -json, one -f, no terminal -------------------------------------

@pytest.mark.docker
def test_terraform_spellings_work(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, f"""\
variables:
  greeting: hi
containers:
  one:
    image: {BUSYBOX}
    command: {SLEEPER}
    labels: {{greeting: "${{variables.greeting}}"}}
  two:
    image: {BUSYBOX}
    command: {SLEEPER}
outputs:
  said: ${{variables.greeting}}
""")
    applied = quayform("apply", "-auto-approve", "-target=containers.one", "-var", "greeting=hello",
                       "-lock-timeout=30s", "-no-color", cwd=tmp_path)
    assert "containers.one: Creation complete" in ok(applied).stdout and "containers.two" not in applied.stdout
    assert engine.inspect_container(f"{stack}-one")["Config"]["Labels"]["greeting"] == "hello"
    assert not engine.containers(all=True, filters={"name": f"{stack}-two"})
    raw = ok(quayform("output", "-raw", "said", "-var=greeting=hello", cwd=tmp_path))
    assert raw.stdout == "hello"
    # after `--`, one-dash words are the command's own (exec's argv), never rewritten
    ran = ok(quayform("exec", "one", "--", "echo", "-auto-approve", cwd=tmp_path))
    assert ran.stdout == "-auto-approve\n"


def test_validate_json_gives_terraforms_fields_with_file_and_line(tmp_path: Path) -> None:
    write_spec(tmp_path, "vj", f"containers:\n  web:\n    image: {BUSYBOX}\n")
    good = json.loads(ok(quayform("validate", "-json", cwd=tmp_path)).stdout)
    assert (good["valid"], good["error_count"], good["warning_count"], good["diagnostics"]) == (True, 0, 0, [])
    write_spec(tmp_path, "vj", f"containers:\n  web:\n    image: {BUSYBOX}\n    enviroment: {{A: b}}\n")
    bad = quayform("validate", "-json", cwd=tmp_path)
    assert bad.returncode == 1
    document = json.loads(bad.stdout)
    assert document["valid"] is False and document["error_count"] == 1
    (diagnostic,) = document["diagnostics"]
    assert diagnostic["severity"] == "error" and diagnostic["address"] == "containers.web.enviroment"
    assert diagnostic["range"] == {"filename": "quayform.yaml", "start": {"line": 6}}
    assert "did you mean 'env'" in diagnostic["summary"]


def test_more_than_one_spec_file_is_refused(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(f"version: 1\nstack: {name[0]}\n")
    for args in (("-f", "a.yaml", "-f", "b.yaml", "validate"), ("validate", "-f", "a.yaml", "-f", "b.yaml")):
        refused = quayform(*args, cwd=tmp_path)
        assert refused.returncode == 1, refused.stdout
        assert "-f was given 2 times (a.yaml, b.yaml)" in refused.stderr and "does not merge" in refused.stderr


@pytest.mark.docker
def test_without_a_terminal_or_an_answer_apply_says_to_use_auto_approve(tmp_path: Path, stack: str,
                                                                        engine) -> None:
    write_spec(tmp_path, stack, f"containers:\n  web:\n    image: {BUSYBOX}\n    command: {SLEEPER}\n")
    cancelled = subprocess.run([sys.executable, "-m", "quayform", "apply", "-no-color"], cwd=tmp_path,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert cancelled.returncode == 1
    assert "run it again with -auto-approve (or --auto-approve)" in cancelled.stderr
    assert not engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"})
    answered = quayform("apply", "-no-color", cwd=tmp_path, stdin="yes\n")  # `echo yes | quayform apply`
    assert "containers.web: Creation complete" in ok(answered).stdout


# -- at a terminal -----------------------------------------------------------------------------------

@pytest.mark.docker
def test_at_a_terminal_apply_asks_in_colour_and_takes_yes(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, f"containers:\n  web:\n    image: {BUSYBOX}\n    command: {SLEEPER}\n")
    terminal = Terminal(tmp_path, "apply")
    try:
        terminal.read_until("Enter a value", 60)
        assert "\x1b[" in terminal.output, "colour at a terminal"
        terminal.type(b"yes\r")
        terminal.read_until("Apply complete!", 60)
        assert terminal.finish(30) == 0
    finally:
        terminal.close()
    assert engine.inspect_container(f"{stack}-web")["State"]["Running"]
    piped = ok(quayform("plan", cwd=tmp_path))
    assert "\x1b[" not in piped.stdout, "no colour when piped"


@pytest.mark.docker
def test_at_a_terminal_a_health_wait_says_what_it_waits_for_and_ctrl_c_is_acknowledged(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, f"""\
containers:
  slow:
    image: {BUSYBOX}
    command: {SLEEPER}
    healthcheck: {{test: ["CMD", "false"], interval: 1s, retries: 3, start_period: 300s}}
""")
    terminal = Terminal(tmp_path, "apply", "-auto-approve", "-no-color")
    try:
        terminal.read_until("containers.slow: Creating...", 60)
        # every 10 s: what the wait awaits, the last check's exit and output, and how long it may still last
        output = terminal.read_until("gives up in", 40)
        still = next(line for line in output.splitlines() if "Still creating... [10s elapsed]" in line)
        assert "waiting for health: starting; last check (exit 1): (no output); gives up in" in still, still
        terminal.type(b"\x03")
        terminal.read_until("Interrupt received", 10)
        assert terminal.finish(30) == 130
    finally:
        terminal.close()


def test_schema_command_writes_the_shipped_schema(tmp_path: Path) -> None:
    shipped = (Path(__file__).parents[2] / "docs" / "quayform.schema.json").read_text()
    assert ok(quayform("schema", cwd=tmp_path)).stdout == shipped
    wrote = ok(quayform("schema", "-o", "s.json", cwd=tmp_path))
    assert "s.json" in wrote.stdout and (tmp_path / "s.json").read_text() == shipped
