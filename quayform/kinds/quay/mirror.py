"""Repository mirroring: Quay pulls matching tags of an upstream repository on a schedule.

Everything is changed in place (Quay's mirror PUT). The upstream registry's password is
write-only in Quay (never returned): quayform records a slow salted digest of it (scrypt) in
its ledger and judges the password by that, so a new password in the spec is sent and an
unchanged one is not. Quay has no call to delete a mirror: removing one from the spec disables
it, and its repository goes back to state NORMAL. The first sync time is not compared (Quay
moves it after every sync).
"""

from __future__ import annotations

import os
import time
from typing import Any, Hashable, Iterable, Mapping

from quayform.address import Address
from quayform.changes import UNKNOWN, Change, Desired, LiveObject
from quayform.errors import EngineError
from quayform.kinds.base import Attribute, Ctx, Policy, Rules, replace, update
from quayform.kinds.engine_kind import lifecycle_of
from quayform.kinds.quay import OWNED_BY, QuayKind, record
from quayform.labels import slow_digest
from quayform.sensitive import Sensitive

DIFFERS = Sensitive("\0a different password")


def _digest(password: Sensitive, salt: str | None = None) -> dict[str, str]:
    salt = salt or os.urandom(16).hex()
    return {"salt": salt, "digest": slow_digest(password.reveal(), bytes.fromhex(salt))}


def _secret(password: Any) -> Any:
    """The spec's password as a secret, written in the spec or from `secrets:` (it is write-only in Quay)."""
    if password is None:
        return UNKNOWN
    return password if isinstance(password, Sensitive) else Sensitive(str(password))


def judge_password(desired: Any, live: Mapping[str, Any], payload: Any) -> Any:
    """The desired password if the ledger's digest was made from it, else a value that differs."""
    if not isinstance(desired, Sensitive):
        return live.get("password")
    recorded = (payload or {}).get("password") if isinstance(payload, dict) else None
    if recorded and _digest(desired, recorded["salt"]) == recorded:
        return desired
    return DIFFERS


def _body(form: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_reference": form["upstream"], "sync_interval": form["interval"],
        "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": form["tags"]},
        "robot_username": form["robot"], "skopeo_timeout_interval": form["timeout"], "is_enabled": form["enabled"],
        "external_registry_config": {"verify_tls": form["verify_tls"], "unsigned_images": form["unsigned_images"]},
        "external_registry_username": form["username"],
    }
    if isinstance(form["password"], Sensitive):
        body["external_registry_password"] = form["password"].reveal()
    return body


def _entry(kind: Any, change: Change, sent_password: bool) -> dict[str, Any]:
    """The ledger entry: the mirror, and the digest of the password Quay now has."""
    entry = kind.ledger_entry(change, (change.after or {})["name"])
    password = (change.after or {}).get("password")
    if sent_password and isinstance(password, Sensitive):
        entry["password"] = _digest(password)
    elif (change.live_payload or {}).get("password"):
        entry["password"] = change.live_payload["password"]  # not sent again: the old digest still holds
    return entry


def _put_mirror(kind: Any, change: Change, session: Any) -> None:
    form = change.after or {}
    session = kind.session(session)
    body = _body(form)
    if not any(a.path == "password" for a in change.attributes):
        body.pop("external_registry_password", None)  # unchanged: not sent again
    session.call("PUT", f"/repository/{form['name']}/mirror", body)
    _check_rule(session, form)
    record(session, change.address, _entry(kind, change, "external_registry_password" in body))


def _check_rule(session: Any, form: Mapping[str, Any]) -> None:
    """Quay can answer a mirror PUT with success and keep the old tag rule: read it back."""
    mirror = session.get(f"/repository/{form['name']}/mirror") or {}
    if sorted((mirror.get("root_rule") or {}).get("rule_value") or []) != form["tags"]:
        raise EngineError(f"quay: the mirror of {form['name']} did not take the new tag patterns {form['tags']} "
                          "(a Quay bug after a failed mirror creation); delete and recreate the repository's mirror "
                          "in Quay, then apply again")


