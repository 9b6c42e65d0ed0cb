"""The spec's Quay sections: the instance (`quay`) and what lives in it, as pydantic models.

Names follow Quay's own rules (organizations and robots: lower-case `[a-z0-9]` with `._-`
between; repositories may hold `/`); references between these sections use spec keys
(`organization: acme`, `robots: [ci]`), names that live only in Quay (users) are written as
Quay has them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from quayform.spec.model_base import Duration, Key, Lifecycle, Model, SecretText, Text

NAMESPACE_PATTERN = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
REPOSITORY_PATTERN = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
ROBOT_PATTERN = r"^[a-z][a-z0-9_]{1,254}$"
TEAM_PATTERN = NAMESPACE_PATTERN  # Quay checks team names as it checks namespaces

Namespace = Annotated[str, Field(pattern=NAMESPACE_PATTERN, min_length=2, max_length=255)]

# What Quay accepts as the name of each kind: (pattern, shortest, longest). A name left out is the
# key, checked against the same rule by the kind (quayform.kinds.quay.QuayKind.check).
NAME_RULES = {
    "organizations": (NAMESPACE_PATTERN, 2, 255),
    "robots": (ROBOT_PATTERN, 2, 255),
    "teams": (TEAM_PATTERN, 2, 255),
    "repositories": (REPOSITORY_PATTERN, 1, 255),
}
Role = Literal["read", "write", "admin"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12, "pb": 10 ** 15,
               "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40, "pib": 2 ** 50}
_PERIOD = re.compile(r"^(\d+)([smhdw])$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_size(value: Any) -> int:
    """"10 GiB", "500MB", 1048576 -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a size (e.g. \"10 GiB\", \"500 MB\", or a number of bytes)")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])


def parse_period(value: Any) -> int:
    """Quay's periods: "2w", "1d", "12h", "30m", "45s" (or 0) -> seconds."""
    if value in (0, "0", "0s"):
        return 0
    match = _PERIOD.match(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not match:
        raise ValueError(f"{value!r} is not a period (e.g. \"2w\", \"1d\", \"12h\", \"0s\")")
    return int(match.group(1)) * _PERIOD_SECONDS[match.group(2)]


Size = Annotated[int, BeforeValidator(parse_size)]
Period = Annotated[int, BeforeValidator(parse_period)]


class QuayAdmin(Model):
    """The account quayform works as: created on an empty Quay, signed in as on every later run."""

    username: Namespace = "quayadmin"
    password: SecretText
    email: Text = "quayadmin@example.com"
    bootstrap: bool = True  # create it through /api/v1/user/initialize when Quay has no user yet


class QuayInstance(Model):
    """A Quay running in one of the spec's containers, or (with `url` and no container) one that runs
    elsewhere on this machine, whose contents the spec manages."""

    container: Key | None = None
    admin: QuayAdmin
    port: int = Field(default=8080, ge=1, le=65535)  # where Quay listens inside its container
    url: str | None = Field(default=None, pattern=r"^http://(127\.0\.0\.1|localhost)(:\d+)?/?$")

    @model_validator(mode="after")
    def _reachable(self) -> "QuayInstance":
        if self.container is None and self.url is None:
            raise ValueError("give the container Quay runs in, or the url of a Quay published on this machine")
        return self


class QuotaLimit(Model):
    type: Literal["warning", "reject"]
    percent: int = Field(ge=1, le=100)


class Quota(Model):
    limit: Size
    limits: list[QuotaLimit] = Field(default_factory=list)


class AutoPrune(Model):
    """A tag pruning policy: keep the newest `value` tags, or drop tags older than `value` ("7d")."""

    method: Literal["number_of_tags", "creation_date"]
    value: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)]
    tag_pattern: str | None = None
    tag_pattern_matches: bool = True

    @model_validator(mode="after")
    def _value_fits_the_method(self) -> "AutoPrune":
        if self.method == "number_of_tags" and not self.value.isdigit():
            raise ValueError(f"number_of_tags takes a whole number, not {self.value!r}")
        if self.method == "creation_date" and not re.fullmatch(r"\d+[smhdw]", self.value):
            raise ValueError(f"creation_date takes an age such as \"7d\" or \"2w\", not {self.value!r}")
        return self


