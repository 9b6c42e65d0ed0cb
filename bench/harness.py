"""The benchmark harness: stacks, timed child processes, the table and the JSON.

See bench/README.md for what is measured and how. In short, for each size N:

  cycle 0 (warm-up, not timed into the medians): quayform and the limit each run the whole
      lifecycle through the counting proxy (DOCKER_HOST=unix:///tmp/qf-bench-<pid>.sock),
      which gives the engine API calls of every phase; the plans are checked for sanity.
  cycles 1..repeat: the same lifecycles straight on the engine socket, timed.

A lifecycle is: apply from nothing, `repeat` no-op plans (limit: checks), the one-container
change (quayform: plan, then apply; limit: remove + create + start), destroy. quayform and
the limit alternate who goes first from one cycle to the next, and never have objects on
the engine at the same time. Every child is timed from just before it is spawned to the
moment os.wait4() reaps it, which also gives its own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

import limit
from countproxy import CountingProxy

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RUN_PY = BENCH_DIR / "run.py"
QF_STACK_LABEL = "io.quayform.stack"
IMAGE = limit.IMAGE
COMMAND = limit.COMMAND
CHANGED = limit.CHANGED

# (phase, label in the table, the limit phase it is compared with)
TABLE_PHASES = (
    ("apply", "apply (from nothing)", "apply"),
    ("noop_plan", "no-op plan", "check"),
    ("change", "change: plan + apply", "change"),
    ("change_plan", "  change: plan", None),
    ("change_apply", "  change: apply", "change"),
    ("destroy", "destroy --volumes", "destroy"),
)


class BenchFailure(Exception):
    """Something the benchmark relies on did not hold (a child failed, a no-op plan had changes...)."""


class EngineWedged(Exception):
    """The engine stopped answering network calls: nothing more can be measured or cleaned up."""


WEDGED_HELP = (
    "dockerd no longer answers network calls (GET /networks hangs). dockerd 20.10 before the fix of "
    "moby/moby#42545 (20.10 backport moby/libnetwork#2679) can deadlock in libnetwork when many "
    "containers on one network stop at once; a goroutine dump (kill -USR1 <dockerd pid>) shows "
    "processEndpointDelete waiting in network.ID() and getSvcRecords waiting for the controller "
    "lock. Only a dockerd restart recovers it."
)


# --------------------------------------------------------------------------- child processes

@dataclass
class Sample:
    seconds: float
    maxrss_kb: int
    rc: int
    stdout: str = ""
    stderr: str = ""
    api_calls: int | None = None
    endpoints: dict[str, int] | None = None
    timed_out: bool = False

    def brief(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seconds": round(self.seconds, 6), "maxrss_kb": self.maxrss_kb, "rc": self.rc}
        if self.api_calls is not None:
            out["api_calls"] = self.api_calls
            out["endpoints"] = self.endpoints
        return out


_current_child: subprocess.Popen | None = None


def run_child(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> Sample:
    """Run one process to completion: wall time (spawn to reap), exit code, its own peak RSS.

    Output goes to temporary files (never pipes), so a chatty child cannot block and the
    parent does no work while the child runs.
    """
    global _current_child
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        _current_child = proc
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        _current_child = None
        out.seek(0)
        err.seek(0)
        return Sample(elapsed, usage.ru_maxrss, proc.returncode, out.read().decode(errors="replace"),
                      err.read().decode(errors="replace"), timed_out=killed.is_set())


def kill_current_child() -> None:
    proc = _current_child
    if proc is not None and proc.returncode is None:
        try:
            proc.kill()
            os.waitpid(proc.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


# --------------------------------------------------------------------------- the stacks

def spec_text(stack: str, n: int, rev: str) -> str:
    """The benchmark stack as a quayform spec: N busybox containers, a volume each, one network."""
    q = json.dumps  # JSON scalars and flow lists are valid YAML 1.2
    lines = ["version: 1", f"stack: {stack}", "networks:", "  net: {}", "volumes:"]
    lines += [f"  v{i}: {{}}" for i in range(n)]
    lines.append("containers:")
    for i in range(n):
        lines += [f"  c{i}:",
                  f"    image: {q(IMAGE)}",
                  f"    command: {q(COMMAND)}",
                  f"    env: {{BENCH_REV: {q(rev if i == CHANGED else '0')}}}",
                  f"    volumes: [{q(f'v{i}:/data')}]",
                  "    networks: [net]"]
        dep = limit.depends_on(i)
        if dep is not None:
            lines.append(f"    depends_on: [c{dep}]")
    return "\n".join(lines) + "\n"


class Engine:
    """The bench's own engine connection: cleanup and sanity checks, never timed."""

    def __init__(self) -> None:
        self.api = limit.client()
        self.api.timeout = 120  # the bench's own calls: cleanup and checks, never long
        self.wedged = False

    def responsive(self, seconds: float = 15.0) -> bool:
        """Whether the engine still answers a network list within `seconds` (see WEDGED_HELP)."""
        probe = docker.APIClient(version="1.41", timeout=seconds, **docker.utils.kwargs_from_env())
        try:
            probe.networks(names=["qf-bench-probe"])
            return True
        except docker.errors.DockerException:
            return True  # an answer, even an error, is not a hang
        except Exception:  # noqa: BLE001 - requests' timeouts and connection errors
            self.wedged = True
            return False
        finally:
            probe.close()

    def labelled(self, label: str, value: str) -> dict[str, int]:
        flt = {"label": f"{label}={value}"}
        return {"containers": len(self.api.containers(all=True, filters=flt)),
                "volumes": len((self.api.volumes(filters=flt) or {}).get("Volumes") or []),
                "networks": len(self.api.networks(filters=flt))}

    def remove_labelled(self, label: str, value: str) -> list[str]:
        """Delete every container, network and volume carrying label=value; what could not be deleted."""
        api, flt, problems = self.api, {"label": f"{label}={value}"}, []

        def attempt(what: str, call, *args, **kwargs) -> bool:
            try:
                call(*args, **kwargs)
                return True
            except docker.errors.NotFound:
                return True
            except docker.errors.DockerException as exc:
                problems.append(f"{what}: {exc}")
                return False

        for container in api.containers(all=True, filters=flt):
            attempt(f"container {container['Names']}", api.remove_container, container["Id"], force=True, v=True)
        for network in api.networks(filters=flt):
            if not attempt(f"network {network['Name']}", api.remove_network, network["Id"]):
                try:
                    for endpoint in (api.inspect_network(network["Id"]).get("Containers") or {}):
                        api.disconnect_container_from_network(endpoint, network["Id"], force=True)
                    api.remove_network(network["Id"])
                    problems.pop()
                except docker.errors.DockerException:
                    pass
        for volume in (api.volumes(filters=flt) or {}).get("Volumes") or []:
            attempt(f"volume {volume['Name']}", api.remove_volume, volume["Name"], force=True)
        return problems

    def stale_network_only(self, label: str, value: str) -> bool:
        """True if all that is left of a stack is networks without containers (moby/moby#43286)."""
        left = self.labelled(label, value)
        if left["containers"] or left["volumes"] or not left["networks"]:
            return False
        flt = {"label": f"{label}={value}"}
        return all(not (self.api.inspect_network(n["Id"]).get("Containers") or {})
                   for n in self.api.networks(filters=flt))


