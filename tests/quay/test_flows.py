"""Quay's contents in whole runs through the CLI: a robot token feeding a container in the same
apply, planted secrets that must never show, mirrors/quotas/auto-prune/applications, and kill -9
in the middle of an apply."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import docker
import pytest

from tests.acceptance.test_interrupts import wait_for_lines
from tests.conftest import BUSYBOX, SLEEPER
from tests.integration.helpers import actions, changed_paths, converged

pytestmark = pytest.mark.docker


def cli(quay, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    environ = {**os.environ, **quay.environ, **(env or {})}
    environ.pop("NO_COLOR", None)
    result = subprocess.run([sys.executable, "-m", "quayform", *args, "--no-color"], cwd=quay.folder,
                            capture_output=True, text=True, env=environ, timeout=600)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def forms(secret: str) -> list[str]:
    """A secret as it could leak: itself, URL-encoded, base64."""
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode().rstrip("=")]


def assert_absent(secrets: dict[str, str], *texts: str) -> None:
    for name, secret in secrets.items():
        for form in forms(secret):
            for text in texts:
                assert form not in text, f"{name} shows in: {text[max(0, text.find(form) - 200):][:400]}"


def robot_token(quay_instance, org: str, robot: str) -> str:
    status, view = quay_instance.api("GET", f"/organization/{org}/robots/{robot}")
    assert status == 200, view
    return view["token"]


TOKEN_USER = f"""\
organizations:
  org: {{name: ORG}}
robots:
  ci: {{organization: org, description: pushes}}
repositories:
  app: {{organization: org, permissions: {{robots: {{ci: write}}}}}}
containers:
  uses-token:
    image: {BUSYBOX}
    command: {SLEEPER}
    env: {{ROBOT: "${{robots.ci.name}}", TOKEN: "${{robots.ci.token}}"}}
    files:
      /etc/ci/auth: {{content: "${{robots.ci.name}}:${{robots.ci.token}}\\n", mode: "0600"}}
outputs:
  robot: ${{robots.ci.name}}
  robot_token: ${{robots.ci.token}}
"""


def test_a_robot_token_feeds_a_container_in_the_same_apply(quay, quay_instance, engine: docker.APIClient) -> None:
    org = quay.organization
    quay.write(TOKEN_USER.replace("ORG", org))
    plan = cli(quay, "plan").stdout
    assert "(known after apply)" in plan or "(sensitive)" in plan
    applied = cli(quay, "apply", "--auto-approve")
    token = robot_token(quay_instance, org, "ci")
    container = engine.inspect_container(f"{quay.name}-uses-token")
    env = dict(item.split("=", 1) for item in container["Config"]["Env"])
    assert env["ROBOT"] == f"{org}+ci" and env["TOKEN"] == token
    written = subprocess.run(["docker", "exec", container["Id"], "cat", "/etc/ci/auth"], capture_output=True,
                             text=True, check=True).stdout
    assert written == f"{org}+ci:{token}\n"
    assert converged(quay.plan())
    # The token is an output, shown only on request.
    assert cli(quay, "output", "robot_token", "-raw").stdout.strip() == token
    shown = cli(quay, "output").stdout + cli(quay, "output", "--json").stdout
    labels = json.dumps(container["Config"]["Labels"])
    assert_absent({"robot token": token}, applied.stdout, applied.stderr, plan, shown, labels)


def test_a_replaced_robot_gives_its_users_the_new_token(quay, quay_instance, engine: docker.APIClient) -> None:
    org = quay.organization
    quay.write(TOKEN_USER.replace("ORG", org))
    quay.apply()
    old = robot_token(quay_instance, org, "ci")
    quay.write(TOKEN_USER.replace("ORG", org).replace("description: pushes", "description: builds"))
    plan = quay.plan()
    assert actions(plan) == {"robots.ci": "-/+", "repositories.app": "~", "containers.uses-token": "-/+"}
    quay.apply()
    new = robot_token(quay_instance, org, "ci")
    env = dict(item.split("=", 1) for item in engine.inspect_container(f"{quay.name}-uses-token")["Config"]["Env"])
    assert new != old and env["TOKEN"] == new
    assert converged(quay.plan())


def test_a_token_regenerated_in_quay_is_drift_of_its_users(quay, quay_instance, engine: docker.APIClient) -> None:
    org = quay.organization
    quay.write(TOKEN_USER.replace("ORG", org))
    quay.apply()
    status, _ = quay_instance.api("POST", f"/organization/{org}/robots/ci/regenerate")
    assert status == 200
    plan = quay.plan()
    assert actions(plan) == {"containers.uses-token": "-/+"}
    quay.apply()
    env = dict(item.split("=", 1) for item in engine.inspect_container(f"{quay.name}-uses-token")["Config"]["Env"])
    assert env["TOKEN"] == robot_token(quay_instance, org, "ci")
    assert converged(quay.plan())


SECRETS = """\
hook_token: {env: QF_HOOK_TOKEN}
mirror_password: {env: QF_MIRROR_PASSWORD}
"""

EVERYTHING = """\
organizations:
  org:
    name: ORG
    email: ORG@example.com
    tag_expiration: 2w
    quota: {limit: 5 GiB, limits: [{type: warning, percent: 80}, {type: reject, percent: 95}]}
    auto_prune: [{method: number_of_tags, value: 20}]
