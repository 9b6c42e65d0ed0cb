"""`quayform convert` against the real thing: each case, a compose file shaped like a real project's,
is brought up by docker compose and, once converted, by quayform; the engine must then show the same
containers (view(): image, command, env, ports, mounts, networks and aliases, restart policy,
healthcheck, capabilities, read-only root, tmpfs, limits, ulimits, logging, extra hosts, hostname,
init, state...) under either tool's names, and each tool's containers must behave alike (names
resolve, depends_on order holds, the one-shot job ran).

The cases: `inline` (COMPOSE below), and the folders under tests/fixtures/compose-engine/: `webapp`
(PostgreSQL, a migration job, the app, on the default network) and `hardened` (Harbor-style:
capabilities, read-only root, limits, a secret and configs, two networks with aliases)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import docker
import pytest
import yaml

from tests.conftest import BUSYBOX, REDIS

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "compose-engine"
TOOL_LABELS = ("com.docker.compose.", "io.quayform.")  # each tool's own bookkeeping labels
COMPOSE = f"""\
name: "@STACK@"
x-restart: &restart
  restart: always
services:
  cache:
    <<: *restart
    image: {REDIS}
    command: ["redis-server", "--appendonly", "yes"]
    environment:
      - REDIS_MODE=test
    volumes:
      - cache-data:/data
    networks:
      backend:
        aliases: [redis, queue]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      timeout: 2s
      retries: 30
  web:
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    environment:
      GREETING: "${{GREETING:-hello}}"
      PRICE: "$$5"
      CACHE_HOST: cache
    ports:
      - "127.0.0.1::8080"
      - target: 8081
        host_ip: 127.0.0.1
        protocol: udp
    volumes:
      - ./www:/www:ro
      - type: volume
        source: web-data
        target: /data
      - /scratch
    networks: [backend, front]
    depends_on:
      cache: {{condition: service_healthy}}
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/ >/dev/null || exit 1"]
      interval: 1s
      retries: 30
    restart: unless-stopped
  worker:
    image: {BUSYBOX}
    command: sh -c 'trap "exit 0" TERM; sleep 3600 & wait'
    user: "1000"
    working_dir: /tmp
    stop_signal: SIGTERM
    restart: on-failure:3
networks:
  backend: {{}}
  front: {{}}
volumes:
  cache-data: {{}}
  web-data: {{}}
"""


def compose_binary() -> str:
    """bench/composepeer.py's docker compose v2 (installed into bench/.compose-<version>/ on first use)."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import composepeer
    finally:
        sys.path.remove(str(REPO / "bench"))
    try:
        return composepeer.resolve(None, lambda message: None).binary
    except composepeer.ComposeUnavailable as exc:
        pytest.fail(f"docker compose is not available: {exc}", pytrace=False)


def run(argv: list[str], cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "QUAYFORM_"))}
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@dataclass(frozen=True)
class Case:
    """One compose file: its folder (under FIXTURES, or COMPOSE for `inline`), its services, and what
    `quayform convert` must print on stderr for it, exactly ("": everything in it is carried)."""

    name: str
    services: tuple[str, ...]
    notes: str = ""


CASES = (
    Case("inline", ("cache", "web", "worker")),
    Case("webapp", ("db", "migrate", "app")),
    Case("hardened", ("redis", "registry", "core", "proxy")),
)


@dataclass(frozen=True)
class Project:
    case: Case
    folder: Path
    binary: str  # docker compose v2
    name: str  # the compose project's name (-p); quayform's stack is the `stack` fixture's


@pytest.fixture(params=CASES, ids=lambda case: case.name)
def project(request, tmp_path: Path, stack: str, engine: docker.APIClient):
    """The case's compose file (named `stack` for quayform) and what it needs, in tmp_path; the compose
    project is torn down afterwards, pass or fail (the `stack` fixture removes quayform's objects)."""
    case: Case = request.param
    folder = tmp_path / case.name
    if case.name == "inline":
        (folder / "www").mkdir(parents=True)
        (folder / "www" / "index.html").write_text("hello\n")
        text = COMPOSE
    else:
        shutil.copytree(FIXTURES / case.name, folder)
        text = (folder / "compose.yaml").read_text()
    assert '"@STACK@"' in text, f"{case.name}: the compose file must be named \"@STACK@\""
    (folder / "compose.yaml").write_text(text.replace("@STACK@", stack))
    binary = compose_binary()
    name = f"qfc-{uuid.uuid4().hex[:10]}"
    yield Project(case, folder, binary, name)
    subprocess.run([binary, "-p", name, "-f", "compose.yaml", "down", "-v", "--remove-orphans", "-t", "1"],
                   cwd=folder, capture_output=True, timeout=120)
    remove_compose_project(engine, name)


