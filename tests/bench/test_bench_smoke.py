"""bench/run.py end to end at N=3: every phase measured, API calls counted, nothing left behind.

Never asserts on wall-clock time: only that times and ratios exist and are positive, and on
the engine API call counts, which do not depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest

REPO = Path(__file__).resolve().parents[2]
N = 3
KINDS = 3  # containers, volumes, networks: one list call each
TIMED = ("apply", "noop_plan", "change", "change_plan", "change_apply", "destroy")
WITH_LIMIT = ("apply", "noop_plan", "change", "change_apply", "destroy")


@pytest.mark.docker
def test_bench_runs_every_phase_at_n3(engine: docker.APIClient, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--sizes", str(N), "--repeat", "1",
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    print(proc.stdout)  # the table, shown with pytest -s or on failure
    assert proc.returncode == 0, f"bench/run.py exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"

    result = json.loads(out.read_text())
    assert result["failures"] == []
    for key in ("nproc", "cpu_model", "docker_version"):
        assert result["machine"][key]
    phases = result["sizes"][str(N)]["phases"]
    for phase in TIMED:
        entry = phases[phase]
        assert entry["quayform_s"] > 0, phase
        assert entry["api_calls"] > 0, phase
    for phase in WITH_LIMIT:
        entry = phases[phase]
        assert entry["limit_s"] > 0, phase
        assert entry["ratio"] > 0, phase
    rss = phases["noop_plan_peak_rss"]
    assert rss["quayform_kb"] > 0 and rss["limit_kb"] > 0 and rss["ratio"] > 0
    for key in ("help", "validate"):
        assert result["startup"][key]["quayform_s"] > 0 and result["startup"][key]["ratio"] > 0

    # The limit makes exactly the calls it is written to make: the counting proxy is exact.
    assert [phases[p]["limit_api_calls"] for p in ("apply", "noop_plan", "change", "destroy")] == \
        [3 * N + 1, 1, 3, 3 * N + 1]

    # The spec's budget for a no-op plan: one list per kind, one image inspect, one inspect per container.
    noop = phases["noop_plan"]
    assert noop["api_calls"] <= 1 + KINDS + N, noop["api_calls_by_endpoint"]
    assert sum(noop["api_calls_by_endpoint"].values()) == noop["api_calls"]

    # Every stack the benchmark made (quayform's and the limit's) is gone.
    assert result["stacks"]
    for stack in result["stacks"]:
        flt = {"label": f"{stack['label']}={stack['value']}"}
        assert engine.containers(all=True, filters=flt) == [], stack
        assert engine.networks(filters=flt) == [], stack
        assert ((engine.volumes(filters=flt) or {}).get("Volumes") or []) == [], stack

    # The table printed on stdout names the machine and has a row per phase.
    assert "CPUs" in proc.stdout and "docker:" in proc.stdout
    for label in ("apply (from nothing)", "no-op plan", "destroy --volumes", "no-op plan peak RSS", "quayform --help"):
        assert label in proc.stdout