robots:
  ci: {organization: org, description: pushes}
  mirror: {organization: org, description: mirrors}
teams:
  devs: {organization: org, role: creator, members: {robots: [ci], users: [quayadmin]}}
repositories:
  app:
    organization: org
    description: the app
    permissions: {robots: {ci: write}, teams: {devs: read}}
    auto_prune: [{method: creation_date, value: 4w, tag_pattern: "^dev-"}]
  mirrored: {organization: org, description: a mirror}
default_permissions:
  devs-write: {organization: org, team: devs, role: write}
notifications:
  pushed:
    repository: app
    event: repo_push
    method: webhook
    title: on push
    config: {url: "http://hooks.example.com/${secrets.hook_token}"}
mirrors:
  mirrored:
    repository: mirrored
    upstream: upstream:5000/library/busybox
    tags: ["1.*", latest]
    robot: mirror
    interval: 12h
    username: puller
    password: "${secrets.mirror_password}"
    verify_tls: false
applications:
  ci-app: {organization: org, description: ci, redirect_uri: "http://127.0.0.1/cb"}
outputs:
  client_id: ${applications.ci-app.client_id}
  client_secret: ${applications.ci-app.client_secret}
  token: ${robots.ci.token}
"""


def test_every_setting_is_applied_as_declared_and_planted_secrets_never_show(quay, quay_instance,
                                                                             engine: docker.APIClient) -> None:
    org = quay.organization
    planted = {"hook token": "hook-Zq81x7QvTr", "mirror password": "mirror-Pw93kLmZs"}
    quay.environ = {**quay.environ, "QF_HOOK_TOKEN": planted["hook token"],
                    "QF_MIRROR_PASSWORD": planted["mirror password"]}
    quay.write(EVERYTHING.replace("ORG", org), SECRETS)
    texts = [cli(quay, "validate").stdout, cli(quay, "plan").stdout, cli(quay, "plan", "--json").stdout]
    cli(quay, "plan", "-out", "saved.plan")
    texts += [cli(quay, "show", "saved.plan").stdout, (quay.folder / "saved.plan").read_text(errors="replace")]
    applied = cli(quay, "apply", "saved.plan")
    texts += [applied.stdout, applied.stderr]

    # What Quay now has is what the spec says.
    status, view = quay_instance.api("GET", f"/organization/{org}")
    assert view["email"] == f"{org}@example.com" and view["tag_expiration_s"] == 1209600
    status, quota = quay_instance.api("GET", f"/organization/{org}/quota")
    assert [q["limit_bytes"] for q in quota] == [5 * 2 ** 30]
    assert sorted((l["type"], l["limit_percent"]) for l in quota[0]["limits"]) == [("Reject", 95), ("Warning", 80)]
    status, policies = quay_instance.api("GET", f"/organization/{org}/autoprunepolicy/")
    assert [(p["method"], p["value"]) for p in policies["policies"]] == [("number_of_tags", 20)]
    status, policies = quay_instance.api("GET", f"/repository/{org}/app/autoprunepolicy/")
    assert [(p["method"], p["value"], p.get("tagPattern")) for p in policies["policies"]] == [
        ("creation_date", "4w", "^dev-")]
    status, mirror = quay_instance.api("GET", f"/repository/{org}/mirrored/mirror")
    assert status == 200 and mirror["external_reference"] == "upstream:5000/library/busybox"
    assert mirror["root_rule"]["rule_value"] == ["1.*", "latest"] and mirror["sync_interval"] == 43200
    assert mirror["robot_username"] == f"{org}+mirror" and mirror["external_registry_username"] == "puller"
    assert mirror["external_registry_config"].get("verify_tls") is False
    status, repository = quay_instance.api("GET", f"/repository/{org}/mirrored")
    assert repository["state"] == "MIRROR"
    status, hooks = quay_instance.api("GET", f"/repository/{org}/app/notification/")
    assert [(h["event"], h["method"], h["title"], h["config"]["url"]) for h in hooks["notifications"]] == [
        ("repo_push", "webhook", "on push", f"http://hooks.example.com/{planted['hook token']}")]
    status, members = quay_instance.api("GET", f"/organization/{org}/team/devs/members")
    assert sorted(m["name"] for m in members["members"]) == sorted([f"{org}+ci", "quayadmin"])
    status, prototypes = quay_instance.api("GET", f"/organization/{org}/prototypes")
    assert [(p["role"], p["delegate"]["name"]) for p in prototypes["prototypes"]] == [("write", "devs")]
    status, apps = quay_instance.api("GET", f"/organization/{org}/applications")
    (app,) = apps["applications"]
    status, app = quay_instance.api("GET", f"/organization/{org}/applications/{app['client_id']}")
    planted["client secret"] = app["client_secret"]
    planted["robot token"] = robot_token(quay_instance, org, "ci")
    planted["admin password"] = quay_instance.admin_password

    # A second run has nothing to do; every way of looking at the stack hides every secret.
    assert converged(quay.plan())
    texts += [cli(quay, "plan").stdout, cli(quay, "plan", "--json").stdout, cli(quay, "show").stdout,
              cli(quay, "show", "--json").stdout, cli(quay, "output").stdout, cli(quay, "output", "--json").stdout,
              cli(quay, "graph").stdout]
    assert cli(quay, "output", "client_secret", "-raw").stdout.strip() == planted["client secret"]
    assert cli(quay, "output", "client_id", "-raw").stdout.strip() == app["client_id"]
    labels = [json.dumps(v.get("Labels")) for v in engine.volumes(
        filters={"label": f"io.quayform.stack={quay.name}"})["Volumes"] or []]
    assert labels, "the ownership ledger is a labelled volume of the stack"
    assert_absent(planted, *texts, *labels)

    # The mirror password is write-only: a changed one is found by its digest and set again.
    quay.environ["QF_MIRROR_PASSWORD"] = "another-Pw5512a"
    plan = quay.plan()
    assert actions(plan) == {"mirrors.mirrored": "~"} and changed_paths(plan, "mirrors.mirrored") == ["password"]
    quay.apply()
    assert converged(quay.plan())


def test_settings_changed_in_quay_are_found_and_repaired(quay, quay_instance) -> None:
    org = quay.organization
    quay.environ = {**quay.environ, "QF_HOOK_TOKEN": "t0ken-abc", "QF_MIRROR_PASSWORD": "pw-abcdef"}
    quay.write(EVERYTHING.replace("ORG", org), SECRETS)
    quay.apply()
    status, quota = quay_instance.api("GET", f"/organization/{org}/quota")
    quay_instance.api("PUT", f"/organization/{org}/quota/{quota[0]['id']}", {"limit_bytes": 2 ** 30})
    status, mirror = quay_instance.api("GET", f"/repository/{org}/mirrored/mirror")
    quay_instance.api("PUT", f"/repository/{org}/mirrored/mirror", {"sync_interval": 60,
                                                                     "root_rule": {"rule_kind": "tag_glob_csv",
                                                                                   "rule_value": ["x"]}})
    status, policies = quay_instance.api("GET", f"/organization/{org}/autoprunepolicy/")
    quay_instance.api("DELETE", f"/organization/{org}/autoprunepolicy/{policies['policies'][0]['uuid']}")
    quay_instance.api("PUT", f"/organization/{org}", {"tag_expiration_s": 86400})
    plan = quay.plan()
    assert actions(plan) == {"organizations.org": "~", "mirrors.mirrored": "~"}
    assert sorted(changed_paths(plan, "organizations.org")) == ["auto_prune", "quota", "tag_expiration"]
    assert sorted(changed_paths(plan, "mirrors.mirrored")) == ["interval", "tags"]
    quay.apply()
    assert converged(quay.plan())


MANY = """\
organizations:
  org: {name: ORG}