class Organization(Model):
    quay: Key | None = None  # which instance; may be left out when the spec declares one
    name: Namespace | None = None
    email: Text | None = None
    tag_expiration: Period | None = None  # Quay's window to restore deleted tags (one of TAG_EXPIRATION_OPTIONS)
    quota: Quota | None = None
    auto_prune: list[AutoPrune] | None = None  # left out: not managed; [] means none
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class Permissions(Model):
    """Who may use a repository: an exact set (anyone else's permission is removed)."""

    users: dict[Namespace, Role] = Field(default_factory=dict)  # Quay user names
    robots: dict[Key, Role] = Field(default_factory=dict)  # robots of the spec, by key
    teams: dict[Key, Role] = Field(default_factory=dict)  # teams of the spec, by key


class Repository(Model):
    organization: Key
    name: Annotated[str, Field(pattern=REPOSITORY_PATTERN, max_length=255)] | None = None
    visibility: Literal["private", "public"] = "private"
    description: Text = ""
    permissions: Permissions = Field(default_factory=Permissions)
    auto_prune: list[AutoPrune] | None = None  # left out: not managed; [] means none
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class Robot(Model):
    organization: Key
    name: Annotated[str, Field(pattern=ROBOT_PATTERN)] | None = None
    description: Text = ""
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class Members(Model):
    users: list[Namespace] = Field(default_factory=list)
    robots: list[Key] = Field(default_factory=list)


class Team(Model):
    organization: Key
    name: Annotated[str, Field(pattern=TEAM_PATTERN, min_length=2, max_length=255)] | None = None
    role: Literal["member", "creator", "admin"] = "member"
    description: Text = ""
    members: Members = Field(default_factory=Members)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class DefaultPermission(Model):
    """A permission Quay gives on every repository created in the organization (a prototype)."""

    organization: Key
    role: Role
    user: Namespace | None = None
    robot: Key | None = None
    team: Key | None = None
    activating_user: Namespace | None = None  # only repositories this user creates
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)

    @model_validator(mode="after")
    def _one_delegate(self) -> "DefaultPermission":
        if sum(x is not None for x in (self.user, self.robot, self.team)) != 1:
            raise ValueError("give exactly one of user, robot or team")
        return self


EVENTS = ("repo_push", "repo_image_expiry", "vulnerability_found", "build_queued", "build_start", "build_success",
          "build_failure", "build_cancelled", "repo_mirror_sync_started", "repo_mirror_sync_success",
          "repo_mirror_sync_failed", "quota_warning", "quota_error")
METHODS = ("webhook", "email", "slack", "quay_notification", "flowdock", "hipchat")


class Notification(Model):
    repository: Key
    event: Literal[EVENTS]  # type: ignore[valid-type]
    method: Literal[METHODS]  # type: ignore[valid-type]
    title: Text | None = None  # how quayform finds it again (default: the key); unique per repository
    config: dict[str, SecretText] = Field(default_factory=dict)  # e.g. {url: ...}; may hold secrets
    event_config: dict[str, Any] = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class Mirror(Model):
    """Repository mirroring: Quay pulls `tags` of `upstream` every `interval`, as `robot`."""

    repository: Key
    upstream: str = Field(pattern=r"^[^/:\s]+(:\d+)?/\S+$")  # host[:port]/path, no scheme
    tags: list[str] = Field(min_length=1)
    robot: Key
    interval: Duration = 86_400_000_000_000
    username: Text | None = None
    password: SecretText | None = None  # write-only in Quay: tracked by a slow digest, never stored
    verify_tls: bool = True
    unsigned_images: bool = False
    enabled: bool = True
    start: str | None = Field(default=None, pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    timeout: Duration = 300_000_000_000
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class Application(Model):
    """An OAuth application of an organization; its client secret is a secret others can use."""

    organization: Key
    name: Text | None = None
    description: Text = ""
    application_uri: Text = ""
    redirect_uri: Text = ""
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
