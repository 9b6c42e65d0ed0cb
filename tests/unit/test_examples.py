"""Every example validates as shipped (no engine), and validate writes no secret file for it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NO_ENGINE = "unix:///nonexistent/quayform-examples-test.sock"


@pytest.mark.parametrize("name", sorted(p.parent.name for p in EXAMPLES.glob("*/quayform.yaml")))
def test_the_example_validates_and_generates_nothing(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder, ignore=shutil.ignore_patterns("secrets"))
    env = {**os.environ, "DOCKER_HOST": NO_ENGINE, "QUAY_PG_ADMIN_PASSWORD": "example-only"}
    result = subprocess.run([sys.executable, "-m", "quayform", "validate", "--no-color"], cwd=folder,
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The spec is valid" in result.stdout
    assert not (folder / "secrets").exists()


def test_the_quay_example_declares_the_registry_contents_and_names_no_container_after_the_hostname() -> None:
    text = (EXAMPLES / "quay" / "quayform.yaml").read_text()
    for section in ("quay:", "organizations:", "robots:", "teams:", "repositories:", "notifications:", "mirrors:"):
        assert f"\n{section}" in text
    assert "name: ${variables.hostname}" not in text
    assert 'aliases: ["${variables.hostname}"]' in text
