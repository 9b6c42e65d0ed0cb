"""The spec as pydantic v2 models: every unknown key is an error, every value is parsed.

Models receive data whose `${...}` references are already substituted (see spec/__init__),
so secret-bearing values arrive as `Sensitive`; only env values, file contents and
outputs may hold them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, PrivateAttr, field_validator, model_validator

from quayform.sensitive import Sensitive
from quayform.spec import values

from quayform.spec.model_base import (DOCKER_NAME_PATTERN, KEY_PATTERN, STACK_PATTERN, DockerName, Duration,  # noqa: F401
                                     Key, Lifecycle, Model, SecretText, Text, _to_text)
from quayform.spec.quay_models import (Application, DefaultPermission, Mirror, Notification, Organization,
                                       QuayInstance, Repository, Robot, Team)


class Healthcheck(Model):
    """Docker's healthcheck; durations in nanoseconds."""

    test: Annotated[list[str], BeforeValidator(lambda v: v)]
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: int | None = Field(default=None, ge=0)
    start_period: Duration | None = None

    @field_validator("test", mode="before")
    @classmethod
    def _test(cls, value: Any) -> list[str]:
        if isinstance(value, str):
            return ["CMD-SHELL", value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ValueError("test must be a string or a non-empty list of strings")
        if value[0] not in ("CMD", "CMD-SHELL", "NONE"):
            return ["CMD", *value]
        return value


class FileSpec(Model):
    """A file written into a container before it starts."""

    content: SecretText | None = None
    template: str | None = None
    mode: Annotated[int, BeforeValidator(values.parse_file_mode)] = 0o644
    owner: Annotated[str | None, BeforeValidator(_to_text)] = Field(default=None, pattern=r"^\d+(:\d+)?$")

    @model_validator(mode="after")
    def _one_source(self) -> "FileSpec":
        if self.content is None:
            raise ValueError("give either content or template")
        return self


DnsName = Annotated[str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$",
                                max_length=253)]


class NetworkAttachment(Model):
    """How a container joins one network: the extra names it answers to there (compose's `aliases`)."""

    aliases: list[DnsName] = Field(default_factory=list)


# `backend:` with nothing after it (as compose allows) joins with no extra aliases
Attachment = Annotated[NetworkAttachment, BeforeValidator(lambda v: {} if v is None else v)]
# A list or a mapping, each validated as itself (no union noise); locate.py drops the "(...)" tags from paths (keys cannot hold parentheses).
Attachments = Annotated[
    Union[Annotated[list[Key], Tag("(list)")], Annotated[dict[Key, Attachment], Tag("(mapping)")]],
    Discriminator(lambda v: "(list)" if isinstance(v, (list, tuple)) else "(mapping)" if isinstance(v, dict) else None,
                  custom_error_type="networks",
                  custom_error_message="give a list of network keys, or a mapping of network key to {aliases: [...]}")]


class Container(Model):
    image: Text = Field(min_length=1)
    name: DockerName | None = None
    command: Annotated[list[str] | None, BeforeValidator(values.parse_command)] = None
    entrypoint: Annotated[list[str] | None, BeforeValidator(values.parse_command)] = None
    env: dict[str, SecretText] = Field(default_factory=dict)
    ports: list[Annotated[list[values.PortBinding], BeforeValidator(values.parse_ports)]] = Field(default_factory=list)
    volumes: list[Annotated[values.Mount, BeforeValidator(values.parse_mount)]] = Field(default_factory=list)
    # [backend, frontend], or {backend: {aliases: [db.example.com]}}: the key is always an alias too
    networks: Attachments = Field(default_factory=list)
    restart: Annotated[tuple[str, int], BeforeValidator(values.parse_restart)] = ("no", 0)
    privileged: bool = False
    user: Text | None = None
    working_dir: str | None = None
    labels: dict[str, Text] = Field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    stop_signal: str | None = Field(default=None, pattern=r"^(SIG)?[A-Z0-9]+$|^[0-9]+$")
    stop_grace_period: Duration | None = None
    depends_on: list[Key] = Field(default_factory=list)
    files: dict[str, FileSpec] = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)

    @field_validator("files")
    @classmethod
    def _absolute_paths(cls, files: dict[str, FileSpec]) -> dict[str, FileSpec]:
        for path in files:
            if not path.startswith("/") or path.endswith("/"):
                raise ValueError(f"file path {path!r} must be an absolute file path in the container")
            problem = values.container_path_problem(path)
            if problem:
                raise ValueError(f"file path {problem}")
        return files

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, Any]) -> dict[str, Any]:
        for name in env:
            if not name or "=" in name or "\0" in name or any(ch.isspace() for ch in name):
                raise ValueError(f"{name!r} is not an environment variable name (it must be non-empty, without "
                                 "'=', spaces or NUL)")
        return env

    @property
    def attachments(self) -> dict[str, NetworkAttachment]:
        """Every network joined, in the order given, with its extra aliases."""
        if isinstance(self.networks, dict):
            return dict(self.networks)
        return {net: NetworkAttachment() for net in self.networks}

    @property
    def port_bindings(self) -> list[values.PortBinding]:
        return [binding for group in self.ports for binding in group]


class Volume(Model):
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    name: DockerName | None = None
    driver: str = "local"
    driver_opts: dict[str, Text] = Field(default_factory=dict)
    labels: dict[str, Text] = Field(default_factory=dict)