@dataclass
class Bench:
    sizes: list[int]
    repeat: int
    startup_repeat: int
    proxy: CountingProxy
    engine: Engine
    workdir: Path
    verbose: bool = True
    stacks: list[tuple[str, str]] = field(default_factory=list)  # (label, value) to clean up
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # ---- helpers

    def log(self, text: str) -> None:
        if self.verbose:
            print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def env(self, counted: bool) -> dict[str, str]:
        env = dict(os.environ)
        env["NO_COLOR"] = "1"
        if counted:
            env["DOCKER_HOST"] = self.proxy.docker_host
        return env

    def cleanup(self, label: str, value: str) -> None:
        """Remove a stack's leftovers; never raises (problems become warnings)."""
        if self.engine.wedged:
            return  # every call would hang; main() prints what to remove once dockerd is back
        try:
            problems = self.engine.remove_labelled(label, value)
        except docker.errors.DockerException as exc:
            problems = [str(exc)]
        for problem in problems:
            message = f"cleanup of {label}={value}: {problem}"
            if message not in self.warnings:
                self.warnings.append(message)
                self.log(f"WARNING: {message}")

    def stale_network(self, what: str, label: str, stack: str, sample: Sample) -> None:
        """A destroy that did all its work but the engine kept the network: a warning, not a failure."""
        if not self.engine.stale_network_only(label, stack):
            tail = (sample.stderr.strip() or sample.stdout.strip())[-2000:]
            raise BenchFailure(f"{what}: exit {sample.rc}\n{tail}")
        message = (f"{what}: dockerd kept the network of {stack} with a stale endpoint (moby/moby#43286, "
                   f"only a dockerd restart removes it); the sample is kept")
        self.warnings.append(message)
        self.log(f"WARNING: {message}")

    @staticmethod
    def timeout(n: int) -> float:
        """Per child: several times what the slowest phase needs here (about 0.2 s per container)."""
        return 120 + 1.0 * n

    def run(self, what: str, argv: list[str], cwd: Path, n: int, counted: bool,
            expect: tuple[int, ...] = (0,), env: dict[str, str] | None = None) -> Sample:
        if counted:
            self.proxy.take()  # drop anything left over from before this process
        sample = run_child(argv, env or self.env(counted), cwd, self.timeout(n))
        if counted:
            time.sleep(0.05)  # let the proxy's reader threads see the last bytes
            sample.endpoints = dict(sorted(self.proxy.take().items()))
            sample.api_calls = sum(sample.endpoints.values())
        if sample.timed_out and not self.engine.responsive():
            raise EngineWedged(f"{what}: killed after {self.timeout(n):.0f} s. " + WEDGED_HELP)
        if sample.rc not in expect:
            tail = (sample.stderr.strip() or sample.stdout.strip())[-2000:]
            why = f"killed after {self.timeout(n):.0f} s" if sample.timed_out else f"exit {sample.rc}"
            raise BenchFailure(f"{what}: {why} (expected exit {' or '.join(map(str, expect))})\n{tail}")
        return sample

    @staticmethod
    def qf(*args: str) -> list[str]:
        return [sys.executable, "-m", "quayform", *args]

    @staticmethod
    def lim(phase: str, n: int, stack: str, rev: str = "0") -> list[str]:
        return [sys.executable, str(RUN_PY), "--limit-phase", phase, "--n", str(n), "--stack", stack, "--rev", rev]

    # ---- lifecycles

    def quayform_cycle(self, n: int, counted: bool) -> dict[str, list[Sample]]:
        stack = f"bench-{n}-{secrets.token_hex(4)}"
        self.stacks.append((QF_STACK_LABEL, stack))
        folder = self.workdir / stack
        folder.mkdir()
        spec = folder / "quayform.yaml"
        spec.write_text(spec_text(stack, n, "0"))
        samples: dict[str, list[Sample]] = {}
        add = lambda phase, s: samples.setdefault(phase, []).append(s)  # noqa: E731
        self.log(f"N={n} quayform {'warm-up (counted)' if counted else 'timed'} cycle, stack {stack}")
        try:
            add("apply", self.run(f"N={n} quayform apply", self.qf("apply", "--auto-approve"), folder, n, counted))
            for _ in range(self.repeat):
                add("noop_plan", self.run(f"N={n} quayform no-op plan (exit 2 = it found changes)",
                                          self.qf("plan", "--detailed-exitcode"), folder, n, counted))
            spec.write_text(spec_text(stack, n, "1"))
            if counted:
                self.check_change_plan(n, folder)
            add("change_plan", self.run(f"N={n} quayform plan of the change",
                                        self.qf("plan", "--detailed-exitcode"), folder, n, counted, expect=(2,)))
            add("change_apply", self.run(f"N={n} quayform apply of the change",
                                         self.qf("apply", "--auto-approve"), folder, n, counted))
            if counted:
                self.run(f"N={n} quayform plan after the change (exit 2 = not converged)",
                         self.qf("plan", "--detailed-exitcode"), folder, n, False)
            destroy = self.run(f"N={n} quayform destroy", self.qf("destroy", "--auto-approve", "--volumes"),
                               folder, n, counted, expect=(0, 1))
            if destroy.rc == 1 and "active endpoints" in destroy.stderr:
                self.stale_network(f"N={n} quayform destroy", QF_STACK_LABEL, stack, destroy)
            elif destroy.rc != 0:
                raise BenchFailure(f"N={n} quayform destroy: exit {destroy.rc}\n{destroy.stderr[-2000:]}")
            else:
                left = self.engine.labelled(QF_STACK_LABEL, stack)
                if any(left.values()):
                    raise BenchFailure(f"N={n} quayform destroy --volumes left objects of {stack}: {left}")
            add("destroy", destroy)
        finally:
            self.cleanup(QF_STACK_LABEL, stack)
        return samples

    def check_change_plan(self, n: int, folder: Path) -> None:
        """The one-container change must plan exactly one replacement, of containers.c0."""
        sample = self.run(f"N={n} quayform plan --json of the change", self.qf("plan", "--json"), folder, n, False)
        document = json.loads(sample.stdout)
        got = [(c["address"], c["action"]) for c in document["changes"]]
        if got != [(f"containers.c{CHANGED}", "replace")]:
            raise BenchFailure(f"N={n}: the one-container change planned {got}, "
                               f"expected [('containers.c{CHANGED}', 'replace')]")

    def limit_cycle(self, n: int, counted: bool) -> dict[str, list[Sample]]:
        stack = f"benchlimit-{n}-{secrets.token_hex(4)}"
        self.stacks.append((limit.LABEL, stack))
        samples: dict[str, list[Sample]] = {}
        add = lambda phase, s: samples.setdefault(phase, []).append(s)  # noqa: E731
        self.log(f"N={n} limit {'warm-up (counted)' if counted else 'timed'} cycle, stack {stack}")
        try:
            add("apply", self.run(f"N={n} limit apply", self.lim("apply", n, stack), REPO, n, counted))
            for _ in range(self.repeat):
                add("check", self.run(f"N={n} limit check", self.lim("check", n, stack), REPO, n, counted))
            add("change", self.run(f"N={n} limit change", self.lim("change", n, stack, "1"), REPO, n, counted))
            self.run(f"N={n} limit check after the change", self.lim("check", n, stack), REPO, n, False)
            destroy = self.run(f"N={n} limit destroy", self.lim("destroy", n, stack), REPO, n, counted,
                               expect=(0, limit.EXIT_STALE_NETWORK))
            if destroy.rc == limit.EXIT_STALE_NETWORK:
                self.stale_network(f"N={n} limit destroy", limit.LABEL, stack, destroy)
            else:
                left = self.engine.labelled(limit.LABEL, stack)
                if any(left.values()):
                    raise BenchFailure(f"N={n} limit destroy left objects of {stack}: {left}")
            add("destroy", destroy)
        finally:
            self.cleanup(limit.LABEL, stack)
        return samples

    def size(self, n: int) -> dict[str, Any]:
        """All cycles for one N; returns the raw samples (warm-up apart)."""
        warm: dict[str, dict[str, list[Sample]]] = {}
        timed: dict[str, dict[str, list[Sample]]] = {"quayform": {}, "limit": {}}
        for cycle in range(self.repeat + 1):
            counted = cycle == 0
            order = ("quayform", "limit") if cycle % 2 == 0 else ("limit", "quayform")
            for who in order:
                got = self.quayform_cycle(n, counted) if who == "quayform" else self.limit_cycle(n, counted)
                if counted:
                    warm[who] = got
                else:
                    for phase, samples in got.items():
                        timed[who].setdefault(phase, []).extend(samples)
        return {"warmup": warm, "timed": timed}

    def startup(self) -> dict[str, list[Sample]]:
        """`quayform --help`, `quayform validate` of examples/quay, and a bare interpreter."""
        quay = REPO / "examples" / "quay"
        env = {**self.env(False), "QUAY_PG_ADMIN_PASSWORD": "x"}
        runs = {"help": (self.qf("--help"), REPO),
                "validate": (self.qf("validate"), quay),
                "python": ([sys.executable, "-c", "pass"], REPO)}
        out: dict[str, list[Sample]] = {k: [] for k in runs}
        self.log("startup: --help, validate (examples/quay), python -c pass")
        for i in range(self.startup_repeat + 1):  # the first round warms the page cache
            for key, (argv, cwd) in runs.items():
                sample = self.run(f"startup {key}", argv, cwd, 0, False, env=env)
                if key == "validate" and "The spec is valid" not in sample.stdout:
                    raise BenchFailure(f"quayform validate of examples/quay said: {sample.stdout}{sample.stderr}")
                if i:
                    out[key].append(sample)
        return out


