"""Plan, apply, drift, edits and destroy against the real engine (issue: the core loop)."""

from __future__ import annotations

import subprocess
import urllib.request

import pytest

from tests.conftest import BUSYBOX, POSTGRES, REDIS, SLEEPER
from tests.integration.helpers import Stack, actions, changed_paths, converged

pytestmark = pytest.mark.docker

STACK_BODY = f"""\
variables:
  greeting: hello
secrets:
  db_password: {{env: TEST_DB_PASSWORD}}
networks:
  backend: {{}}
volumes:
  db-data: {{}}
  cache-data: {{}}
containers:
  db:
    image: {POSTGRES}
    env:
      POSTGRES_PASSWORD: ${{secrets.db_password}}
    volumes: ["db-data:/var/lib/postgresql/data"]
    networks: [backend]
    healthcheck: {{test: ["CMD", "pg_isready", "-U", "postgres"], interval: 500ms, retries: 60}}
  cache:
    image: {REDIS}
    volumes: ["cache-data:/data"]
    networks: [backend]
    healthcheck: {{test: ["CMD", "redis-cli", "ping"], interval: 500ms, retries: 60}}
  app:
    image: {BUSYBOX}
    command: {SLEEPER}
    env:
      GREETING: ${{variables.greeting}}
      DB_HOST: ${{containers.db.name}}
    networks: [backend]
    depends_on: [db, cache]
    restart: unless-stopped
    files:
      /etc/app/app.conf: {{content: "greeting=${{variables.greeting}}\\n", mode: "0640"}}
"""


