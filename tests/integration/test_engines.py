"""One spec across two real engines (issue 14): the first engine and a second dockerd started by the
`engine2` fixture (scripts/second-engine). Split stacks apply, converge, repair drift on either engine
and destroy on both; moves replace; locks on overlapping engines exclude each other without deadlock;
an unreachable engine fails the plan before anything changes anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import pytest

from quayform.errors import EngineError
from quayform.lock import lock_name
from quayform.pipeline import Options, locked
from tests.conftest import BUSYBOX, ENGINE2_HOST, POSTGRES, SLEEPER, remove_stack
from tests.integration.helpers import Stack, actions, changed_paths, converged

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
MISSING_HOST = "unix:///run/quayform-no-such-engine.sock"


@pytest.fixture
def split(engine: docker.APIClient, engine2: docker.APIClient, tmp_path: Path, stack: str):
    """A stack name whose objects are removed from both engines afterwards, pass or fail."""
    yield Stack(tmp_path, stack)
    remove_stack(engine2, stack)
    for api in (engine, engine2):
        try:
            api.remove_container(lock_name(stack), force=True)
        except docker.errors.NotFound:
            pass


def body(b_engine: str = "b") -> str:
    return f"""\
engines:
  b: {{host: "{ENGINE2_HOST}"}}
networks:
  front: {{}}
  back: {{engine: {b_engine}}}
volumes:
  data: {{engine: {b_engine}}}
containers:
  db:
    engine: {b_engine}
    image: {BUSYBOX}
    command: {SLEEPER}
    networks: [back]
    volumes: ["data:/data"]
    files:
      /etc/db.conf: {{content: "on engine {b_engine}\\n"}}
  web:
    image: {BUSYBOX}
    command: {SLEEPER}
    networks: [front]
    depends_on: [db]
"""


def names(api: docker.APIClient, stack: str) -> dict[str, list[str]]:
    label = {"label": f"io.quayform.stack={stack}"}
    return {"containers": sorted(c["Names"][0].lstrip("/") for c in api.containers(all=True, filters=label)),
            "networks": sorted(n["Name"] for n in api.networks(filters=label)),
            "volumes": sorted(v["Name"] for v in (api.volumes(filters=label) or {}).get("Volumes") or [])}


def test_a_split_stack_applies_converges_repairs_drift_on_either_engine_and_destroys_on_both(
        split: Stack, engine: docker.APIClient, engine2: docker.APIClient) -> None:
    s = split.write(body())
    first = s.apply()
    assert actions(first) == {"networks.front": "+", "networks.back": "+", "volumes.data": "+",
                              "containers.db": "+", "containers.web": "+"}
    assert {c.address.key: c.target.engine_name for c in first.changes} == {
        "front": "default", "back": "b", "data": "b", "db": "b", "web": "default"}
    assert names(engine2, s.name) == {"containers": [f"{s.name}-db"], "networks": [f"{s.name}-back"],
                                      "volumes": [f"{s.name}-data"]}
    assert names(engine, s.name) == {"containers": [f"{s.name}-web"], "networks": [f"{s.name}-front"],
                                     "volumes": []}
    assert converged(s.plan())

    engine2.stop(f"{s.name}-db", timeout=1)  # drift on the second engine
    engine.remove_container(f"{s.name}-web", force=True)  # and on the first
    drifted = s.plan()
    assert actions(drifted) == {"containers.db": "~", "containers.web": "+"}
    assert changed_paths(drifted, "containers.db") == ["running"]
    s.apply()
    assert converged(s.plan())
    assert engine2.inspect_container(f"{s.name}-db")["State"]["Running"]

    s.destroy(remove_volumes=True)
    assert names(engine, s.name) == names(engine2, s.name) == {"containers": [], "networks": [], "volumes": []}


def test_moving_a_container_to_another_engine_replaces_it_there(split: Stack, engine: docker.APIClient,
                                                                engine2: docker.APIClient) -> None:
    s = split.write(f"""\
engines:
  b: {{host: "{ENGINE2_HOST}"}}
containers:
  app: {{image: {BUSYBOX}, command: {SLEEPER}, engine: b}}
""")
    s.apply()
    s.write(f"""\
engines:
  b: {{host: "{ENGINE2_HOST}"}}
containers:
  app: {{image: {BUSYBOX}, command: {SLEEPER}}}
