"""Quay-aware validate: Quay's own config.yaml, as the spec renders it, checked against the rest of the spec.

Only quayform sees both Quay's configuration and the stack it runs in, so it can say, before
anything runs and at the template's own line, what Quay would discover at start-up or never:
a DB_URI naming a database, user or server the spec does not declare (or a database without the
pg_trgm extension Quay needs), a Redis that is not a container on one of Quay's networks, a
Clair key that is not the secret Clair uses, a feature the declared contents need switched off,
an admin who is not a superuser, a tag expiration Quay would refuse, a misspelt setting.
"""

from __future__ import annotations

import difflib
import os
import re
from typing import Any, Iterator
from urllib.parse import unquote

import yaml

from quayform.address import Address
from quayform.later import Later
from quayform.sensitive import Sensitive

CONFIG_PATH = re.compile(r"(^|/)conf/stack/config\.yaml$")
# Settings quayform checks or that specs commonly carry: a key close to one of these is a typo.
KNOWN = (
    "SETUP_COMPLETE", "AUTHENTICATION_TYPE", "SERVER_HOSTNAME", "PREFERRED_URL_SCHEME", "DATABASE_SECRET_KEY",
    "SECRET_KEY", "DB_URI", "DB_CONNECTION_ARGS", "BUILDLOGS_REDIS", "USER_EVENTS_REDIS",
    "DISTRIBUTED_STORAGE_CONFIG", "DISTRIBUTED_STORAGE_PREFERENCE", "DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS",
    "DEFAULT_TAG_EXPIRATION", "TAG_EXPIRATION_OPTIONS", "FEATURE_USER_INITIALIZE", "FEATURE_USER_CREATION",
    "SUPER_USERS", "FEATURE_SUPERUSERS_FULL_ACCESS", "FEATURE_REPO_MIRROR", "FEATURE_QUOTA_MANAGEMENT",
    "FEATURE_AUTO_PRUNE", "FEATURE_MAILING", "FEATURE_SECURITY_SCANNER", "FEATURE_SECURITY_NOTIFICATIONS",
    "SECURITY_SCANNER_V4_ENDPOINT", "SECURITY_SCANNER_V4_PSK", "SECURITY_SCANNER_INDEXING_INTERVAL",
    "BROWSER_API_CALLS_XHR_ONLY", "REGISTRY_TITLE", "REGISTRY_TITLE_SHORT", "AVATAR_KIND", "TESTING",
    "SSRF_ALLOWED_HOSTS", "REPO_MIRROR_INTERVAL", "REPO_MIRROR_TLS_VERIFY", "FEATURE_CHANGE_TAG_EXPIRATION",
    "FEATURE_REQUIRE_TEAM_INVITE", "FEATURE_PROXY_STORAGE", "FEATURE_BUILD_SUPPORT", "FEATURE_ANONYMOUS_ACCESS",
    "LOGS_MODEL", "LOGS_MODEL_CONFIG", "FEATURE_EDIT_QUOTA", "DEFAULT_SYSTEM_REJECT_QUOTA_BYTES",
)
DEFAULT_TAG_OPTIONS = ("0s", "1d", "1w", "2w", "4w")
_SECRET_REF = re.compile(r"\$\{secrets\.([A-Za-z0-9_-]+)\}")


def _text(content: Any) -> str:
    """The rendered file as text to read (values known only after apply read as empty)."""
    if isinstance(content, Later):
        return "".join(p if isinstance(p, str) else (p.reveal() if isinstance(p, Sensitive) and not isinstance(p, Later)
                                                     else "") for p in content.parts)
    return content.reveal() if isinstance(content, Sensitive) else str(content)


