"""The whole registry-local flow with known secret values: they appear in no output and no label."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.acceptance.test_cli import quayform
from tests.integration.test_registry_local import EXAMPLE
from tests.ports import free_port

pytestmark = pytest.mark.docker

KNOWN = {
    "pg_admin_password": "Known-admin-Secret-1",
    "quay_db_password": "Known-quay-Secret-2",
    "clair_db_password": "Known-clair-Secret-3",
    "registry_http_secret": "Known-http-Secret-4",
    "database_secret_key": "Known-dbkey-Secret-5",
}


def test_known_secrets_never_show(tmp_path: Path, stack: str, engine) -> None:
    folder = tmp_path / "registry-local"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("secrets"))
    spec = folder / "quayform.yaml"
    spec.write_text(spec.read_text().replace("stack: registry-local", f"stack: {stack}"))
    (folder / "secrets").mkdir()
    for name, value in KNOWN.items():
        (folder / "secrets" / name).write_text(value + "\n")
    env = {"QUAYFORM_VAR_registry_port": str(free_port())}
    runs = [
        quayform("validate", cwd=folder, env=env),
        quayform("plan", cwd=folder, env=env),
        quayform("plan", "--json", cwd=folder, env=env),
        quayform("apply", "--auto-approve", cwd=folder, env=env),
        quayform("plan", "--detailed-exitcode", cwd=folder, env=env),
    ]
    (folder / "secrets" / "clair_db_password").write_text("Known-clair-Rotated-6\n")
    runs += [quayform("plan", cwd=folder, env=env), quayform("apply", "--auto-approve", cwd=folder, env=env)]
    label = f"io.quayform.stack={stack}"
    labels = [engine.inspect_container(c["Id"])["Config"]["Labels"]
              for c in engine.containers(all=True, filters={"label": label})]
    labels += [n.get("Labels") for n in engine.networks(filters={"label": label})]
    labels += [v.get("Labels") for v in (engine.volumes(filters={"label": label}) or {}).get("Volumes") or []]
    runs.append(quayform("destroy", "--auto-approve", "--volumes", "--databases", cwd=folder, env=env))
    assert [r.returncode for r in runs] == [0, 0, 0, 0, 0, 0, 0, 0], [r.stderr for r in runs]
    destroyed = runs[-1].stdout
    for address in ("databases.quay", "databases.clair", "users.quayuser", "users.clair"):
        assert f"# {address} will be destroyed" in destroyed and f"{address}: Destruction complete" in destroyed
    assert "Destroy complete!" in destroyed
    everything = "".join(r.stdout + r.stderr for r in runs) + json.dumps(labels)
    written = [p for p in folder.rglob("*") if p.is_file() and p.parent.name != "secrets"]
    everything += "".join(p.read_text(errors="replace") for p in written if p.suffix not in (".yml", ".yaml"))
    for value in [*KNOWN.values(), "Known-clair-Rotated-6"]:
        assert value not in everything
    assert "(sensitive)" in runs[1].stdout