""")
    moved = s.plan()
    # the default network goes with it: each engine has its own (Docker DNS stays on one engine)
    assert actions(moved) == {"containers.app": "-/+", "networks.default": "+", "networks.default-b": "-"}
    app = next(c for c in moved.changes if str(c.address) == "containers.app")
    assert ("engine", "b", "default", True) in [(a.path, a.before, a.after, a.forces_replace) for a in app.attributes]
    s.apply()
    assert names(engine2, s.name)["containers"] == []
    assert names(engine, s.name)["containers"] == [f"{s.name}-app"]
    assert converged(s.plan())


def test_an_unreachable_engine_fails_the_plan_and_the_apply_before_anything_changes(
        split: Stack, engine: docker.APIClient, engine2: docker.APIClient) -> None:
    s = split.write(body().replace("engines:\n", f"engines:\n  far: {{host: \"{MISSING_HOST}\"}}\n") + f"""\
  far:
    engine: far
    image: {BUSYBOX}
    command: {SLEEPER}
""")
    with pytest.raises(EngineError, match=f"cannot reach the Docker engine at {MISSING_HOST} \\(engine far\\)"):
        s.plan()
    result = subprocess.run([sys.executable, "-m", "quayform", "-f", str(s.path), "apply", "--auto-approve"],
                            capture_output=True, text=True, cwd=s.folder, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            timeout=120)
    assert result.returncode != 0
    assert "engine far" in result.stderr and MISSING_HOST in result.stderr, result.stderr
    empty = {"containers": [], "networks": [], "volumes": []}
    assert names(engine, s.name) == names(engine2, s.name) == empty
    for api in (engine, engine2):  # the locks taken before the unreachable one were released
        with pytest.raises(docker.errors.NotFound):
            api.inspect_container(lock_name(s.name))


def _cli(stack: Stack, *args: str, spec: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "quayform", "-f", str(spec or stack.path), *args],
                          capture_output=True, text=True, cwd=stack.folder,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=240)


def _overlapping(split: Stack) -> tuple[Path, Path]:
    """Two specs of one stack on the same two engines, whose engine names sort in opposite orders: taking
    locks by name would make each operator hold one engine while waiting for the other."""
    first = split.folder / "one.yaml"
    other = split.folder / "other.yaml"
    # on Docker's bridge: the two specs name the engines differently, so their default networks would be
    # named differently too (default-a, default-b) and the specs would fight over them; this is about locks
    container = f"image: {BUSYBOX}, command: {SLEEPER}, network_mode: bridge"
    first.write_text(f"""version: 1
stack: {split.name}
engines:
  a: {{host: "unix:///var/run/docker.sock"}}
  b: {{host: "{ENGINE2_HOST}"}}
containers:
  x: {{{container}, engine: a}}
  y: {{{container}, engine: b}}
""")
    other.write_text(f"""version: 1
stack: {split.name}
engines:
  a: {{host: "{ENGINE2_HOST}"}}
  b: {{host: "unix:///var/run/docker.sock"}}
containers:
  x: {{{container}, engine: b}}
  y: {{{container}, engine: a}}
""")
    return first, other


def test_a_held_lock_on_one_engine_stops_an_apply_on_overlapping_engines_and_releases_what_it_took(
        split: Stack, engine: docker.APIClient, engine2: docker.APIClient) -> None:
    first, other = _overlapping(split)
    with locked(Options(spec_path=str(first)), "apply", lambda message: None):
        assert engine.inspect_container(lock_name(split.name)) and engine2.inspect_container(lock_name(split.name))
        result = _cli(split, "apply", "--auto-approve", spec=other)
        assert result.returncode != 0 and "is locked by" in result.stderr, result.stderr
    # the first operator's locks are gone with its command, and the second one left none behind
    for api in (engine, engine2):
        with pytest.raises(docker.errors.NotFound):
            api.inspect_container(lock_name(split.name))
    assert names(engine, split.name)["containers"] == names(engine2, split.name)["containers"] == []


def test_two_applies_on_overlapping_engines_queue_and_never_deadlock(split: Stack, engine: docker.APIClient,
                                                                     engine2: docker.APIClient) -> None:
    first, other = _overlapping(split)
    assert _cli(split, "apply", "--auto-approve", spec=first).returncode == 0
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(_cli, split, "apply", "--auto-approve", "--lock-timeout", "90s", "--replace",
                            "containers.x", "--replace", "containers.y", spec=spec) for spec in (first, other)]
        results = [r.result() for r in runs]
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert all("2 replaced" in r.stdout for r in results), [r.stdout for r in results]
    assert names(engine, split.name)["containers"] == [f"{split.name}-x"]
    assert names(engine2, split.name)["containers"] == [f"{split.name}-y"]
    for api in (engine, engine2):
        with pytest.raises(docker.errors.NotFound):
            api.inspect_container(lock_name(split.name))


def test_a_container_reaches_one_on_the_other_engine_through_its_host_and_published_port(
        split: Stack, engine: docker.APIClient, engine2: docker.APIClient) -> None:
    """Docker DNS stops at an engine; ${containers.web.host}:${containers.web.port} does not. The second
    engine's bridge address (a host address) stands in for the first engine's host as seen from there."""
    from tests.ports import free_port

    port = free_port()
    s = split.write(f"""\