class Network(Model):
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    name: DockerName | None = None
    driver: str = "bridge"
    internal: bool = False
    labels: dict[str, Text] = Field(default_factory=dict)


class PostgresServer(Model):
    """A PostgreSQL server running in one of the spec's containers, reached with docker exec."""

    container: Key
    admin_user: str = "postgres"
    admin_database: str = "postgres"
    exec_user: str = "postgres"


PRIVILEGES = ("ALL", "CONNECT", "CREATE", "TEMPORARY", "TEMP")


def _privileges(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError("grants are a list of privileges, e.g. [ALL] or [CONNECT, TEMPORARY]")
    out = []
    for item in value:
        if not isinstance(item, str) or item.upper() not in PRIVILEGES:
            raise ValueError(f"{item!r} is not a database privilege (one of {', '.join(PRIVILEGES)})")
        out.append(item.upper())
    return out


class Database(Model):
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    server: Key
    name: str | None = Field(default=None, min_length=1, max_length=63)
    owner: Key | None = None
    encoding: str | None = None
    locale: str | None = None
    extensions: list[str] = Field(default_factory=list)


class User(Model):
    """A PostgreSQL role."""

    server: Key
    name: str | None = Field(default=None, min_length=1, max_length=63)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    password: SecretText | None = None
    login: bool = True
    createdb: bool = False
    createrole: bool = False
    superuser: bool = False
    grants: dict[Key, Annotated[list[str], BeforeValidator(_privileges)]] = Field(default_factory=dict)


class EnvSecret(Model):
    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class GenerateSecret(Model):
    """urlsafe: `length` characters of [A-Za-z0-9_-]; base64: standard base64 of `length` random bytes."""

    length: int = Field(default=32, ge=16, le=256)
    format: Literal["urlsafe", "base64"] = "urlsafe"


class FileSecret(Model):
    """A secret in a file next to the spec; with `generate`, a missing file is created once."""

    file: str = Field(min_length=1)
    generate: GenerateSecret | None = None


def _secret_source(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1 and "env" in value:
        return EnvSecret.model_validate(value)
    if isinstance(value, dict) and "file" in value:
        return FileSecret.model_validate(value)
    raise ValueError("a secret is {env: VARIABLE} or {file: path/relative/to/spec}")


SecretSource = Annotated[EnvSecret | FileSecret, BeforeValidator(_secret_source)]
Scalar = Annotated[str, BeforeValidator(_to_text)]


class Spec(Model):
    """A whole quayform.yaml, validated and with references substituted."""

    version: Literal[1]
    stack: str = Field(pattern=STACK_PATTERN, max_length=48)
    variables: dict[Key, Scalar] = Field(default_factory=dict)
    secrets: dict[Key, SecretSource] = Field(default_factory=dict)
    networks: dict[Key, Network] = Field(default_factory=dict)
    volumes: dict[Key, Volume] = Field(default_factory=dict)
    containers: dict[Key, Container] = Field(default_factory=dict)
    postgres: dict[Key, PostgresServer] = Field(default_factory=dict)
    databases: dict[Key, Database] = Field(default_factory=dict)
    users: dict[Key, User] = Field(default_factory=dict)
    quay: dict[Key, QuayInstance] = Field(default_factory=dict)
    organizations: dict[Key, Organization] = Field(default_factory=dict)
    robots: dict[Key, Robot] = Field(default_factory=dict)
    teams: dict[Key, Team] = Field(default_factory=dict)
    repositories: dict[Key, Repository] = Field(default_factory=dict)
    default_permissions: dict[Key, DefaultPermission] = Field(default_factory=dict)
    notifications: dict[Key, Notification] = Field(default_factory=dict)
    mirrors: dict[Key, Mirror] = Field(default_factory=dict)
    applications: dict[Key, Application] = Field(default_factory=dict)
    outputs: dict[Key, SecretText] = Field(default_factory=dict)

    _path: str = PrivateAttr(default="quayform.yaml")
    _base_dir: str = PrivateAttr(default=".")
    _ref_edges: tuple[tuple[str, str], ...] = PrivateAttr(default=())
    _lines: dict = PrivateAttr(default_factory=dict)
    _secret_values: tuple = PrivateAttr(default=())

    @property
    def path(self) -> str:
        return self._path

    @property
    def base_dir(self) -> str:
        return self._base_dir

    @property
    def ref_edges(self) -> tuple[tuple[str, str], ...]:
        """(dependency address, dependent address) pairs found in ${...} references."""
        return self._ref_edges

    @property
    def secret_values(self) -> tuple[Sensitive, ...]:
        """The value of every secret the spec declares (empty when loaded without secrets)."""
        return self._secret_values

    def line_of(self, *path: str | int) -> int | None:
        """The spec line of a key path (or of its nearest ancestor), for error messages."""
        for cut in range(len(path), -1, -1):
            if tuple(path[:cut]) in self._lines:
                return self._lines[tuple(path[:cut])]
        return None

    def name_of(self, section: str, key: str) -> str:
        """The Docker or PostgreSQL name of a resource: its `name:`, or its kind's default."""
        from quayform.kinds import REGISTRY  # the kinds import these models

        return REGISTRY[section].name_of(self, key)
