"""kill -9 and Ctrl-C in the middle of an apply: the next apply converges and nothing is left half-made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.test_cli import quayform, write_spec
from tests.conftest import BUSYBOX, SLEEPER

pytestmark = pytest.mark.docker

N = 20


def twenty_containers() -> str:
    body = "networks:\n  net: {}\nvolumes:\n" + "".join(f"  v{i}: {{}}\n" for i in range(0, N, 4))
    body += "containers:\n"
    for i in range(N):
        extra = f"\n    depends_on: [c{i - 1}]" if i % 5 == 4 else ""
        extra += f'\n    volumes: ["v{i}:/data"]' if i % 4 == 0 else ""
        extra += '\n    healthcheck: {test: ["CMD", "true"], interval: 200ms, retries: 20}' if i % 3 == 0 else ""
        body += f"  c{i}:\n    image: {BUSYBOX}\n    command: {SLEEPER}\n    networks: [net]{extra}\n"
    return body


def start_apply(folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NO_COLOR", None)
    return subprocess.Popen([sys.executable, "-m", "quayform", "apply", "--auto-approve", "--no-color",
                             "--parallelism", "4"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def wait_for_lines(process: subprocess.Popen, marker: str, count: int) -> list[str]:
    """Read the apply's output until `count` lines contain `marker` (or it ends)."""
    seen, lines = 0, []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            seen += 1
            if seen >= count:
                break
    return lines


def leftovers(engine, stack: str) -> list[str]:
    """Containers of the stack under a staging name (half-made) - there must be none after converging."""
    names = [c["Names"][0].lstrip("/") for c in engine.containers(all=True, filters={"label": f"io.quayform.stack={stack}"})]
    return [n for n in names if "-qf-" in n]


@pytest.mark.parametrize("kill_after", [1, 6, 13, 19])
def test_kill_9_mid_apply_then_apply_converges(tmp_path: Path, stack: str, engine, kill_after: int) -> None:
    write_spec(tmp_path, stack, twenty_containers())
    process = start_apply(tmp_path)
    wait_for_lines(process, "Creating...", kill_after)
    # The kill must land while the apply is still running, or the test proves nothing: each container
    # takes at least its 2 s readiness window after its "Creating..." line, so the apply cannot be over.
    assert process.poll() is None, "the apply ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    running = engine.containers(filters={"label": f"io.quayform.stack={stack}", "status": "running"})
    assert len(running) < N or leftovers(engine, stack), "the kill came after the apply had finished"
    again = quayform("apply", "--auto-approve", "--no-color", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Apply complete!" in again.stdout
    final = quayform("plan", "--detailed-exitcode", "--no-color", cwd=tmp_path)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "No changes." in final.stdout
    assert leftovers(engine, stack) == []
    running = engine.containers(filters={"label": f"io.quayform.stack={stack}", "status": "running"})
    assert len(running) == N


def test_ctrl_c_finishes_in_flight_work_and_exits_non_zero(tmp_path: Path, stack: str, engine) -> None:
    write_spec(tmp_path, stack, twenty_containers())
    process = start_apply(tmp_path)
    lines = wait_for_lines(process, "Creating...", 5)
    assert process.poll() is None, "the apply ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=120)
    output = "".join(lines) + rest
    assert process.returncode == 130, output
    assert "Interrupt received" in output
    assert "Interrupted:" in output and "Run the same command again to finish." in output
    assert "Traceback" not in output and "Internal error" not in output
    assert leftovers(engine, stack) == []  # what was in flight finished (or was cleaned up)
    again = quayform("apply", "--auto-approve", "--no-color", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert quayform("plan", "--detailed-exitcode", cwd=tmp_path).returncode == 0