class _Config:
    """One rendered config file: its values, the line of each top-level key, where to report."""

    def __init__(self, spec: Any, container_key: str, path: str, file: Any):
        self.spec, self.container_key, self.path, self.file = spec, container_key, path, file
        self.text = _text(file.content)
        self.source = os.path.join(os.path.dirname(spec.path), file.template) if file.template else None
        self.raw_lines = self._template_lines()
        self.data: dict[str, Any] = {}
        self.lines: dict[str, int] = {}
        self.node: yaml.Node | None = None
        self.error, self.error_line = "", None
        try:
            node = yaml.compose(self.text)
            loaded = yaml.safe_load(self.text)
        except yaml.YAMLError as exc:
            # Said where the construct began, and without what PyYAML quotes (it may be a secret's text).
            problem = getattr(exc, "context", None) or getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.error = re.split(r"['\"]", problem)[0].strip() or "it does not parse"
            mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
            self.error_line = mark.line + 1 if mark is not None else None
            return
        if isinstance(loaded, dict) and isinstance(node, yaml.MappingNode):
            self.data, self.node = loaded, node
            self.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}

    def _template_lines(self) -> list[str]:
        if not self.source:
            return []
        try:
            with open(os.path.join(self.spec.base_dir, self.file.template), encoding="utf-8") as handle:
                return handle.read().splitlines()
        except OSError:
            return []

    def where(self, key: str | None, line: int | None = None) -> tuple[tuple, tuple[str, int | None] | None]:
        """Where to report: the key's line (or `line`) in the template, or the template itself when the
        key is missing (that is where to add it); a file given inline is reported at the spec's line."""
        path = ("containers", self.container_key, "files", self.path)
        if self.source:
            return path, (self.source, self.lines.get(key) if key is not None else line)
        return path, None

    def secrets_in(self, *keys: str) -> set[str]:
        """The secrets the template refers to in the value at `keys` (e.g. "auth", "psk", "key")."""
        node, span = self.node, None
        for key in keys:
            found = next((pair for pair in node.value if isinstance(pair[0], yaml.ScalarNode) and
                          pair[0].value == key), None) if isinstance(node, yaml.MappingNode) else None
            if found is None:
                return set()
            node = found[1]
            span = (found[0].start_mark.line, node.end_mark.line + (1 if node.end_mark.column else 0))
        return set(_SECRET_REF.findall("\n".join(self.raw_lines[span[0]:span[1]]))) if span else set()


def _configs(spec: Any) -> Iterator[tuple[str, _Config]]:
    for key, quay in spec.quay.items():
        container = spec.containers.get(quay.container) if quay.container else None
        for path, file in (container.files.items() if container is not None else ()):
            if CONFIG_PATH.search(path):
                yield key, _Config(spec, quay.container, path, file)


def config_edges(spec: Any) -> Iterator[tuple[Address, Address, tuple]]:
    """What a Quay container needs running before it starts and until it is gone, as its config says:
    the database and user of DB_URI, the Redis containers. (Dependency, dependent, spec path.)"""
    for _, config in _configs(spec):
        if config.error:
            continue
        me, path = Address("containers", config.container_key), ("files", config.path)
        uri = config.data.get("DB_URI")
        if isinstance(uri, str) and uri:
            _, user, host, name = _db_uri_parts(uri)
            container = _container_key(spec, host)
            servers = {k for k, server in spec.postgres.items() if server.container == container}
            for section, wanted in (("databases", name), ("users", user)):
                for key, item in getattr(spec, section).items():
                    if item.server in servers and spec.name_of(section, key) == wanted:
                        yield Address(section, key), me, path
        for setting in ("BUILDLOGS_REDIS", "USER_EVENTS_REDIS"):
            value = config.data.get(setting)
            other = _container_key(spec, str(value.get("host", ""))) if isinstance(value, dict) else None
            if other is not None and other != config.container_key:
                yield Address("containers", other), me, path