def remove_compose_project(engine: docker.APIClient, name: str) -> None:
    """Whatever `compose down` left of the project (it failed, or never ran)."""
    label = f"com.docker.compose.project={name}"
    for container in engine.containers(all=True, filters={"label": label}):
        engine.remove_container(container["Id"], force=True, v=True)
    for network in engine.networks(filters={"label": label}):
        engine.remove_network(network["Id"])
    for volume in (engine.volumes(filters={"label": label}) or {}).get("Volumes") or []:
        engine.remove_volume(volume["Name"], force=True)


def view(engine: docker.APIClient, container: dict, prefix: str, written: frozenset[str] = frozenset()) -> dict:
    """What the engine says of a container, with each tool's naming taken out: `<prefix>` on volumes and
    networks, the container's own name and id among its aliases, its id as its hostname, each tool's
    bookkeeping labels. `written`: the paths quayform writes as files (a service's secrets and configs)
    where compose bind-mounts the host file (docs/compose.md: secrets and configs become `files:`); those
    mounts are left out here, and the files' contents compared instead (files())."""
    info = engine.inspect_container(container["Id"])
    config, host, state = info["Config"], info["HostConfig"], info["State"]
    name, cid = info["Name"].lstrip("/"), info["Id"][:12]

    def short(resource: str) -> str:
        return resource[len(prefix):] if resource.startswith(prefix) else resource

    def caps(names: list[str] | None) -> list[str]:
        # The engine keeps a capability as the client spelled it (compose sends CAP_CHOWN, quayform CHOWN);
        # both are the same capability.
        return sorted(c.upper().removeprefix("CAP_") for c in names or [])

    mounts = sorted((m["Type"], m["Destination"], m["RW"],
                     "(anonymous)" if re.fullmatch(r"[0-9a-f]{64}", m.get("Name") or "") else
                     short(m["Name"]) if m["Type"] == "volume" else m["Source"]) for m in info["Mounts"]
                    if not (m["Type"] == "bind" and m["Destination"] in written))
    networks = {short(net): sorted(set(settings.get("Aliases") or []) - {name, cid})
                for net, settings in info["NetworkSettings"]["Networks"].items()}
    health = {k: v for k, v in (config.get("Healthcheck") or {}).items() if v}
    restart = host["RestartPolicy"]
    log = host.get("LogConfig") or {}
    return {
        "image": config["Image"], "command": config["Cmd"], "entrypoint": config["Entrypoint"],
        "env": sorted(config["Env"] or []), "user": config["User"], "working_dir": config["WorkingDir"],
        "stop_signal": config.get("StopSignal"), "stop_timeout": config.get("StopTimeout"),
        "labels": {k: v for k, v in (config.get("Labels") or {}).items() if not k.startswith(TOOL_LABELS)},
        "hostname": "(its id)" if config["Hostname"] == cid else config["Hostname"],
        "domainname": config.get("Domainname"), "tty": config.get("Tty"), "stdin_open": config.get("OpenStdin"),
        "exposed": sorted(config.get("ExposedPorts") or {}),
        "ports": {port: sorted((b["HostIp"], b["HostPort"]) for b in bindings or [])
                  for port, bindings in (host["PortBindings"] or {}).items()},
        "mounts": mounts, "networks": networks, "primary_network": short(host["NetworkMode"]),
        "healthcheck": health,
        # The engine reads an empty restart policy name as "no" (compose sends "no", quayform "").
        "restart": (restart["Name"] or "no", restart["MaximumRetryCount"]),
        "privileged": host["Privileged"], "cap_add": caps(host.get("CapAdd")), "cap_drop": caps(host.get("CapDrop")),
        "security_opt": sorted(host.get("SecurityOpt") or []), "read_only": host["ReadonlyRootfs"],
        "tmpfs": host.get("Tmpfs") or {}, "init": host.get("Init"),
        "memory": host["Memory"], "memory_swap": host["MemorySwap"], "memory_reservation": host["MemoryReservation"],
        "nano_cpus": host["NanoCpus"], "cpu_shares": host["CpuShares"], "cpuset": host.get("CpusetCpus"),
        "pids_limit": host.get("PidsLimit"), "shm_size": host.get("ShmSize"), "oom_score_adj": host.get("OomScoreAdj"),
        "ulimits": sorted((u["Name"], u["Soft"], u["Hard"]) for u in host.get("Ulimits") or []),
        "logging": (log.get("Type"), log.get("Config") or {}),
        # An engine given no extra hosts shows null (quayform) or [] (compose): both are none.
        "extra_hosts": sorted(host.get("ExtraHosts") or []),
        "dns": host.get("Dns") or [], "dns_search": host.get("DnsSearch") or [],
        "dns_options": host.get("DnsOptions") or [], "group_add": sorted(host.get("GroupAdd") or []),
        "sysctls": host.get("Sysctls") or {}, "devices": host.get("Devices") or [],
        "ipc_mode": host.get("IpcMode"), "pid_mode": host.get("PidMode"),
        "state": (state["Status"], state["ExitCode"], (state.get("Health") or {}).get("Status")),
    }


