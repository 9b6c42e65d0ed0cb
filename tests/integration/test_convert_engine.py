"""`quayform convert` against the real thing: one compose file brought up by docker compose and, once
converted, by quayform; the engine must then show the same containers (image, command, env, ports,
mounts, network aliases, restart policy, healthcheck) under either tool's names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from tests.conftest import BUSYBOX, REDIS

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("cache", "web", "worker")
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


@pytest.fixture
def project(tmp_path: Path, stack: str, engine: docker.APIClient):
    """The compose file and its site in tmp_path; the compose project is torn down afterwards, pass or fail."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hello\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE.replace("@STACK@", stack))
    binary = compose_binary()
    name = f"qfc-{uuid.uuid4().hex[:10]}"
    yield tmp_path, binary, name
    subprocess.run([binary, "-p", name, "-f", "compose.yaml", "down", "-v", "--remove-orphans", "-t", "1"],
                   cwd=tmp_path, capture_output=True, timeout=120)


def view(engine: docker.APIClient, container: dict, prefix: str) -> dict:
    """What the engine says of a container, with each tool's naming (`<prefix>` on volumes and networks,
    the container's own name and id among its aliases) taken out."""
    info = engine.inspect_container(container["Id"])
    config, host = info["Config"], info["HostConfig"]
    name = info["Name"].lstrip("/")

    def short(resource: str) -> str:
        return resource[len(prefix):] if resource.startswith(prefix) else resource

    mounts = sorted((m["Type"], m["Destination"], m["RW"],
                     "(anonymous)" if re.fullmatch(r"[0-9a-f]{64}", m.get("Name") or "") else
                     short(m["Name"]) if m["Type"] == "volume" else m["Source"]) for m in info["Mounts"])
    networks = {short(net): sorted(set(settings.get("Aliases") or []) - {name, info["Id"][:12]})
                for net, settings in info["NetworkSettings"]["Networks"].items()}
    health = {k: v for k, v in (config.get("Healthcheck") or {}).items() if v}
    return {
        "image": config["Image"], "command": config["Cmd"], "entrypoint": config["Entrypoint"],
        "env": sorted(config["Env"] or []), "user": config["User"], "working_dir": config["WorkingDir"],
        "stop_signal": config.get("StopSignal"),
        "ports": {port: sorted((b["HostIp"], b["HostPort"]) for b in bindings or [])
                  for port, bindings in (host["PortBindings"] or {}).items()},
        "mounts": mounts, "networks": networks, "healthcheck": health,
        "restart": (host["RestartPolicy"]["Name"], host["RestartPolicy"]["MaximumRetryCount"]),
        "running": info["State"]["Running"],
    }


def test_a_converted_compose_file_runs_as_compose_runs_it(project, stack: str, engine: docker.APIClient) -> None:
    folder, binary, name = project
    quayform = [sys.executable, "-m", "quayform"]
    converted = run([*quayform, "convert", "compose.yaml"], folder)
    assert converted.stderr == ""  # everything in this file is carried
    run([*quayform, "apply", "--auto-approve"], folder)
    run([binary, "-p", name, "-f", "compose.yaml", "up", "-d", "--wait", "--quiet-pull"], folder)

    for service in SERVICES:
        (ours,) = engine.containers(all=True, filters={"label": [f"io.quayform.stack={stack}",
                                                                 f"io.quayform.address=containers.{service}"]})
        (theirs,) = engine.containers(all=True, filters={"label": [f"com.docker.compose.project={name}",
                                                                   f"com.docker.compose.service={service}"]})
        assert view(engine, ours, f"{stack}-") == view(engine, theirs, f"{name}_"), service

    web = view(engine, engine.containers(filters={"label": f"io.quayform.address=containers.web",
                                                  "name": f"{stack}-web"})[0], f"{stack}-")
    assert "PRICE=$5" in web["env"] and "GREETING=hello" in web["env"]  # compose's $$ and default, carried
    assert web["networks"] == {"backend": ["web"], "front": ["web"]}
    assert web["mounts"][0] == ("bind", "/www", False, str(folder / "www"))

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