def docker_cli(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def app_stack(tmp_path, stack) -> Stack:
    return Stack(tmp_path, stack, {"TEST_DB_PASSWORD": "pw-0ne"}).write(STACK_BODY)


def test_apply_from_nothing_then_no_changes(app_stack: Stack) -> None:
    plan = app_stack.plan()
    assert actions(plan) == {
        "networks.backend": "+", "volumes.db-data": "+", "volumes.cache-data": "+",
        "containers.db": "+", "containers.cache": "+", "containers.app": "+",
    }
    app_stack.apply()
    finished = [str(e.address) for e in app_stack.events if e.phase == "done"]
    started = [str(e.address) for e in app_stack.events if e.phase == "start"]
    # app starts only after db and cache are created and healthy
    assert started.index("containers.app") > finished.index("containers.db")
    assert started.index("containers.app") > finished.index("containers.cache")
    assert docker_cli("inspect", "-f", "{{.State.Health.Status}}", f"{app_stack.name}-db") == "healthy"
    assert docker_cli("exec", f"{app_stack.name}-app", "cat", "/etc/app/app.conf") == "greeting=hello"
    assert docker_cli("exec", f"{app_stack.name}-app", "stat", "-c", "%a", "/etc/app/app.conf") == "640"
    # the key is the DNS alias on the network
    docker_cli("exec", f"{app_stack.name}-app", "ping", "-c", "1", "-W", "2", "db")
    again = app_stack.plan()
    assert again.changes == [] and again.kept == [] and converged(again)


def test_drift_is_planned_and_repaired(app_stack: Stack) -> None:
    app_stack.apply()
    name = app_stack.name
    docker_cli("stop", f"{name}-app")
    assert actions(app_stack.plan()) == {"containers.app": "~"}
    assert changed_paths(app_stack.plan(), "containers.app") == ["running"]
    app_stack.apply()
    docker_cli("rm", "-f", f"{name}-cache")
    assert actions(app_stack.plan()) == {"containers.cache": "+"}
    app_stack.apply()
    assert converged(app_stack.plan())


def test_hand_recreated_container_with_other_env_is_replaced(app_stack: Stack) -> None:
    app_stack.apply()
    name = f"{app_stack.name}-app"
    labels = [f"--label={k}={v}" for k, v in _labels(name).items()]
    docker_cli("rm", "-f", name)
    docker_cli("run", "-d", "--name", name, "-e", "GREETING=bonjour", "-e", f"DB_HOST={app_stack.name}-db",
               "--network", f"{app_stack.name}-backend", "--network-alias", "app", "--restart", "unless-stopped",
               *labels, BUSYBOX, "sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait")
    plan = app_stack.plan()
    assert actions(plan) == {"containers.app": "-/+"}
    assert changed_paths(plan, "containers.app") == ["env.GREETING"]
    app_stack.apply()
    assert converged(app_stack.plan())
    assert "GREETING=hello" in docker_cli("inspect", "-f", "{{.Config.Env}}", name)


def _labels(container: str) -> dict[str, str]:
    import json

    return json.loads(docker_cli("inspect", "-f", "{{json .Config.Labels}}", container))


def test_edits_plan_exactly_the_expected_change(app_stack: Stack) -> None:
    app_stack.apply()
    app_stack.write(STACK_BODY.replace("greeting: hello", "greeting: howdy"))
    plan = app_stack.plan()
    assert actions(plan) == {"containers.app": "-/+"}
    assert changed_paths(plan, "containers.app") == ["env.GREETING", "files./etc/app/app.conf"]
    app_stack.apply()
    assert converged(app_stack.plan())
    # a removed container is deleted and nothing else changes
    body = STACK_BODY.replace("greeting: hello", "greeting: howdy")
    app_stack.write(body.replace("    depends_on: [db, cache]", "    depends_on: [db]").split("  cache:\n")[0]
                    + "  app:" + body.replace("    depends_on: [db, cache]", "    depends_on: [db]").split("  app:")[1])
    plan = app_stack.plan()
    assert actions(plan) == {"containers.cache": "-"}
    assert plan.kept == []  # volumes.cache-data is still declared, just unused
    app_stack.apply()
    assert converged(app_stack.plan())


def test_secret_rotation_replaces_the_container_and_is_masked(app_stack: Stack) -> None:
    app_stack.apply()
    app_stack.environ["TEST_DB_PASSWORD"] = "pw-tw0"
    plan = app_stack.plan()
    assert actions(plan) == {"containers.db": "-/+"}
    change = plan.changes[0]
    assert [(a.path, a.before, a.after, a.sensitive) for a in change.attributes] == [
        ("env.POSTGRES_PASSWORD", "(sensitive)", "(sensitive)", True)]


def test_image_tag_moved_to_another_image_forces_replacement(tmp_path, stack, engine) -> None:
    tag = f"quayform-test/moving:{stack}"
    docker_cli("tag", BUSYBOX, tag)
    try:
        spec = Stack(tmp_path, stack).write(f"""\
containers:
  one:
    image: {tag}
    command: {SLEEPER}
""")
        spec.apply()
        assert converged(spec.plan())
        build = tmp_path / "build"
        build.mkdir()
        (build / "Dockerfile").write_text(f"FROM {BUSYBOX}\nLABEL rebuilt=yes\n")
        subprocess.run(["docker", "build", "-q", "-t", tag, str(build)], check=True, capture_output=True,
                       env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"})
        plan = spec.plan()
        assert actions(plan) == {"containers.one": "-/+"}
        assert "image_id" in changed_paths(plan, "containers.one")
        spec.apply()
        assert converged(spec.plan())
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_published_port_serves_and_replace_keeps_anonymous_volume(tmp_path, stack) -> None:
    spec = Stack(tmp_path, stack)
    body = f"""\
containers:
  web:
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["127.0.0.1::8080"]
    volumes: ["/www"]
    stop_signal: KILL
    env: {{VERSION: "1"}}
"""
    spec.write(body).apply()
    container = f"{stack}-web"
    docker_cli("exec", container, "sh", "-c", "echo kept > /www/index.html")
    port = docker_cli("port", container, "8080/tcp").split(":")[-1]
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5).read() == b"kept\n"
    spec.write(body.replace('VERSION: "1"', 'VERSION: "2"'))
    assert actions(spec.plan()) == {"containers.web": "-/+"}
    spec.apply()
    assert docker_cli("exec", container, "cat", "/www/index.html") == "kept"
    assert converged(spec.plan())


def test_destroy_keeps_named_volumes_unless_asked(app_stack: Stack, engine) -> None:
    app_stack.apply()
    db = f"{app_stack.name}-db"
    docker_cli("exec", "-u", "postgres", db, "psql", "-c", "create table marker (x int); insert into marker values (42);")
    plan = app_stack.destroy()
    assert sorted(str(k.address) for k in plan.kept) == ["volumes.cache-data", "volumes.db-data"]
    label = f"io.quayform.stack={app_stack.name}"
    assert engine.containers(all=True, filters={"label": label}) == []
    assert engine.networks(filters={"label": label}) == []
    assert len(engine.volumes(filters={"label": label})["Volumes"]) == 2
    app_stack.apply()  # the data survived
    out = docker_cli("exec", "-u", "postgres", db, "psql", "-tAc", "select x from marker")
    assert out == "42"
    app_stack.destroy(remove_volumes=True)
    assert not (engine.volumes(filters={"label": label}) or {}).get("Volumes")