def check_quay_config(spec: Any, report: Any) -> None:
    for key, config in _configs(spec):
        def problem(config_key: str | None, message: str) -> None:
            path, at = config.where(config_key)
            report(path, message, at=at)

        if config.error:
            path, at = config.where(None, config.error_line)
            report(path, f"Quay's config.yaml is not valid YAML as rendered: {config.error}", at=at)
            continue
        _typos(config, problem)
        _database(spec, config, problem)
        _redis(spec, config, problem)
        _features(spec, key, config, problem)
        _clair_key(spec, config, problem)


def _typos(config: _Config, problem: Any) -> None:
    for setting in config.data:
        if setting in KNOWN or not isinstance(setting, str):
            continue
        close = difflib.get_close_matches(setting, KNOWN, n=1, cutoff=0.85)
        if close:
            problem(setting, f"unknown Quay setting {setting!r} (did you mean {close[0]}?); Quay ignores it")


def _share_network(spec: Any, one: str, other: str) -> bool:
    """Whether two containers can reach each other by name: only on a network of the spec (a container
    without networks is on the default network; Docker's bridge, network_mode: bridge, resolves no names)."""
    return bool(set(spec.containers[one].networks) & set(spec.containers[other].networks))


def _container_key(spec: Any, host: str) -> str | None:
    """The container a host name reaches on the stack's networks: its key (an alias on each of its
    networks), its name, or one of the aliases it is given on a network."""
    for key, container in spec.containers.items():
        aliases = {a for attached in container.attachments.values() for a in attached.aliases}
        if host in (key, spec.name_of("containers", key)) or host in aliases:
            return key
    return None


def _db_uri_parts(uri: str) -> tuple[str, str, str, str]:
    """Scheme, user, host and database of a DB_URI. The user's part ends at the last '@', so a password
    with '@', '/', '?' or '#' in it (a secret's value) never spills into the host or database shown."""
    scheme, _, rest = uri.partition("://")
    userinfo, _, location = rest.rpartition("@")
    hostport, _, database = location.partition("/")
    host = re.match(r"\[[^\]]*\]|[^:]*", hostport).group(0)
    return scheme, unquote(userinfo.partition(":")[0]), host, unquote(re.split(r"[?#]", database)[0])


def _database(spec: Any, config: _Config, problem: Any) -> None:
    uri = config.data.get("DB_URI")
    if not isinstance(uri, str) or not uri:
        problem("DB_URI" if "DB_URI" in config.data else None, "Quay needs DB_URI (its PostgreSQL database)")
        return
    scheme, user, host, name = _db_uri_parts(uri)
    if scheme.split("+")[0] not in ("postgresql", "postgres"):
        return  # another database engine: nothing of the spec to check it against
    container = _container_key(spec, host)
    servers = [k for k, s in spec.postgres.items() if s.container == container]
    if container is None or not servers:
        problem("DB_URI", f"DB_URI names host {host!r}, which is no PostgreSQL server of the spec (a postgres: entry "
                          "whose container is reached as that name)")
        return
    if not _share_network(spec, config.container_key, container):
        problem("DB_URI", f"DB_URI names containers.{container}, which shares no network with "
                          f"containers.{config.container_key}")
    databases = {spec.name_of("databases", k): k for k, d in spec.databases.items() if d.server in servers}
    users = {spec.name_of("users", k) for k, u in spec.users.items() if u.server in servers}
    if name not in databases:
        problem("DB_URI", f"DB_URI names database {name!r}, which is not declared on postgres.{servers[0]} "
                          f"(declared: {', '.join(sorted(databases)) or 'none'})")
    elif "pg_trgm" not in spec.databases[databases[name]].extensions:
        problem("DB_URI", f"Quay needs the pg_trgm extension in its database: add it to "
                          f"databases.{databases[name]}.extensions")
    if user and user not in users:
        problem("DB_URI", f"DB_URI names user {user!r}, which is not declared on postgres.{servers[0]}")


