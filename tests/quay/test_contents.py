"""What lives in Quay, on a real Quay: each kind created, unchanged, edited, drifted and repaired, deleted."""

from __future__ import annotations

import pytest

from tests.integration.helpers import actions, changed_paths, converged

pytestmark = pytest.mark.docker


def contents(org: str, *, email: str = "team@example.com", visibility: str = "private", description: str = "app",
             robot_description: str = "ci pusher", team_role: str = "member", members: str = "[ci]",
             permissions: str = "{ci: write}", team_permission: str = "read", title: str = "hook",
             url: str = "http://hooks.example.com/a", extra: str = "", apps: bool = True,
             defaults: bool = True, default_role: str = "read", app_description: str = "an app",
             team_description: str = "developers", tag_expiration: str = "1w") -> str:
    default_permissions = f"default_permissions:\n  devs-read: {{organization: org, team: devs, role: {default_role}}}\n"
    applications = f"applications:\n  ci-app: {{organization: org, description: {app_description}}}\n"
    return f"""\
organizations:
  org: {{name: {org}, email: {email}, tag_expiration: {tag_expiration}}}
robots:
  ci: {{organization: org, description: {robot_description}}}
teams:
  devs: {{organization: org, role: {team_role}, description: {team_description}, members: {{robots: {members}}}}}
repositories:
  app:
    organization: org
    visibility: {visibility}
    description: {description}
    permissions: {{robots: {permissions}, teams: {{devs: {team_permission}}}}}
{default_permissions if defaults else ""}notifications:
  push: {{repository: app, event: repo_push, method: webhook, title: {title}, config: {{url: "{url}"}}}}
{applications if apps else ""}{extra}"""


def test_every_kind_is_created_then_unchanged(quay, quay_instance) -> None:
    org = quay.organization
    quay.write(contents(org))
    plan = quay.plan()
    assert actions(plan) == {a: "+" for a in ("organizations.org", "robots.ci", "teams.devs", "repositories.app",
                                              "default_permissions.devs-read", "notifications.push",
                                              "applications.ci-app")}
    quay.apply()
    assert converged(quay.plan())
    status, repository = quay_instance.api("GET", f"/repository/{org}/app")
    assert status == 200 and repository["description"] == "app" and repository["is_public"] is False
    status, permissions = quay_instance.api("GET", f"/repository/{org}/app/permissions/user/")
    assert {n: p["role"] for n, p in permissions["permissions"].items()} == {f"{org}+ci": "write"}
    status, view = quay_instance.api("GET", f"/organization/{org}")
    assert view["email"] == "team@example.com" and view["tag_expiration_s"] == 604800
    assert view["teams"]["devs"]["role"] == "member"
    status, members = quay_instance.api("GET", f"/organization/{org}/team/devs/members")
    assert [m["name"] for m in members["members"]] == [f"{org}+ci"]


EDITS = {
    "organization email": (dict(email="other@example.com"), {"organizations.org": "~"}, ["email"]),
    "repository visibility": (dict(visibility="public"), {"repositories.app": "~"}, ["visibility"]),
    "repository description": (dict(description="renamed"), {"repositories.app": "~"}, ["description"]),
    "permission role": (dict(permissions="{ci: admin}"), {"repositories.app": "~"},
                        ["permissions.robot:{org}+ci"]),
    "team role": (dict(team_role="creator"), {"teams.devs": "~"}, ["role"]),
    "team members": (dict(members="[]"), {"teams.devs": "~"}, ["members"]),
    "team description": (dict(team_description="the developers"), {"teams.devs": "~"}, ["description"]),
    "organization tag expiration": (dict(tag_expiration="2w"), {"organizations.org": "~"}, ["tag_expiration"]),
    "default permission role": (dict(default_role="write"), {"default_permissions.devs-read": "~"}, ["role"]),
    "application description": (dict(app_description="another app"), {"applications.ci-app": "~"},
                                ["description"]),
    # Quay drops a deleted robot from its teams and permissions: those are set again for the new one.
    "robot description (replaced)": (dict(robot_description="another"),
                                     {"robots.ci": "-/+", "teams.devs": "~", "repositories.app": "~"}, ["description"]),
    "notification url (replaced)": (dict(url="http://hooks.example.com/b"), {"notifications.push": "-/+"},
                                    ["config.url"]),
}


