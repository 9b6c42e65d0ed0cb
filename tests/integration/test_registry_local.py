"""End to end on examples/registry-local: PostgreSQL users, Redis, a real registry, rotation, destroy and back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ports import free_port
from tests.conftest import BUSYBOX
from tests.integration.helpers import Stack, actions, changed_paths, converged
from tests.integration.test_postgres import psql

pytestmark = pytest.mark.docker

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "registry-local"


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


@pytest.fixture
def quay(tmp_path: Path, stack: str):
    folder = tmp_path / "registry-local"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("secrets"))
    spec = folder / "quayform.yaml"
    spec.write_text(spec.read_text().replace("stack: registry-local", f"stack: {stack}"))
    port = free_port()
    s = Stack(folder, stack, {"QUAYFORM_VAR_registry_port": str(port)})
    s.port = port  # type: ignore[attr-defined]
    tags: list[str] = []
    s.tags = tags  # type: ignore[attr-defined]
    yield s
    for tag in tags:
        docker("rmi", "-f", tag, check=False)


def secret(stack: Stack, name: str) -> str:
    return (stack.folder / "secrets" / name).read_text().strip()


def push_and_pull(stack, repository: str) -> str:
    tag = f"127.0.0.1:{stack.port}/{repository}:1"
    stack.tags.append(tag)
    docker("tag", BUSYBOX, tag)
    docker("push", tag)
    docker("rmi", tag)
    docker("pull", tag)
    return docker("image", "inspect", "-f", "{{.Id}}", tag).stdout.strip()


def test_registry_local_end_to_end(quay: Stack) -> None:
    first = quay.plan()
    assert len(first.changes) == 11 and first.summary()["add"] == 11
    quay.apply()
    assert converged(quay.plan())
    pgsql = f"{quay.name}-pgsql"

    # every user logs in to its own database over TCP with its generated password
    assert psql(pgsql, "select current_user", "quayuser", secret(quay, "quay_db_password"), "quay").stdout.strip() == "quayuser"
    assert psql(pgsql, "select current_user", "clair", secret(quay, "clair_db_password"), "clair").stdout.strip() == "clair"
    assert "pg_trgm" in psql(pgsql, "select extname from pg_extension", db="quay").stdout.split()
    assert "uuid-ossp" in psql(pgsql, "select extname from pg_extension", db="clair").stdout.split()
    assert docker("exec", f"{quay.name}-redis", "redis-cli", "ping").stdout.strip() == "PONG"

    # a push through the published port and a pull back
    image_id = push_and_pull(quay, "e2e/busybox")
    assert image_id == docker("image", "inspect", "-f", "{{.Id}}", BUSYBOX).stdout.strip()
    psql(pgsql, "create table rows (x int); insert into rows values (1), (2);", "quayuser",
         secret(quay, "quay_db_password"), "quay")

    # rotating the Quay database password: the role is updated in place, and exactly the
    # container whose config file uses it is replaced
    (quay.folder / "secrets" / "quay_db_password").write_text("rotated-quay-password\n")
    plan = quay.plan()
    assert actions(plan) == {"users.quayuser": "~", "containers.registry": "-/+"}
    assert changed_paths(plan, "containers.registry") == ["files./conf/stack/config.yaml"]
    quay.apply()
    assert psql(pgsql, "select count(*) from rows", "quayuser", "rotated-quay-password", "quay").stdout.strip() == "2"
    config = docker("exec", f"{quay.name}-registry", "cat", "/conf/stack/config.yaml").stdout
    assert "postgresql://quayuser:rotated-quay-password@pgsql:5432/quay" in config
    assert converged(quay.plan())

    # destroy keeps the data volumes and the databases; apply brings everything back
    destroyed = quay.destroy()
    kept = {str(k.address) for k in destroyed.kept}
    assert {"volumes.pgsql-data", "volumes.registry-storage", "databases.quay", "databases.clair"} <= kept
    assert docker("ps", "-aq", "--filter", f"label=io.quayform.stack={quay.name}").stdout.strip() == ""
    quay.apply()
    assert converged(quay.plan())
    tag = f"127.0.0.1:{quay.port}/e2e/busybox:1"
    docker("rmi", tag)
    docker("pull", tag)  # the pushed image survived in the registry volume
    assert psql(pgsql, "select count(*) from rows", "quayuser", "rotated-quay-password", "quay").stdout.strip() == "2"