def _redis(spec: Any, config: _Config, problem: Any) -> None:
    for setting in ("BUILDLOGS_REDIS", "USER_EVENTS_REDIS"):
        value = config.data.get(setting)
        if not isinstance(value, dict):
            problem(setting if setting in config.data else None, f"Quay needs {setting} (host and port of a Redis)")
            continue
        host = str(value.get("host", ""))
        other = _container_key(spec, host)
        if other is None:
            problem(setting, f"{setting} names host {host!r}, which is no container of the spec")
        elif not _share_network(spec, config.container_key, other):
            problem(setting, f"{setting} names containers.{other}, which shares no network with "
                             f"containers.{config.container_key}")


def _features(spec: Any, key: str, config: _Config, problem: Any) -> None:
    data = config.data
    organizations = [k for k, o in spec.organizations.items() if (o.quay or next(iter(spec.quay), "")) == key]
    repositories = {k: r for k, r in spec.repositories.items() if r.organization in organizations}
    needs = [("FEATURE_REPO_MIRROR", "mirrors", any(m.repository in repositories for m in spec.mirrors.values())),
             ("FEATURE_QUOTA_MANAGEMENT", "quotas", any(spec.organizations[o].quota for o in organizations)),
             ("FEATURE_AUTO_PRUNE", "auto-prune policies", any(spec.organizations[o].auto_prune for o in organizations)
              or any(r.auto_prune for r in repositories.values()))]
    if spec.quay[key].admin.bootstrap:
        needs.append(("FEATURE_USER_INITIALIZE", "the first-user bootstrap of the admin", True))
    for flag, what, needed in needs:
        if needed and data.get(flag) is not True:
            problem(flag if flag in data else None, f"the spec declares {what}, which need {flag}: true in Quay's "
                                                    "config.yaml" + ("" if flag != "FEATURE_USER_INITIALIZE" else
                                                                     " (or set quay." + key + ".admin.bootstrap: false "
                                                                     "when the admin exists already)"))
    admin = spec.quay[key].admin.username
    superusers = data.get("SUPER_USERS") or []
    if admin not in [str(u) for u in superusers]:
        problem("SUPER_USERS" if "SUPER_USERS" in data else None,
                f"the admin {admin!r} of quay.{key} must be in SUPER_USERS")
    options = [str(o) for o in data.get("TAG_EXPIRATION_OPTIONS") or DEFAULT_TAG_OPTIONS]
    from quayform.spec.quay_models import parse_period

    allowed = {parse_period(o) for o in options if re.fullmatch(r"\d+[smhdw]", o)}
    for name in organizations:
        expiration = spec.organizations[name].tag_expiration
        if expiration is not None and expiration not in allowed:
            problem("TAG_EXPIRATION_OPTIONS" if "TAG_EXPIRATION_OPTIONS" in data else None,
                    f"organizations.{name}.tag_expiration ({expiration}s) is not one of Quay's TAG_EXPIRATION_OPTIONS "
                    f"({', '.join(options)})")


def _clair_key(spec: Any, config: _Config, problem: Any) -> None:
    if "SECURITY_SCANNER_V4_PSK" not in config.data:
        return
    mine = config.secrets_in("SECURITY_SCANNER_V4_PSK")
    for key, container in spec.containers.items():
        for path, file in container.files.items():
            if key == config.container_key or "clair" not in (path + key).lower():
                continue
            clair = _Config(spec, key, path, file)
            psk = ((clair.data.get("auth") or {}).get("psk") or {}) if isinstance(clair.data.get("auth"), dict) else {}
            if not isinstance(psk, dict) or "key" not in psk:
                continue  # (validate reads no secrets: a key from one is empty here, and still checked)
            theirs = clair.secrets_in("auth", "psk", "key")
            same_value = str(psk.get("key")) == str(config.data.get("SECURITY_SCANNER_V4_PSK"))
            if (mine or theirs) and not mine & theirs or not mine and not theirs and not same_value:
                problem("SECURITY_SCANNER_V4_PSK", f"SECURITY_SCANNER_V4_PSK and the key of containers.{key} "
                                                   f"({path}) must come from the same secret")
