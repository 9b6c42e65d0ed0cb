"""The spec as pydantic v2 models: every unknown key is an error, every value is parsed.

Models receive data whose `${...}` references are already substituted (see spec/__init__),
so secret-bearing values arrive as `Sensitive`; only env values, file contents and
outputs may hold them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (BeforeValidator, Discriminator, Field, Tag, PrivateAttr, WithJsonSchema, field_validator,
                      model_validator)

from quayform.sensitive import Sensitive
from quayform.spec import values

from quayform.spec.model_base import (DOCKER_NAME_PATTERN, KEY_PATTERN, STACK_PATTERN, DockerName, Duration,  # noqa: F401
                                     Key, Lifecycle, Model, SecretText, Text, _to_text)
from quayform.spec.quay_models import (Application, DefaultPermission, Mirror, Notification, Organization,
                                       QuayInstance, Repository, Robot, Team)
from quayform.spec.pg_models import (DatabasePublic, DefaultPrivileges, Extensions, OnDrop, RoleNames,
                                     Schema, SchemaPrivileges, Settings, ValidUntil)


class Healthcheck(Model):
    """Docker's healthcheck; durations in nanoseconds. `disable: true` is compose's `test: [NONE]`."""

    test: list[str] | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: int | None = Field(default=None, ge=0)
    start_period: Duration | None = None
    disable: bool = False

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

    @model_validator(mode="after")
    def _disabled_or_tested(self) -> "Healthcheck":
        if not self.disable and self.test is None:
            raise ValueError("give test (or disable: true to turn the image's check off)")
        others = [k for k in ("test", "interval", "timeout", "retries", "start_period") if getattr(self, k) is not None]
        if self.disable and others != [] and not (others == ["test"] and self.test == ["NONE"]):
            raise ValueError(f"disable: true turns the check off; it takes no {others[0]}")
        return self

    @property
    def command(self) -> list[str]:
        return ["NONE"] if self.disable else list(self.test or [])


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
    """How a container joins one network: the extra names it answers to there (compose's `aliases`),
    and a fixed address on it (the network must declare a subnet that holds it)."""

    aliases: list[DnsName] = Field(default_factory=list)
    ipv4_address: Annotated[str | None, BeforeValidator(values.ip_of(4))] = None
    ipv6_address: Annotated[str | None, BeforeValidator(values.ip_of(6))] = None


# `backend:` with nothing after it (as compose allows) joins with no extra aliases
Attachment = Annotated[NetworkAttachment, BeforeValidator(lambda v: {} if v is None else v)]
# A list or a mapping, each validated as itself (no union noise); locate.py drops the "(...)" tags from paths (keys cannot hold parentheses).
Attachments = Annotated[
    Union[Annotated[list[Key], Tag("(list)")], Annotated[dict[Key, Attachment], Tag("(mapping)")]],
    Discriminator(lambda v: "(list)" if isinstance(v, (list, tuple)) else "(mapping)" if isinstance(v, dict) else None,
                  custom_error_type="networks",
                  custom_error_message="give a list of network keys, or a mapping of network key to {aliases: [...]} "
                                       "(and ipv4_address, ipv6_address)")]


class Dependency(Model):
    """How a container waits for one it depends on (compose's long `depends_on` entry)."""

    # quayform waits until the dependency is ready whatever the condition (see docs/spec.md, "One-shot
    # containers"); service_healthy also needs a healthcheck, service_completed_successfully `run: once`
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = "service_started"
    required: bool = True  # false: the dependency may be left out of the spec (then there is nothing to wait for)


# [db, cache], or {db: {condition: service_healthy}, migrate: {condition: service_completed_successfully}}
Dependencies = Annotated[
    Union[Annotated[list[Key], Tag("(list)")],
          Annotated[dict[Key, Annotated[Dependency, BeforeValidator(lambda v: {} if v is None else v)]],
                    Tag("(mapping)")]],
    # anything but a mapping is read as the list form, whose error says how to write it as a list
    Discriminator(lambda v: "(mapping)" if isinstance(v, dict) else "(list)")]


def _list_or_mapping(item: Any, value: Any, what: str, example: str) -> Any:
    """compose's `KEY=VALUE` list or a mapping, each item validated where it is written."""
    return Annotated[
        Union[Annotated[list[item], Tag("(list)")], Annotated[dict[str, value], Tag("(mapping)")]],
        Discriminator(lambda v: "(list)" if isinstance(v, list) else "(mapping)" if isinstance(v, dict) else None,
                      custom_error_type=what, custom_error_message=f"give a mapping, or a list of {example}")]


EnvValue = Annotated[Any, BeforeValidator(values.env_value)]  # str, Sensitive, or UNSET (a bare NAME)
EnvList = _list_or_mapping(Annotated[tuple[str, Any], BeforeValidator(values.parse_env_item)], EnvValue, "env",
                           "\"NAME=VALUE\" (or a bare \"NAME\", which leaves it unset)")
LabelList = _list_or_mapping(Annotated[tuple[str, str], BeforeValidator(values.parse_label_item)], Text, "labels",
                             "\"KEY=VALUE\"")
MemorySize = Annotated[int, BeforeValidator(values.at_least(values.parse_size, 6 * 1024 * 1024, "6m"))]
Texts = Annotated[list[Text], BeforeValidator(lambda v: [v] if isinstance(v, (str, int)) else v)]


# What an editor may accept for the options written in compose's several spellings (validate parses them).
_STRING = {"type": "string"}
_SCALAR = {"type": ["string", "number", "boolean"]}
_ENV_FILE = {"type": "object", "properties": {"path": _STRING, "required": {"type": "boolean"}},
             "required": ["path"], "additionalProperties": False}
_PATHS = {"anyOf": [_STRING, {"type": "array", "items": {"anyOf": [_STRING, _ENV_FILE]}}, _ENV_FILE, {"type": "null"}]}
_GPUS = {"anyOf": [{"type": ["string", "integer"]}, {"type": "array", "items": {"type": "object"}}, {"type": "null"}]}
_LIST_OR_MAP = {"anyOf": [{"type": "array", "items": _SCALAR}, {"type": "object", "additionalProperties": {
    "anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}, {"type": "null"}]}}, _STRING, {"type": "null"}]}
_ULIMITS = {"anyOf": [{"type": "object", "additionalProperties": {"anyOf": [{"type": "integer"}, {
    "type": "object", "properties": {"soft": {"type": "integer"}, "hard": {"type": "integer"}},
    "additionalProperties": False}]}}, {"type": "null"}]}
_NAMES = {"anyOf": [_STRING, {"type": "array", "items": _STRING}, {"type": "null"}]}


def _parsed(kind: Any, parse: Any, schema: dict[str, Any] | None = None) -> Any:
    """An optional field written in one of compose's spellings, parsed into `kind` (an editor is told `schema`)."""
    return Annotated[(kind | None, BeforeValidator(parse), *((WithJsonSchema(schema),) if schema else ()))]


class Logging(Model):
    """compose's `logging`: a log driver and its options."""

    driver: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    options: dict[str, Text] = Field(default_factory=dict)


class EngineTls(Model):
    """Client certificates for a tcp:// engine, in files relative to the spec (Docker's --tlsverify set)."""

    ca: str = Field(min_length=1)
    cert: str = Field(min_length=1)
    key: str = Field(min_length=1)


class Engine(Model):
    """A Docker engine the stack's containers, volumes and networks may live on."""

    host: str
    tls: EngineTls | None = None
    # The host name or IP address at which containers on the other engines reach the ports this engine
    # publishes: what ${containers.KEY.host} gives (default: the host of a tcp:// or ssh:// address).
    address: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]*$")

    @field_validator("host")
    @classmethod
    def _address(cls, value: str) -> str:
        if not re.fullmatch(r"unix:///\S+|tcp://[^/\s:]+:[0-9]+/?|ssh://([^@/\s]+@)?[^@/\s:]+(:[0-9]+)?/?", value):
            raise ValueError(f"{value!r} is not an engine address: give unix:///path/to/docker.sock, "
                             "tcp://host:port (with tls: for client certificates) or ssh://user@host")
        return value

    @model_validator(mode="after")
    def _tls_over_tcp(self) -> "Engine":
        if self.tls is not None and not self.host.startswith("tcp://"):
            raise ValueError("tls: client certificates are for tcp:// engines only")
        return self


class Container(Model):
    image: Text = Field(min_length=1)
    engine: Key = "default"  # a key of the engines section
    name: DockerName | None = None
    command: Annotated[list[str] | None, BeforeValidator(values.parse_command)] = None
    entrypoint: Annotated[list[str] | None, BeforeValidator(values.parse_command)] = None
    env: EnvList = Field(default_factory=dict)
    env_file: _parsed(tuple[values.EnvFile, ...], values.env_files, _PATHS) = None
    ports: list[Annotated[list[values.PortBinding], BeforeValidator(values.parse_ports)]] = Field(default_factory=list)
    expose: list[Annotated[list[str], BeforeValidator(values.parse_expose)]] | None = None
    volumes: list[Annotated[values.Mount, BeforeValidator(values.parse_mount)]] = Field(default_factory=list)
    tmpfs: _parsed(dict[str, str], values.parse_tmpfs, _LIST_OR_MAP) = None
    # [backend, frontend], or {backend: {aliases: [db.example.com]}}: the key is always an alias too
    networks: Attachments = Field(default_factory=list)
    network_mode: _parsed(str, values.parse_network_mode) = None
    hostname: DnsName | None = None
    domainname: DnsName | None = None
    dns: list[Annotated[str, BeforeValidator(values.ip_of(None))]] | None = None
    dns_search: list[DnsName] | None = None
    dns_opt: list[Annotated[str, Field(pattern=r"^[a-z0-9_-]+(:[0-9]+)?$")]] | None = None
    extra_hosts: _parsed(tuple[str, ...], values.parse_extra_hosts, _LIST_OR_MAP) = None
    restart: Annotated[tuple[str, int], BeforeValidator(values.parse_restart)] = ("no", 0)
    privileged: bool = False
    user: Text | None = None
    group_add: Texts | None = None
    cap_add: _parsed(tuple[str, ...], values.parse_capabilities, _NAMES) = None
    cap_drop: _parsed(tuple[str, ...], values.parse_capabilities, _NAMES) = None
    security_opt: list[Annotated[str, BeforeValidator(values.parse_security_opt)]] | None = None
    read_only: bool | None = None
    devices: list[Annotated[str, BeforeValidator(values.parse_device)]] | None = None
    gpus: _parsed(tuple[values.GpuRequest, ...], values.parse_gpus, _GPUS) = None  # untested: no GPU here
    sysctls: _parsed(dict[str, str], values.parse_sysctls, _LIST_OR_MAP) = None
    ulimits: _parsed(dict[str, tuple[int, int]], values.parse_ulimits, _ULIMITS) = None
    # resources, changed in place with `docker update`
    mem_limit: MemorySize | None = None
    mem_reservation: MemorySize | None = None
    memswap_limit: _parsed(int, values.parse_swap) = None  # memory + swap; -1: unlimited swap
    cpus: _parsed(int, values.parse_cpus) = None  # nano CPUs
    cpu_shares: int | None = Field(default=None, ge=2, le=262144)
    cpuset: _parsed(str, values.parse_cpuset) = None
    pids_limit: int | None = Field(default=None, ge=-1)
    shm_size: _parsed(int, values.at_least(values.parse_size, 1, "1")) = None
    oom_score_adj: int | None = Field(default=None, ge=-1000, le=1000)
    init: bool | None = None
    tty: bool | None = None
    stdin_open: bool | None = None
    working_dir: str | None = None
    labels: LabelList = Field(default_factory=dict)
    logging: Logging | None = None
    healthcheck: Healthcheck | None = None
    stop_signal: str | None = Field(default=None, pattern=r"^(SIG)?[A-Z0-9]+$|^[0-9]+$")
    stop_grace_period: Duration | None = None
    platform: _parsed(str, values.parse_platform) = None
    pull_policy: Literal["missing", "always", "never"] = "missing"
    run: Literal["always", "once"] = "always"  # once: a job run to completion (exit 0) before its dependents
    depends_on: Dependencies = Field(default_factory=list)
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

    @field_validator("env", mode="after")
    @classmethod
    def _env_names(cls, env: Any) -> dict[str, Any]:
        env = dict(env)  # the list form arrives as (name, value) pairs
        for name in env:
            values.check_env_name(name)
        return env

    @field_validator("labels", mode="after")
    @classmethod
    def _labels(cls, labels: Any) -> dict[str, str]:
        labels = dict(labels)
        for key, value in labels.items():
            if not isinstance(value, str):
                raise ValueError(f"label {key!r}: expected a string")
        return labels

    @property
    def attachments(self) -> dict[str, NetworkAttachment]:
        """Every network joined, in the order given, with its extra aliases."""
        if isinstance(self.networks, dict):
            return dict(self.networks)
        return {net: NetworkAttachment() for net in self.networks}

    @property
    def dependencies(self) -> list[tuple[str, int | str, Dependency]]:
        """(container key, where depends_on names it: its index or its key, how it is waited for), in order."""
        if isinstance(self.depends_on, dict):
            return [(key, key, dep) for key, dep in self.depends_on.items()]
        return [(key, i, Dependency()) for i, key in enumerate(self.depends_on)]

    @property
    def port_bindings(self) -> list[values.PortBinding]:
        return [binding for group in self.ports for binding in group]

    @property
    def environment(self) -> dict[str, Any]:
        """The env files' variables in order, then `env` (which wins), as the container gets them."""
        merged: dict[str, Any] = {}
        for env_file in self.env_file or ():
            merged.update(env_file.values)
        merged.update(self.env)
        return merged

    @property
    def exposed(self) -> list[str] | None:
        return None if self.expose is None else sorted({port for group in self.expose for port in group})


def _only_named(model: Model, noun: str) -> None:
    """compose's rule for `external: true`: the object is made elsewhere, so only its name may be given."""
    others = sorted(set(model.model_fields_set) - {"external", "name"})
    if model.external and others:
        raise ValueError(f"an external {noun} is only referenced, never created or changed: {others[0]} cannot be "
                         "given with external: true (only name)")


class Volume(Model):
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    engine: Key = "default"
    name: DockerName | None = None
    external: bool = False  # made elsewhere: referenced by its name (the key, without one), never created or removed
    driver: str = "local"
    driver_opts: dict[str, Text] = Field(default_factory=dict)
    labels: dict[str, Text] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _external(self) -> "Volume":
        _only_named(self, "volume")
        return self


class IpamPool(Model):
    """One subnet of a network (compose's `ipam.config` entry): the gateway and a range to assign from."""

    subnet: Annotated[str, BeforeValidator(values.parse_subnet)]
    gateway: Annotated[str | None, BeforeValidator(values.ip_of(None))] = None
    ip_range: Annotated[str | None, BeforeValidator(values.parse_subnet)] = None
    aux_addresses: dict[str, Annotated[str, BeforeValidator(values.ip_of(None))]] = Field(default_factory=dict)

    @property
    def network(self) -> Any:
        return ipaddress.ip_network(self.subnet)

    @model_validator(mode="after")
    def _inside(self) -> "IpamPool":
        for what, text in (("gateway", self.gateway), *((f"aux_addresses.{k}", v) for k, v in self.aux_addresses.items())):
            if text is not None and ipaddress.ip_address(text) not in self.network:
                raise ValueError(f"{what} {text} is outside the subnet {self.subnet}")
        if self.ip_range is not None:
            inner = ipaddress.ip_network(self.ip_range)
            if inner.version != self.network.version or not inner.subnet_of(self.network):
                raise ValueError(f"ip_range {self.ip_range} is not inside the subnet {self.subnet}")
        return self


class Ipam(Model):
    """compose's `ipam`: the address driver and the subnets of a network."""

    driver: str | None = None
    config: list[IpamPool] = Field(default_factory=list)
    options: dict[str, Text] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _disjoint(self) -> "Ipam":
        for i, pool in enumerate(self.config):
            for other in self.config[:i]:
                if pool.network.version == other.network.version and pool.network.overlaps(other.network):
                    raise ValueError(f"subnets {other.subnet} and {pool.subnet} overlap")
        return self


class Network(Model):
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    engine: Key = "default"
    name: DockerName | None = None
    external: bool = False  # made elsewhere: referenced by its name (the key, without one), never created or removed
    driver: str = "bridge"
    internal: bool = False
    labels: dict[str, Text] = Field(default_factory=dict)
    driver_opts: dict[str, Text] | None = None  # e.g. com.docker.network.bridge.name, com.docker.network.driver.mtu
    attachable: bool | None = None
    enable_ipv6: bool | None = None
    ipam: Ipam | None = None

    @model_validator(mode="after")
    def _ipv6_subnet(self) -> "Network":
        _only_named(self, "network")
        if self.ipam and any(p.network.version == 6 for p in self.ipam.config) and not self.enable_ipv6:
            raise ValueError("an IPv6 subnet needs enable_ipv6: true")
        return self


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
    lc_collate: str | None = None
    lc_ctype: str | None = None
    template: str | None = Field(default=None, min_length=1, max_length=63)  # used when it is created
    connection_limit: int | None = Field(default=None, ge=-1)  # None or -1: no limit
    allow_connections: bool = True
    public: DatabasePublic = Field(default_factory=DatabasePublic)
    settings: Settings = Field(default_factory=dict)
    extensions: Extensions = Field(default_factory=dict)

    @model_validator(mode="after")
    def _locale_or_parts(self) -> "Database":
        if self.locale and (self.lc_collate or self.lc_ctype):
            raise ValueError("give locale, or lc_collate and lc_ctype, not both (locale sets the two)")
        return self


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
    inherit: bool = True
    replication: bool = False
    bypassrls: bool = False
    connection_limit: int | None = Field(default=None, ge=-1)  # None or -1: no limit
    valid_until: ValidUntil = None  # None: no expiry
    settings: Settings = Field(default_factory=dict)
    member_of: RoleNames = Field(default_factory=list)  # users keys, or names of roles outside the spec
    grants: dict[Key, Annotated[list[str], BeforeValidator(_privileges)]] = Field(default_factory=dict)
    privileges: dict[Key, SchemaPrivileges] = Field(default_factory=dict)  # schemas key -> what it may do there
    default_privileges: dict[Key, DefaultPrivileges] = Field(default_factory=dict)  # schemas key -> on new objects
    on_drop: OnDrop | None = None  # None: what it owns goes to the admin


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
    engines: dict[Key, Engine] = Field(default_factory=dict)
    networks: dict[Key, Network] = Field(default_factory=dict)
    volumes: dict[Key, Volume] = Field(default_factory=dict)
    containers: dict[Key, Container] = Field(default_factory=dict)
    postgres: dict[Key, PostgresServer] = Field(default_factory=dict)
    databases: dict[Key, Database] = Field(default_factory=dict)
    users: dict[Key, User] = Field(default_factory=dict)
    schemas: dict[Key, Schema] = Field(default_factory=dict)
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
    _ref_paths: dict = PrivateAttr(default_factory=dict)
    _ref_attrs: dict = PrivateAttr(default_factory=dict)
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

    def ref_path(self, dependency: str, dependent: str) -> tuple:
        """The spec key path where `dependent` first refers to `dependency` (for error messages)."""
        return self._ref_paths.get((dependency, dependent)) or tuple(dependent.split(".", 1))

    def ref_attrs(self, dependency: str, dependent: str) -> frozenset[str]:
        """The attributes `dependent` uses of `dependency` (`name`, `host`, ...)."""
        return self._ref_attrs.get((dependency, dependent), frozenset({"name"}))

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