engines:
  default: {{host: "unix:///var/run/docker.sock", address: "10.212.0.1"}}
  b: {{host: "{ENGINE2_HOST}"}}
containers:
  web:
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports: ["10.212.0.1:{port}:80"]
    files:
      /www/index.html: {{content: "served on the default engine\\n"}}
  client:
    engine: b
    image: {BUSYBOX}
    command: {SLEEPER}
    env: {{WEB: "${{containers.web.host}}:${{containers.web.port}}"}}
""")
    s.apply()
    assert engine2.inspect_container(f"{s.name}-client")["Config"]["Env"][0] == f"WEB=10.212.0.1:{port}"
    request = 'printf "GET /index.html HTTP/1.0\\r\\n\\r\\n" | nc -w 5 ${WEB%:*} ${WEB#*:}'
    run = engine2.exec_create(f"{s.name}-client", ["sh", "-c", request])
    output = engine2.exec_start(run["Id"]).decode()
    assert output.startswith("HTTP/1.1 200 OK") and output.endswith("\r\n\r\nserved on the default engine\n"), output
    assert engine2.exec_inspect(run["Id"])["ExitCode"] == 0
    assert converged(s.plan())
    s.destroy()


def test_a_postgres_server_on_the_second_engine_holds_its_databases_and_users(
        split: Stack, engine: docker.APIClient, engine2: docker.APIClient) -> None:
    """The server follows its container's engine: quayform reaches it with docker exec there, and a
    container on the first engine gets its address as ${containers.pgsql.host}:${containers.pgsql.port}."""
    from tests.ports import free_port

    port = free_port()
    s = split.write(f"""\
secrets:
  admin: {{env: PG_ADMIN}}
  app_pw: {{env: APP_PW}}
engines:
  b: {{host: "{ENGINE2_HOST}", address: "10.212.0.1"}}
containers:
  pgsql:
    engine: b
    image: {POSTGRES}
    env: {{POSTGRES_PASSWORD: "${{secrets.admin}}"}}
    ports: ["10.212.0.1:{port}:5432"]
    healthcheck: {{test: ["CMD", "pg_isready", "-U", "postgres"], interval: 500ms, retries: 60}}
  app:
    image: {BUSYBOX}
    command: {SLEEPER}
    env: {{DB: "${{containers.pgsql.host}}:${{containers.pgsql.port}}"}}
    depends_on: [pgsql]
postgres:
  main: {{container: pgsql}}
databases:
  appdb: {{server: main, owner: app}}
users:
  app: {{server: main, password: "${{secrets.app_pw}}"}}
""")
    s.environ.update({"PG_ADMIN": "admin-pw-1", "APP_PW": "app-pw-1"})
    first = s.apply()
    assert {str(c.address): c.target.engine_name for c in first.changes} == {
        "containers.pgsql": "b", "containers.app": "default", "users.app": "b", "databases.appdb": "b",
        "networks.default-b": "b", "networks.default": "default"}  # each engine's own default network
    assert converged(s.plan())
    run = engine2.exec_create(f"{s.name}-pgsql", ["psql", "-U", "postgres", "-tAc",
                                                  "SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database "
                                                  "WHERE datname = 'appdb'"], user="postgres")
    assert engine2.exec_start(run["Id"]).decode().strip() == "appdb:app"
    assert f"DB=10.212.0.1:{port}" in engine.inspect_container(f"{s.name}-app")["Config"]["Env"]
    s.environ["APP_PW"] = "app-pw-2"  # a password change is found on the server on engine b
    assert actions(s.plan()) == {"users.app": "~"}
    s.apply()
    assert converged(s.plan())
    s.destroy(remove_volumes=True)
    assert names(engine2, s.name)["containers"] == []