@pytest.mark.parametrize("edit, expected, paths", EDITS.values(), ids=EDITS.keys())
def test_each_edit_plans_exactly_the_expected_change(quay, edit, expected, paths) -> None:
    org = quay.organization
    quay.write(contents(org))
    quay.apply()
    quay.write(contents(org, **edit))
    plan = quay.plan()
    assert actions(plan) == expected
    address = next(iter(expected))
    assert changed_paths(plan, address) == [p.format(org=org) for p in paths]
    if expected[address] == "-/+":
        change = next(c for c in plan.changes if str(c.address) == address)
        assert "cannot change" in change.reason
    quay.apply()
    assert converged(quay.plan())


def test_changes_made_in_quay_are_found_and_repaired(quay, quay_instance) -> None:
    org = quay.organization
    quay.write(contents(org))
    quay.apply()
    quay_instance.api("POST", f"/repository/{org}/app/changevisibility", {"visibility": "public"})
    quay_instance.api("PUT", f"/repository/{org}/app/permissions/user/{org}+ci", {"role": "admin"})
    quay_instance.api("DELETE", f"/organization/{org}/team/devs/members/{org}+ci")
    status, hooks = quay_instance.api("GET", f"/repository/{org}/app/notification/")
    quay_instance.api("DELETE", f"/repository/{org}/app/notification/{hooks['notifications'][0]['uuid']}")
    quay_instance.api("PUT", f"/organization/{org}", {"email": "hand@example.com"})
    plan = quay.plan()
    assert actions(plan) == {"organizations.org": "~", "teams.devs": "~", "repositories.app": "~",
                             "notifications.push": "+"}
    assert sorted(changed_paths(plan, "repositories.app")) == [f"permissions.robot:{org}+ci", "visibility"]
    quay.apply()
    assert converged(quay.plan())
    status, repository = quay_instance.api("GET", f"/repository/{org}/app")
    assert repository["is_public"] is False


def test_an_object_deleted_by_hand_is_created_again(quay, quay_instance) -> None:
    org = quay.organization
    quay.write(contents(org))
    quay.apply()
    assert quay_instance.api("DELETE", f"/organization/{org}/robots/ci")[0] == 204
    assert quay_instance.api("DELETE", f"/organization/{org}/team/devs")[0] == 204
    plan = quay.plan()
    assert actions(plan)["robots.ci"] == "+" and actions(plan)["teams.devs"] == "+"
    quay.apply()
    assert converged(quay.plan())


def test_removed_from_the_spec_is_deleted_and_unmanaged_neighbours_are_never_touched(quay, quay_instance) -> None:
    org = quay.organization
    quay.write(contents(org))
    quay.apply()
    # Objects made by hand in the same organization: not the stack's.
    quay_instance.api("PUT", f"/organization/{org}/robots/byhand", {"description": "mine"})
    quay_instance.api("POST", "/repository", {"namespace": org, "repository": "byhand", "visibility": "private",
                                              "description": "mine"})
    quay_instance.api("PUT", f"/organization/{org}/team/byhand", {"role": "member"})
    quay.write(contents(org, apps=False, defaults=False))
    plan = quay.plan()
    assert actions(plan) == {"applications.ci-app": "-", "default_permissions.devs-read": "-"}
    quay.apply()
    assert converged(quay.plan())
    assert quay_instance.api("GET", f"/organization/{org}/robots/byhand")[0] == 200
    assert quay_instance.api("GET", f"/repository/{org}/byhand")[0] == 200
    status, view = quay_instance.api("GET", f"/organization/{org}")
    assert "byhand" in view["teams"]
    status, apps = quay_instance.api("GET", f"/organization/{org}/applications")
    assert apps["applications"] == []


def test_an_object_with_a_name_the_spec_uses_is_adopted_and_recorded(quay, quay_instance) -> None:
    org = quay.organization
    quay_instance.api("POST", "/organization/", {"name": org})
    quay_instance.api("PUT", f"/organization/{org}/robots/ci", {"description": "ci pusher"})
    quay.write(contents(org))
    plan = quay.plan()
    assert actions(plan)["robots.ci"] == "~" and changed_paths(plan, "robots.ci") == ["owned_by"]
    assert actions(plan)["organizations.org"] == "~"
    quay.apply()
    assert converged(quay.plan())
    # Recorded: removing it from the spec now deletes it.
    quay.write(contents(org, members="[]", permissions="{}").replace(
        "robots:\n  ci: {organization: org, description: ci pusher}\n", ""))
    assert actions(quay.plan())["robots.ci"] == "-"