# --------------------------------------------------------------------------- summary

def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def summarise_size(n: int, raw: dict[str, Any]) -> dict[str, Any]:
    timed, warm = raw["timed"], raw["warmup"]
    qf, lim = timed["quayform"], timed["limit"]
    qf_w, lim_w = warm.get("quayform", {}), warm.get("limit", {})
    # change = plan + apply, paired cycle by cycle
    qf["change"] = [Sample(p.seconds + a.seconds, max(p.maxrss_kb, a.maxrss_kb), 0)
                    for p, a in zip(qf.get("change_plan", []), qf.get("change_apply", []))]

    def calls(samples: dict[str, list[Sample]], phase: str) -> tuple[int | None, dict[str, int] | None]:
        if phase == "change" and "change_plan" in samples:
            plan, apply = samples["change_plan"][0], samples["change_apply"][0]
            merged: dict[str, int] = {}
            for part in (plan.endpoints or {}, apply.endpoints or {}):
                for k, v in part.items():
                    merged[k] = merged.get(k, 0) + v
            return (plan.api_calls or 0) + (apply.api_calls or 0), dict(sorted(merged.items()))
        if phase not in samples:
            return None, None
        first = samples[phase][0]
        return first.api_calls, first.endpoints

    phases: dict[str, Any] = {}
    for phase, label, limit_phase in TABLE_PHASES:
        q_times = [s.seconds for s in qf.get(phase, [])]
        l_times = [s.seconds for s in lim.get(limit_phase, [])] if limit_phase else []
        q_calls, q_endpoints = calls(qf_w, phase)
        l_calls, l_endpoints = calls(lim_w, limit_phase) if limit_phase else (None, None)
        entry = {
            "label": label.strip(),
            "quayform_s": median(q_times), "limit_s": median(l_times) if limit_phase else None,
            "ratio": ratio(median(q_times), median(l_times)) if limit_phase else None,
            "limit_phase": limit_phase,
            "api_calls": q_calls, "api_calls_by_endpoint": q_endpoints,
            "limit_api_calls": l_calls, "limit_api_calls_by_endpoint": l_endpoints,
            "quayform_samples_s": [round(t, 6) for t in q_times],
            "limit_samples_s": [round(t, 6) for t in l_times],
            "quayform_maxrss_kb": [s.maxrss_kb for s in qf.get(phase, [])],
        }
        phases[phase] = entry
    q_rss = [s.maxrss_kb for s in qf.get("noop_plan", [])]
    l_rss = [s.maxrss_kb for s in lim.get("check", [])]
    phases["noop_plan_peak_rss"] = {
        "label": "no-op plan peak RSS",
        "quayform_kb": median(q_rss), "limit_kb": median(l_rss), "ratio": ratio(median(q_rss), median(l_rss)),
        "quayform_samples_kb": q_rss, "limit_samples_kb": l_rss,
    }
    warmup = {who: {phase: [s.brief() for s in samples] for phase, samples in got.items()}
              for who, got in warm.items()}
    return {"n": n, "phases": phases, "warmup": warmup}


