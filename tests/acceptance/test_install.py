"""quayform installs from a built wheel into a fresh virtualenv and runs from there (README, "Install")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # Without PYTHONPATH: a checkout on it (with its quayform.egg-info) makes pip think quayform is
    # already installed, and skip installing the wheel.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def test_a_built_wheel_installs_and_runs_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(ROOT))
    (wheel,) = (tmp_path / "dist").glob("quayform-*.whl")
    run(sys.executable, "-m", "venv", str(tmp_path / "venv"))
    run(str(tmp_path / "venv" / "bin" / "pip"), "install", "--quiet", str(wheel))
    quayform = str(tmp_path / "venv" / "bin" / "quayform")
    assert "plan" in run(quayform, "--help").stdout
    example = tmp_path / "local"
    shutil.copytree(ROOT / "examples" / "local", example, ignore=shutil.ignore_patterns("secrets"))
    assert "The spec is valid" in run(quayform, "validate", "--no-color", cwd=example).stdout
    # The installed package is the one that ran, not the checkout.
    where = run(str(tmp_path / "venv" / "bin" / "python"), "-c", "import quayform; print(quayform.__file__)",
                cwd=tmp_path).stdout
    assert str(tmp_path / "venv") in where