def files(engine: docker.APIClient, container: dict, paths: frozenset[str]) -> dict[str, bytes]:
    """The contents of files in a container (running or not), read through the engine. Their modes are
    not compared: compose's bind mount shows the host file's, quayform writes 0444 (docs/compose.md)."""
    out = {}
    for path in sorted(paths):
        stream, _ = engine.get_archive(container["Id"], path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            out[path] = tar.extractfile(member).read()
    return out


def exec_in(engine: docker.APIClient, container: dict, argv: list[str]) -> tuple[int, str]:
    """`docker exec` in a container: its exit code and output."""
    started = engine.exec_create(container["Id"], argv)
    output = engine.exec_start(started["Id"]).decode(errors="replace")
    return engine.exec_inspect(started["Id"])["ExitCode"], output


def when(timestamp: str) -> datetime:
    """The engine's RFC 3339 time (nanoseconds, trailing zeros dropped) as a datetime."""
    whole, _, fraction = timestamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}")


def published(engine: docker.APIClient, container: dict, port: str) -> str:
    (binding,) = engine.inspect_container(container["Id"])["NetworkSettings"]["Ports"][port]
    assert binding["HostIp"] == "127.0.0.1", binding
    return f"http://127.0.0.1:{binding['HostPort']}/"


# -- what each case's containers must do, under either tool ------------------------------------------

def check_inline(engine: docker.APIClient, project: Project, tools: dict[str, dict], stack: str) -> None:
    web = view(engine, tools["quayform"]["web"], f"{stack}-")
    assert "PRICE=$5" in web["env"] and "GREETING=hello" in web["env"]  # compose's $$ and default, carried
    assert web["networks"] == {"backend": ["web"], "front": ["web"]}
    assert web["mounts"][0] == ("bind", "/www", False, str(project.folder / "www"))


def check_webapp(engine: docker.APIClient, project: Project, tools: dict[str, dict], stack: str) -> None:
    for tool, containers in tools.items():
        app, db = containers["app"], containers["db"]
        # no top-level networks: every service is on the tool's default network, and finds db by name
        prefix = f"{stack}-" if tool == "quayform" else f"{project.name}_"
        for service, container in containers.items():
            assert view(engine, container, prefix)["networks"] == {"default": [service]}, (tool, service)
        code, out = exec_in(engine, app, ["nslookup", "db"])
        assert code == 0 and "Name:\tdb" in out, (tool, out)
        assert exec_in(engine, app, ["sh", "-c", "nc -w 3 db 5432 </dev/null"])[0] == 0, tool
        # the migration job ran against the database, once, and exited 0
        code, out = exec_in(engine, db, ["psql", "-U", "shop", "-d", "shop", "-tAc",
                                         "SELECT version FROM schema_migrations"])
        assert (code, out.strip()) == (0, "1"), (tool, out)
        states = {k: engine.inspect_container(c["Id"])["State"] for k, c in containers.items()}
        assert (states["migrate"]["Status"], states["migrate"]["ExitCode"]) == ("exited", 0), tool
        # depends_on: migrate after db (healthy), app only once migrate has finished
        assert when(states["migrate"]["StartedAt"]) > when(states["db"]["StartedAt"]), tool
        assert when(states["app"]["StartedAt"]) >= when(states["migrate"]["FinishedAt"]), tool
        with urllib.request.urlopen(published(engine, app, "80/tcp"), timeout=10) as page:
            assert page.read() == (project.folder / "www" / "index.html").read_bytes(), tool
        env = dict(e.partition("=")[::2] for e in engine.inspect_container(app["Id"])["Config"]["Env"])
        assert env["APP_TITLE"] == "Shop #1" and env["DATABASE_HOST"] == "db", tool  # env_file, with compose's syntax