robots:
""" + "".join(f"  r{i}: {{organization: org, description: robot {i}}}\n" for i in range(6)) + """\
teams:
  devs: {organization: org, members: {robots: [r0, r1, r2]}}
repositories:
""" + "".join(f"  repo{i}: {{organization: org, permissions: {{robots: {{r{i}: write}}, teams: {{devs: read}}}}}}\n"
              for i in range(6))


@pytest.mark.parametrize("kill_after", [2, 7])
def test_kill_9_mid_apply_then_apply_converges_and_owns_everything(quay, quay_instance, kill_after: int) -> None:
    org = quay.organization
    quay.write(MANY.replace("ORG", org))
    environ = {**os.environ, **quay.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "quayform", "apply", "--auto-approve", "--no-color"],
                               cwd=quay.folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=environ)
    lines = wait_for_lines(process, "Creation complete", kill_after)
    assert process.poll() is None, "the apply ended before it could be killed:\n" + "".join(lines)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    remaining = quay.plan()
    assert remaining.changes, "the kill came after the apply had finished"
    assert set(actions(remaining).values()) <= {"+", "~"}
    quay.apply()
    assert converged(quay.plan())
    status, robots = quay_instance.api("GET", f"/organization/{org}/robots")
    assert sorted(r["name"] for r in robots["robots"]) == [f"{org}+r{i}" for i in range(6)]
    # Everything, including what was made just before the kill, is the stack's: leaving the spec deletes it.
    quay.write(MANY.replace("ORG", org).split("teams:")[0].replace("  r5: {organization: org, description: robot 5}\n",
                                                                    ""))
    plan = quay.plan()
    assert actions(plan) == {"robots.r5": "-", "teams.devs": "-", **{f"repositories.repo{i}": "-" for i in range(6)}}



def test_everything_in_an_organization_deleted_by_hand_is_made_again(quay, quay_instance) -> None:
    """(Not the organization itself: Quay keeps a deleted organization's name taken until its namespace
    worker has run, which the slimmed test Quay does not run.)"""
    org = quay.organization
    quay.environ = {**quay.environ, "QF_HOOK_TOKEN": "t0ken-abc", "QF_MIRROR_PASSWORD": "pw-abcdef"}
    quay.write(EVERYTHING.replace("ORG", org), SECRETS)
    quay.apply()
    for repository in ("app", "mirrored"):
        assert quay_instance.api("DELETE", f"/repository/{org}/{repository}")[0] == 204
    assert quay_instance.api("DELETE", f"/organization/{org}/robots/ci")[0] == 204
    assert quay_instance.api("DELETE", f"/organization/{org}/team/devs")[0] == 204
    status, apps = quay_instance.api("GET", f"/organization/{org}/applications")
    for app in apps["applications"]:
        assert quay_instance.api("DELETE", f"/organization/{org}/applications/{app['client_id']}")[0] == 204
    plan = quay.plan()
    assert actions(plan) == {**{a: "+" for a in ("robots.ci", "teams.devs", "repositories.app",
                                                 "repositories.mirrored", "notifications.pushed", "mirrors.mirrored",
                                                 "applications.ci-app", "default_permissions.devs-write")}}
    quay.apply()
    assert converged(quay.plan())