def summarise_startup(raw: dict[str, list[Sample]]) -> dict[str, Any]:
    base = median([s.seconds for s in raw["python"]])
    out: dict[str, Any] = {}
    for key, label in (("help", "quayform --help [limit: python -c pass]"),
                       ("validate", "quayform validate examples/quay [limit: python -c pass]")):
        q = median([s.seconds for s in raw[key]])
        out[key] = {"label": label, "quayform_s": q, "limit_s": base, "limit_phase": "python -c pass",
                    "ratio": ratio(q, base), "quayform_samples_s": [round(s.seconds, 6) for s in raw[key]],
                    "quayform_maxrss_kb": [s.maxrss_kb for s in raw[key]]}
    out["python"] = {"label": "python -c pass", "seconds": base,
                     "samples_s": [round(s.seconds, 6) for s in raw["python"]]}
    return out


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def fmt_mb(kb: float | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.1f} MB"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_calls(value: int | None) -> str:
    return "-" if value is None else str(value)


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The printed table as rows (also written to the JSON as `rows`)."""
    rows = []
    for n_text, size in result["sizes"].items():
        n = int(n_text)
        for phase, _label, _lp in TABLE_PHASES:
            e = size["phases"][phase]
            rows.append({"n": n, "phase": phase, "label": e["label"], "quayform": e["quayform_s"],
                         "limit": e["limit_s"], "ratio": e["ratio"], "unit": "s",
                         "api_calls": e["api_calls"], "limit_api_calls": e["limit_api_calls"]})
        e = size["phases"]["noop_plan_peak_rss"]
        rows.append({"n": n, "phase": "noop_plan_peak_rss", "label": e["label"], "quayform": e["quayform_kb"],
                     "limit": e["limit_kb"], "ratio": e["ratio"], "unit": "KB",
                     "api_calls": None, "limit_api_calls": None})
    for key in ("help", "validate"):
        e = result.get("startup", {}).get(key)
        if e:
            rows.append({"n": None, "phase": key, "label": e["label"], "quayform": e["quayform_s"],
                         "limit": e["limit_s"], "ratio": e["ratio"], "unit": "s",
                         "api_calls": None, "limit_api_calls": None})
    return rows


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "quayform benchmark",
        f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_total']}, Linux {m['kernel']}",
        f"docker:  engine {m['docker_version']} (API {m['docker_api_version']}, {m['storage_driver']}), "
        f"{m['engine_containers_at_start']} containers on the engine at start",
        f"python:  {m['python']} ({m['python_executable']})",
        f"quayform {m['quayform_version']} from {m['quayform_path']}, git {m['git']}",
        f"repeat {result['config']['repeat']} timed cycles per N (+1 counted warm-up), "
        f"{result['config']['repeat']} no-op plans per cycle; medians; whole-process wall time",
        "",
    ]
    header = ("N", "phase", "quayform", "limit", "ratio", "API calls", "limit calls")
    body = []
    for r in result["rows"]:
        if r["unit"] == "KB":
            q, li = fmt_mb(r["quayform"]), fmt_mb(r["limit"])
        else:
            q, li = fmt_s(r["quayform"]), fmt_s(r["limit"])
        label = r["label"] if r["phase"] not in ("change_plan", "change_apply") else "  " + r["label"]
        body.append(("" if r["n"] is None else str(r["n"]), label, q, li, fmt_ratio(r["ratio"]),
                     fmt_calls(r["api_calls"]), fmt_calls(r["limit_api_calls"])))
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    align = "><>>>>>"

    def line(row: tuple) -> str:
        return "  ".join(f"{str(c):{a}{w}}" for c, a, w in zip(row, align, widths)).rstrip()

    lines.append(line(header))
    lines.append("  ".join("-" * w for w in widths))
    previous_n = None
    for r, row in zip(result["rows"], body):
        if previous_n is not None and r["n"] != previous_n:
            lines.append("")
        previous_n = r["n"]
        lines.append(line(row))
    lines.append("")
    lines.append("no-op plan API calls by endpoint (counted warm-up cycle):")
    for n_text, size in result["sizes"].items():
        e = size["phases"]["noop_plan"]
        by = e["api_calls_by_endpoint"] or {}
        lines.append(f"  N={n_text}: {e['api_calls']} calls: " + ", ".join(f"{k}: {v}" for k, v in by.items()))
    if len(result["sizes"]) >= 2:
        lines.append("")
        lines.append("growth of the no-op plan (per container added since the previous size):")
        previous = None
        for n_text, size in result["sizes"].items():
            n = int(n_text)
            t = size["phases"]["noop_plan"]["quayform_s"]
            kb = size["phases"]["noop_plan_peak_rss"]["quayform_kb"]
            text = f"  N={n}: {fmt_s(t)}, {fmt_mb(kb)}"
            if previous and t is not None and kb is not None:
                pn, pt, pkb = previous
                text += (f"; +{(t - pt) / (n - pn) * 1000:.2f} ms and +{(kb - pkb) / (n - pn):.0f} KB "
                         f"per container since N={pn}")
            lines.append(text)
            previous = (n, t, kb)
    if result.get("warnings"):
        lines.append("")
        lines.append("WARNINGS:")
        lines += [f"  {w}" for w in result["warnings"]]
    if result["failures"]:
        lines.append("")
        lines.append("FAILURES:")
        lines += [f"  {f}" for f in result["failures"]]
    return "\n".join(lines)


# --------------------------------------------------------------------------- machine

def machine_info(engine: Engine) -> dict[str, Any]:
    cpu_model, mem_total = "?", "?"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu_model = text.split(":", 1)[1].strip()
                break
        for text in Path("/proc/meminfo").read_text().splitlines():
            if text.startswith("MemTotal"):
                mem_total = f"{int(text.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except OSError:
        pass
    version = engine.api.version()
    info = engine.api.info()
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "quayform"],
                               capture_output=True, text=True).stdout.strip()
        git = head + (" + uncommitted changes in quayform/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        git = "?"
    probe = subprocess.run([sys.executable, "-c", "import quayform; print(quayform.__version__, quayform.__file__)"],
                           capture_output=True, text=True)
    qf_version, _, qf_path = probe.stdout.strip().partition(" ")
    return {
        "nproc": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "mem_total": mem_total,
        "kernel": platform.release(),
        "docker_version": version.get("Version"),
        "docker_api_version": version.get("ApiVersion"),
        "storage_driver": info.get("Driver"),
        "engine_containers_at_start": info.get("Containers"),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "quayform_version": qf_version or "?",
        "quayform_path": str(Path(qf_path).parent) if qf_path else "?",
        "git": git,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,100", help="comma-separated stack sizes N (default 10,50,100)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed cycles per N, and no-op plans per cycle (default 3)")
    parser.add_argument("--startup-repeat", type=int, default=None,
                        help="runs of --help / validate / python -c pass (default max(5, repeat))")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="also write the results as JSON to OUT")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: {args.sizes!r} is not a comma-separated list of integers")
    if not args.sizes or any(n < 1 for n in args.sizes):
        parser.error("--sizes: every size must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.startup_repeat = args.startup_repeat or max(5, args.repeat)
    return args


def _leftover_commands(stacks: list[tuple[str, str]]) -> str:
    labels = " ".join(f"{label}={value}" for label, value in stacks)
    return (f"for l in {labels}; do docker rm -f -v $(docker ps -aq --filter label=$l); "
            "docker network rm $(docker network ls -q --filter label=$l); "
            "docker volume rm $(docker volume ls -q --filter label=$l); done")


def _terminate(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    engine = Engine()
    try:
        engine.api.ping()
        engine.api.inspect_image(IMAGE)
    except docker.errors.DockerException as exc:
        print(f"bench: the Docker engine or the image {IMAGE} is not available: {exc}", file=sys.stderr)
        return 1
    if not engine.responsive():
        print(f"bench: {WEDGED_HELP}", file=sys.stderr)
        return 1
    machine = machine_info(engine)
    engine_socket = "/var/run/docker.sock"
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        engine_socket = host[len("unix://"):]
    proxy = CountingProxy(engine_socket).start()
    workdir = Path(tempfile.mkdtemp(prefix="qf-bench-"))
    bench = Bench(args.sizes, args.repeat, args.startup_repeat, proxy, engine, workdir, verbose=not args.quiet)
    result: dict[str, Any] = {
        "machine": machine,
        "config": {"sizes": args.sizes, "repeat": args.repeat, "startup_repeat": args.startup_repeat,
                   "image": IMAGE, "command": COMMAND, "changed_container": f"containers.c{CHANGED}",
                   "limit_threads": limit.THREADS, "limit_stop_timeout_s": limit.STOP_TIMEOUT},
        "sizes": {}, "startup": {}, "failures": bench.failures, "warnings": bench.warnings,
    }
    interrupted = False
    try:
        try:
            result["startup"] = summarise_startup(bench.startup())
        except BenchFailure as exc:
            bench.failures.append(str(exc))
        for n in args.sizes:
            try:
                result["sizes"][str(n)] = summarise_size(n, bench.size(n))
            except BenchFailure as exc:
                bench.failures.append(str(exc))
                bench.log(f"FAILED: {exc}")
            except EngineWedged as exc:
                bench.failures.append(f"{exc} Then remove what the benchmark left: {_leftover_commands(bench.stacks)}")
                bench.log(f"FAILED, stopping: {exc}")
                break
            except Exception as exc:  # noqa: BLE001 - keep going with the next N; reported below
                text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                bench.failures.append(f"N={n}: unexpected error: {text}")
                bench.log(f"FAILED: N={n}: {traceback.format_exc()}")
    except KeyboardInterrupt:
        interrupted = True
        bench.failures.append("interrupted")
        kill_current_child()
    finally:
        for label, value in bench.stacks:
            bench.cleanup(label, value)
        proxy.close()
        shutil.rmtree(workdir, ignore_errors=True)
    result["stacks"] = [{"label": label, "value": value} for label, value in bench.stacks]
    result["rows"] = table(result)
    print(render(result))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    if interrupted:
        return 130
    return 1 if bench.failures else 0