def check_hardened(engine: docker.APIClient, project: Project, tools: dict[str, dict], stack: str) -> None:
    secret = (project.folder / "secrets" / "core_secret.txt").read_text()
    core_config = (project.folder / "config" / "core" / "app.conf").read_text()
    registry_config = (project.folder / "config" / "registry" / "config.yml").read_text()
    for tool, containers in tools.items():
        core, proxy = containers["core"], containers["proxy"]
        assert exec_in(engine, core, ["hostname"]) == (0, "harbor-core\n"), tool
        assert exec_in(engine, core, ["cat", "/run/secrets/core_secret"]) == (0, secret), tool
        assert exec_in(engine, core, ["cat", "/etc/core/app.conf"]) == (0, core_config), tool
        assert exec_in(engine, containers["registry"], ["cat", "/etc/docker/registry/config.yml"]) == \
            (0, registry_config), tool
        assert exec_in(engine, core, ["cat", "/proc/1/comm"]) == (0, "docker-init\n"), tool  # init: true
        assert exec_in(engine, core, ["touch", "/probe"])[0] != 0, tool  # read_only: true
        assert exec_in(engine, core, ["touch", "/tmp/probe"])[0] == 0, tool  # its tmpfs
        # ulimits: what the container's own process has (an exec'd shell's limits come from the engine's shim
        # on some engines, not from the container's ulimits)
        code, limits = exec_in(engine, core, ["cat", "/proc/1/limits"])
        assert code == 0 and next(line.split()[3:5] for line in limits.splitlines()
                                  if line.startswith("Max open files")) == ["1024", "2048"], (tool, limits)
        code, hosts = exec_in(engine, core, ["cat", "/etc/hosts"])
        assert "10.99.0.5\tregistry.example.test" in hosts and "10.99.0.6\tnotary.example.test" in hosts, (tool, hosts)
        # the networks: core reaches redis and the registry on `harbor` by alias and by name; the proxy,
        # on `frontend` only, reaches core by its alias there and cannot resolve redis
        for address in ("harbor-redis 6379", "redis 6379", "harbor-registry 5000"):
            assert exec_in(engine, core, ["sh", "-c", f"nc -w 3 {address} </dev/null"])[0] == 0, (tool, address)
        assert exec_in(engine, proxy, ["sh", "-c", "nc -w 3 core.internal 8080 </dev/null"])[0] == 0, tool
        assert exec_in(engine, proxy, ["nslookup", "harbor-redis"])[0] != 0, tool
        assert exec_in(engine, containers["redis"], ["redis-cli", "ping"]) == (0, "PONG\n"), tool


CHECKS = {"inline": check_inline, "webapp": check_webapp, "hardened": check_hardened}


def test_a_converted_compose_file_runs_as_compose_runs_it(project: Project, stack: str,
                                                          engine: docker.APIClient) -> None:
    folder, binary, name = project.folder, project.binary, project.name
    quayform = [sys.executable, "-m", "quayform"]
    converted = run([*quayform, "convert", "compose.yaml"], folder)
    assert converted.stderr == project.case.notes  # exactly the notes expected (validation warnings included)
    spec = yaml.safe_load((folder / "quayform.yaml").read_text())
    assert spec["stack"] == stack and sorted(spec["containers"]) == sorted(project.case.services)
    run([*quayform, "validate"], folder)
    run([*quayform, "apply", "--auto-approve"], folder)
    run([binary, "-p", name, "-f", "compose.yaml", "up", "-d", "--wait", "--quiet-pull"], folder)

    tools: dict[str, dict] = {"quayform": {}, "compose": {}}
    for service in project.case.services:
        (ours,) = engine.containers(all=True, filters={"label": [f"io.quayform.stack={stack}",
                                                                 f"io.quayform.address=containers.{service}"]})
        (theirs,) = engine.containers(all=True, filters={"label": [f"com.docker.compose.project={name}",
                                                                   f"com.docker.compose.service={service}"]})
        tools["quayform"][service], tools["compose"][service] = ours, theirs
        written = frozenset(spec["containers"][service].get("files") or {})
        assert view(engine, ours, f"{stack}-", written) == view(engine, theirs, f"{name}_", written), service
        assert files(engine, ours, written) == files(engine, theirs, written), service
    CHECKS[project.case.name](engine, project, tools, stack)

    again = subprocess.run([*quayform, "plan", "--detailed-exitcode"], cwd=folder, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr  # a fresh apply plans nothing

    run([*quayform, "destroy", "--auto-approve", "--volumes"], folder)
    run([binary, "-p", name, "-f", "compose.yaml", "down", "-v", "-t", "1"], folder)
    label_sets = (f"io.quayform.stack={stack}", f"com.docker.compose.project={name}")
    for label in label_sets:
        assert engine.containers(all=True, filters={"label": label}) == [], label
        assert engine.networks(filters={"label": label}) == [], label
        assert (engine.volumes(filters={"label": label}) or {}).get("Volumes") in (None, []), label