class MirrorKind(QuayKind):
    section = "mirrors"
    noun = "repository mirror"
    attributes = (replace("name"), *(update(name, _put_mirror) for name in (
        "upstream", "tags", "robot", "interval", "username", "verify_tls", "unsigned_images", "enabled", "timeout")),
        Attribute("password", Policy.UPDATE, _put_mirror, judge=judge_password), OWNED_BY)
    rules = Rules(adopt_by_name=True, renamed_is_new=True, ownership="ledger", refreshed_with=(("robots", ("robot",)),))

    def organization_key(self, spec: Any, key: str) -> str:
        return spec.repositories[spec.mirrors[key].repository].organization

    def name_of(self, spec: Any, key: str) -> str:
        return spec.name_of("repositories", spec.mirrors[key].repository)

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return ("quay", self.instance_of(spec, key))

    def secret_allowed(self, path: tuple) -> bool:
        return path[:1] == ("password",)

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        if item.repository in spec.repositories:
            yield from super().edges(spec, key, item)
        yield Address("repositories", item.repository), ()
        yield Address("robots", item.robot), ()

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        super().check(spec, ctx, report)
        seen: dict[str, str] = {}
        for key, item in spec.mirrors.items():
            repository = spec.repositories.get(item.repository)
            if repository is None:
                report((self.section, key, "repository"), f"is on repositories.{item.repository}, which is not in "
                                                          "the spec")
                continue
            if item.repository in seen:
                report((self.section, key, "repository"), f"repositories.{item.repository} already has "
                                                          f"mirrors.{seen[item.repository]}")
            seen.setdefault(item.repository, key)
            robot = spec.robots.get(item.robot)
            if robot is None:
                report((self.section, key, "robot"), f"names robots.{item.robot}, which is not in the spec")
            elif robot.organization != repository.organization:
                report((self.section, key, "robot"), f"robots.{item.robot} is in organizations.{robot.organization}, "
                                                     f"not the repository's organizations.{repository.organization}")
            if item.password is not None and item.username is None:
                report((self.section, key, "password"), "a password needs a username")

    def read(self, item: dict[str, Any], entries: Any, target: Any) -> LiveObject | None:
        config = item.get("external_registry_config") or {}
        form = {"name": item["repository"], "upstream": item.get("external_reference"),
                "tags": sorted((item.get("root_rule") or {}).get("rule_value") or []),
                "robot": item.get("robot_username"), "interval": item.get("sync_interval"),
                "username": item.get("external_registry_username"), "password": None,
                "verify_tls": bool(config.get("verify_tls", True)), "unsigned_images": bool(config.get("unsigned_images")),
                "enabled": bool(item.get("is_enabled")), "timeout": item.get("skopeo_timeout_interval")}
        live = self.live_object(entries, target, item["repository"], item["repository"], form)
        recorded = entries.get(str(live.address)) if live.address is not None else None
        return LiveObject(live.kind, live.address, live.name, live.id, live.form, recorded, live.owner, live.guarded,
                          live.target)

    def uses(self, form: Any, target: Any) -> Iterable[tuple[str, str]]:
        yield "repositories", form["name"]

    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        item = spec.mirrors[key]
        form = {"name": self.name_of(spec, key), "upstream": item.upstream, "tags": sorted(item.tags),
                "robot": ctx.name_of(Address("robots", item.robot)), "interval": item.interval // 1_000_000_000,
                "username": item.username, "password": _secret(item.password),
                "verify_tls": item.verify_tls, "unsigned_images": item.unsigned_images, "enabled": item.enabled,
                "timeout": item.timeout // 1_000_000_000, "owned_by": spec.stack}
        return Desired(form, item.start, lifecycle_of(item), self.target_of(spec, key, ctx))

    def make(self, change: Change, session: Any) -> None:
        form = change.after or {}
        session = self.session(session)
        body = _body(form)
        body["sync_start_date"] = change.payload or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        session.call("POST", f"/repository/{form['name']}/mirror", body)
        record(session, change.address, _entry(self, change, True))

    def delete(self, change: Change, session: Any, release: frozenset[str]) -> None:
        session = self.session(session)
        session.call("PUT", f"/repository/{change.name}/mirror", {"is_enabled": False}, missing=(404,))
        session.call("PUT", f"/repository/{change.name}/changestate", {"state": "NORMAL"}, missing=(404,))
        self.forget(change, session)


KIND = MirrorKind()
