"""Quay's config.yaml, as the spec renders it, checked against the rest of the spec by `validate`.

Every case starts from one valid spec (the shape of examples/quay-local plus a Clair that shares
Quay's scanner key) and makes one edit to it, so the error it expects is caused by that edit.
The CLI runs in a subprocess with DOCKER_HOST at a socket that does not exist: no engine is
needed or touched. `validate` reads no secrets; `plan` reads them and checks the same spec before
it would reach for the engine, so running both shows the check never prints a secret.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from quayform.errors import SpecError
from quayform.spec import load_spec

NO_ENGINE = "unix:///nonexistent/quayform-config-check-test.sock"
TIMEOUT = 60
QUAY_TEMPLATE = "templates/quay-config.yaml"
CLAIR_TEMPLATE = "templates/clair-config.yaml"
CONFIG_FILE = "containers.quay.files./conf/stack/config.yaml"

# Recognisable secret values: none of them may ever appear in what quayform prints.
SECRETS = {
    "QCC_PG_ADMIN": "pgadmin-S3CRET-1111",
    "QCC_DB_PASSWORD": "dbpass-S3CRET-2222",
    "QCC_CLAIR_DB_PASSWORD": "clairdb-S3CRET-3333",
    "QCC_DATABASE_SECRET_KEY": "dbkey-S3CRET-4444",
    "QCC_SECRET_KEY": "sessionkey-S3CRET-5555",
    "QCC_ADMIN_PASSWORD": "admin-S3CRET-6666",
    "QCC_SCANNER_PSK": "c2Nhbm5lci1TM0NSRVQtNzc3Nw==",
    "QCC_OTHER_PSK": "b3RoZXItUzNDUkVULTg4ODg=",
}
SECRET_MARK = "S3CRET"

SPEC = """\
version: 1
stack: qcc

variables:
  http_port: "8080"
  admin: quayadmin

secrets:
  pg_admin_password: {env: QCC_PG_ADMIN}
  quay_db_password: {env: QCC_DB_PASSWORD}
  clair_db_password: {env: QCC_CLAIR_DB_PASSWORD}
  database_secret_key: {env: QCC_DATABASE_SECRET_KEY}
  secret_key: {env: QCC_SECRET_KEY}
  admin_password: {env: QCC_ADMIN_PASSWORD}
  scanner_psk: {env: QCC_SCANNER_PSK}
  other_psk: {env: QCC_OTHER_PSK}

networks:
  quay: {}
  side: {}

volumes:
  pgsql-data: {}
  quay-storage: {}

containers:
  pgsql:
    image: quayform-test/postgres:15
    env:
      POSTGRES_PASSWORD: ${secrets.pg_admin_password}
    volumes: ["pgsql-data:/var/lib/postgresql/data"]
    networks: [quay]

  redis:
    image: quayform-test/redis:7
    networks: [quay]

  loner:
    image: quayform-test/redis:7
    networks: [side]

  upstream:
    image: quayform-test/registry:2
    networks: [quay]

  clair:
    image: quayform-test/clair:4
    networks: [quay]
    depends_on: [pgsql]
    files:
      /config/config.yaml: {template: templates/clair-config.yaml, mode: "0600"}

  quay:
    image: quayform-test/quay:src
    ports: ["127.0.0.1:${variables.http_port}:8080"]
    volumes: ["quay-storage:/datastorage"]
    networks: [quay]
    depends_on: [pgsql, redis, clair]
    files:
      /conf/stack/config.yaml: {template: templates/quay-config.yaml, mode: "0600", owner: "1001:0"}

postgres:
  main: {container: pgsql}

databases:
  quay: {server: main, owner: quayuser, extensions: [pg_trgm]}
  clair: {server: main, owner: clairuser}

users:
  quayuser: {server: main, password: "${secrets.quay_db_password}"}
  clairuser: {server: main, password: "${secrets.clair_db_password}"}

quay:
  main:
    container: quay
    admin: {username: "${variables.admin}", password: "${secrets.admin_password}", email: quayadmin@example.com}

organizations:
  demo: {email: demo@example.com, tag_expiration: 1w}

robots:
  pusher: {organization: demo, description: pushes images from CI}

repositories:
  busybox:
    organization: demo
    permissions:
      robots: {pusher: write}
  mirrored:
    organization: demo

mirrors:
  busybox:
    repository: mirrored
    upstream: upstream:5000/library/busybox
    tags: [latest]
    robot: pusher
    verify_tls: false
"""

QUAY_CONFIG = """\
# Quay's config.yaml, rendered by quayform (a test copy of examples/quay-local's).
SETUP_COMPLETE: true
TESTING: false
AUTHENTICATION_TYPE: Database
SERVER_HOSTNAME: 127.0.0.1:${variables.http_port}
PREFERRED_URL_SCHEME: http
DATABASE_SECRET_KEY: "${secrets.database_secret_key}"
SECRET_KEY: "${secrets.secret_key}"

DB_URI: postgresql://${users.quayuser.name}:${users.quayuser.password}@pgsql:5432/${databases.quay.name}
BUILDLOGS_REDIS: {host: redis, port: 6379}
USER_EVENTS_REDIS: {host: redis, port: 6379}

DISTRIBUTED_STORAGE_CONFIG:
  default:
    - LocalStorage
    - storage_path: /datastorage/registry
DISTRIBUTED_STORAGE_PREFERENCE: [default]
DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [default]

DEFAULT_TAG_EXPIRATION: 2w
TAG_EXPIRATION_OPTIONS: [0s, 1d, 1w, 2w, 4w]

FEATURE_USER_INITIALIZE: true
SUPER_USERS: ["${variables.admin}"]
FEATURE_SUPERUSERS_FULL_ACCESS: true
FEATURE_USER_CREATION: false
BROWSER_API_CALLS_XHR_ONLY: false
FEATURE_MAILING: false

FEATURE_SECURITY_SCANNER: true
SECURITY_SCANNER_V4_ENDPOINT: http://clair:8081
SECURITY_SCANNER_V4_PSK: "${secrets.scanner_psk}"

FEATURE_REPO_MIRROR: true
REPO_MIRROR_TLS_VERIFY: false
SSRF_ALLOWED_HOSTS: [upstream]
FEATURE_QUOTA_MANAGEMENT: true
FEATURE_AUTO_PRUNE: true
"""

CLAIR_CONFIG = """\
http_listen_addr: :8081
introspection_addr: :8089
log_level: info
indexer:
  connstring: &db >-
    host=pgsql port=5432 dbname=${databases.clair.name} sslmode=disable
    user=${users.clairuser.name} password=${users.clairuser.password}
  migrations: true
matcher:
  connstring: *db
  migrations: true
notifier:
  connstring: *db
  migrations: true
auth:
  psk:
    key: "${secrets.scanner_psk}"
    iss: [quay, clairctl]
"""


def edit(text: str, old: str, new: str) -> str:
    """`text` with the one occurrence of `old` replaced (an edit that misses fails the test, not passes it)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, pattern: str) -> int:
    """The 1-based line of the one line of `text` that matches `pattern` (a regex, searched)."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if re.search(pattern, line)]
    assert len(found) == 1, f"{pattern!r} matches lines {found}"
    return found[0]


@dataclass
class Stack:
    """A spec folder: quayform.yaml and its two templates, each editable before `write`."""

    folder: Path
    spec: str = SPEC
    quay: str = QUAY_CONFIG
    clair: str = CLAIR_CONFIG
    environ: dict[str, str] = field(default_factory=lambda: dict(SECRETS))

    def write(self) -> "Stack":
        for relative, text in (("quayform.yaml", self.spec), (QUAY_TEMPLATE, self.quay),
                               (CLAIR_TEMPLATE, self.clair)):
            (self.folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (self.folder / relative).write_text(text)
        return self

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """The console script in the spec's folder, without an engine."""
        self.write()
        environ = {**os.environ, **self.environ, "DOCKER_HOST": NO_ENGINE, "NO_COLOR": "1"}
        return subprocess.run([sys.executable, "-m", "quayform", *args], cwd=self.folder, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, env=environ, timeout=TIMEOUT)

    def load(self):
        """The spec loaded in-process with its secrets read (what plan and apply see)."""
        self.write()
        return load_spec(str(self.folder / "quayform.yaml"), None, environ=self.environ, read_secrets=True)


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return Stack(tmp_path)


def errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error: ")]


def assert_no_secret(*texts: str, secrets: dict[str, str] = SECRETS) -> None:
    for text in texts:
        assert SECRET_MARK.lower() not in text.lower()
        for value in secrets.values():
            assert value not in text


def assert_rejected(stack: Stack, file: str, line: int | None, fragment: str) -> str:
    """validate and plan both fail (exit 1) with an error at `file:line` that says `fragment`; nothing
    printed or raised holds a secret. Returns the error line."""
    found = ""
    for command in ("validate", "plan"):
        result = stack.run(command)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert_no_secret(result.stdout, result.stderr, secrets=stack.environ)
        where = f"Error: {file}:{line}: " if line is not None else f"Error: {file}: "
        matching = [e for e in errors(result) if e.startswith(where) and fragment in e]
        assert matching, f"{command}: no error at {where!r} saying {fragment!r} in:\n{result.stderr}"
        found = matching[0]
    with pytest.raises(SpecError) as info:
        stack.load()
    assert_no_secret(str(info.value), repr(info.value.problems), secrets=stack.environ)
    return found


def assert_accepted(stack: Stack) -> None:
    result = stack.run("validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("The spec is valid: stack 'qcc'"), result.stdout
    assert_no_secret(result.stdout, result.stderr, secrets=stack.environ)
    stack.load()  # with its secrets read, too


def quay_line(stack: Stack, key: str) -> int:
    return line_of(stack.quay, rf"^{re.escape(key)}:")


# --- the valid spec ---------------------------------------------------------------------------------

def test_the_base_spec_is_valid(stack: Stack) -> None:
    assert_accepted(stack)


def test_the_example_spec_is_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "quay-local"
    environ = {**os.environ, "DOCKER_HOST": NO_ENGINE, "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "quayform", "validate"], cwd=root, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, env=environ, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr


# --- DB_URI -----------------------------------------------------------------------------------------

DB_URI = "DB_URI: postgresql://${users.quayuser.name}:${users.quayuser.password}@pgsql:5432/${databases.quay.name}"


@pytest.mark.parametrize("uri, fragment", [
    ("postgresql://${users.quayuser.name}:${users.quayuser.password}@pgsql:5432/nosuchdb",
     "DB_URI names database 'nosuchdb', which is not declared on postgres.main"),
    ("postgresql://stranger:${users.quayuser.password}@pgsql:5432/${databases.quay.name}",
     "DB_URI names user 'stranger', which is not declared on postgres.main"),
    ("postgresql://${users.quayuser.name}:${users.quayuser.password}@redis:5432/${databases.quay.name}",
     "DB_URI names host 'redis', which is no PostgreSQL server of the spec"),
    ("postgresql://${users.quayuser.name}:${users.quayuser.password}@db.example.com:5432/${databases.quay.name}",
     "DB_URI names host 'db.example.com', which is no PostgreSQL server of the spec"),
], ids=["undeclared-database", "undeclared-user", "host-not-the-server", "host-not-a-container"])
def test_db_uri_must_name_what_the_spec_declares(stack: Stack, uri: str, fragment: str) -> None:
    stack.quay = edit(stack.quay, DB_URI, f"DB_URI: {uri}")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "DB_URI"), fragment)


def test_db_uri_database_needs_pg_trgm(stack: Stack) -> None:
    stack.spec = edit(stack.spec, "quay: {server: main, owner: quayuser, extensions: [pg_trgm]}",
                      "quay: {server: main, owner: quayuser, extensions: [hstore]}")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "DB_URI"),
                    "Quay needs the pg_trgm extension in its database: add it to databases.quay.extensions")


def test_db_uri_user_on_another_server_is_not_declared_there(stack: Stack) -> None:
    stack.spec = edit(stack.spec, "  main: {container: pgsql}\n",
                      "  main: {container: pgsql}\n  other: {container: pgsql2}\n")
    stack.spec = edit(stack.spec, "  redis:\n", "  pgsql2:\n    image: quayform-test/postgres:15\n"
                                                "    networks: [quay]\n\n  redis:\n")
    stack.spec = edit(stack.spec, "  clairuser: {server: main,", "  stranger: {server: other}\n"
                                                                 "  clairuser: {server: main,")
    stack.quay = edit(stack.quay, DB_URI, DB_URI.replace("${users.quayuser.name}", "${users.stranger.name}"))
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "DB_URI"),
                    "DB_URI names user 'stranger', which is not declared on postgres.main")


def test_db_uri_server_must_share_a_network_with_quay(stack: Stack) -> None:
    stack.spec = edit(stack.spec, "    volumes: [\"pgsql-data:/var/lib/postgresql/data\"]\n    networks: [quay]\n",
                      "    volumes: [\"pgsql-data:/var/lib/postgresql/data\"]\n    networks: [side]\n")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "DB_URI"),
                    "DB_URI names containers.pgsql, which shares no network with containers.quay")


def test_db_uri_is_checked_after_rendering(stack: Stack) -> None:
    """Names given by ${...} are checked as they render: a renamed user and database are accepted when
    the URI refers to them, and their keys (no longer their names) are refused."""
    stack.spec = edit(stack.spec, "  quay: {server: main, owner: quayuser,",
                      "  quay: {server: main, name: quay_registry, owner: quayuser,")
    stack.spec = edit(stack.spec, "  quayuser: {server: main,", "  quayuser: {server: main, name: quay_role,")
    stack.quay = edit(stack.quay, DB_URI, "DB_URI: postgresql://${users.quayuser.name}:${users.quayuser.password}"
                                          "@${containers.pgsql.name}:5432/${databases.quay.name}")
    assert_accepted(stack)

    stack.quay = QUAY_CONFIG.replace(DB_URI, "DB_URI: postgresql://quayuser:${users.quayuser.password}"
                                             "@pgsql:5432/${databases.quay.name}")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "DB_URI"), "DB_URI names user 'quayuser'")
    stack.quay = QUAY_CONFIG.replace(DB_URI, "DB_URI: postgresql://${users.quayuser.name}:"
                                             "${users.quayuser.password}@pgsql:5432/quay")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "DB_URI"),
                    "DB_URI names database 'quay', which is not declared on postgres.main (declared: clair, "
                    "quay_registry)")


@pytest.mark.parametrize("password", ["p@ss-S3CRET/x", "x/S3CRET", "S3CRET#x@y", "a:b@c/S3CRET?d"])
def test_db_uri_password_with_url_delimiters_stays_in_the_user_part(stack: Stack, password: str) -> None:
    """A password with URL delimiters in it is the user's part still: no part of it is taken for the host
    or the database (which an error would print), and validate and plan agree the spec is right."""
    stack.environ["QCC_DB_PASSWORD"] = password
    assert_accepted(stack)
    result = stack.run("plan")  # gets past the spec's checks to the (missing) engine
    assert result.returncode == 1
    assert all("cannot reach the Docker engine" in e for e in errors(result)), result.stderr
    assert_no_secret(result.stdout, result.stderr, secrets=stack.environ)


def test_db_uri_checked_with_a_variable_as_host(stack: Stack) -> None:
    stack.spec = edit(stack.spec, "  admin: quayadmin\n", "  admin: quayadmin\n  db_host: redis\n")
    stack.quay = edit(stack.quay, "@pgsql:5432", "@${variables.db_host}:5432")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "DB_URI"), "DB_URI names host 'redis'")


# --- Redis ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("setting", ["BUILDLOGS_REDIS", "USER_EVENTS_REDIS"])
@pytest.mark.parametrize("host, fragment", [
    ("cache.example.com", "names host 'cache.example.com', which is no container of the spec"),
    ("loner", "names containers.loner, which shares no network with containers.quay"),
], ids=["not-a-container", "no-shared-network"])
def test_redis_must_be_a_container_on_a_shared_network(stack: Stack, setting: str, host: str, fragment: str) -> None:
    stack.quay = edit(stack.quay, f"{setting}: {{host: redis, port: 6379}}", f"{setting}: {{host: {host}, port: 6379}}")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, setting), f"{setting} {fragment}")


def test_redis_on_dockers_bridge_is_not_reachable_by_name(stack: Stack) -> None:
    """A container with network_mode: bridge is on Docker's bridge, which resolves no container names."""
    stack.spec = edit(stack.spec, "  loner:\n    image: quayform-test/redis:7\n    networks: [side]\n",
                      "  loner:\n    image: quayform-test/redis:7\n    network_mode: bridge\n")
    stack.quay = edit(stack.quay, "BUILDLOGS_REDIS: {host: redis,", "BUILDLOGS_REDIS: {host: loner,")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "BUILDLOGS_REDIS"),
                    "BUILDLOGS_REDIS names containers.loner, which shares no network with containers.quay")


def test_redis_on_the_default_network_is_reachable_from_it(stack: Stack) -> None:
    """A container that names no network is on the stack's default network, as under compose."""
    stack.spec = edit(stack.spec, "  loner:\n    image: quayform-test/redis:7\n    networks: [side]\n",
                      "  loner:\n    image: quayform-test/redis:7\n")
    stack.quay = edit(stack.quay, "BUILDLOGS_REDIS: {host: redis,", "BUILDLOGS_REDIS: {host: loner,")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "BUILDLOGS_REDIS"),
                    "BUILDLOGS_REDIS names containers.loner, which shares no network with containers.quay")
    stack.spec = edit(stack.spec, "    volumes: [\"quay-storage:/datastorage\"]\n    networks: [quay]\n",
                      "    volumes: [\"quay-storage:/datastorage\"]\n    networks: [quay, default]\n")
    assert_accepted(stack)


def test_redis_reached_by_its_container_name(stack: Stack) -> None:
    stack.quay = edit(stack.quay, "BUILDLOGS_REDIS: {host: redis,",
                      'BUILDLOGS_REDIS: {host: "${containers.redis.name}",')
    assert_accepted(stack)


# --- misspelt settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("typo, meant", [
    ("BUILDLOG_REDIS", "BUILDLOGS_REDIS"),
    ("USER_EVENT_REDIS", "USER_EVENTS_REDIS"),
    ("FEATURE_REPO_MIRRORS", "FEATURE_REPO_MIRROR"),
    ("SUPER_USER", "SUPER_USERS"),
])
def test_a_misspelt_setting_suggests_the_right_one(stack: Stack, typo: str, meant: str) -> None:
    assert f"\n{meant}:" in stack.quay  # the setting is there, spelt right ...
    stack.quay += f"{typo}: true\n"  # ... and misspelt after it
    line = quay_line(stack, typo)
    error = assert_rejected(stack, QUAY_TEMPLATE, line, f"unknown Quay setting {typo!r} (did you mean {meant}?)")
    assert f"{QUAY_TEMPLATE}:{line}:" in error


def test_buildlog_redis_in_place_of_buildlogs_redis(stack: Stack) -> None:
    stack.quay = edit(stack.quay, "BUILDLOGS_REDIS:", "BUILDLOG_REDIS:")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "BUILDLOG_REDIS"),
                    "unknown Quay setting 'BUILDLOG_REDIS' (did you mean BUILDLOGS_REDIS?)")
    # ... and the setting it should have been is missing: that error names the template, too
    assert_rejected(stack, QUAY_TEMPLATE, None, "Quay needs BUILDLOGS_REDIS")


# --- the scanner key --------------------------------------------------------------------------------

PSK = 'SECURITY_SCANNER_V4_PSK: "${secrets.scanner_psk}"'
CLAIR_KEY = '    key: "${secrets.scanner_psk}"'


def test_scanner_key_from_different_secrets(stack: Stack) -> None:
    stack.clair = edit(stack.clair, CLAIR_KEY, '    key: "${secrets.other_psk}"')
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "SECURITY_SCANNER_V4_PSK"),
                    "SECURITY_SCANNER_V4_PSK and the key of containers.clair (/config/config.yaml) must come from "
                    "the same secret")


def test_scanner_key_a_secret_in_quay_and_a_literal_in_clair(stack: Stack) -> None:
    stack.clair = edit(stack.clair, CLAIR_KEY, '    key: "bm90LWEtc2VjcmV0"')
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "SECURITY_SCANNER_V4_PSK"), "must come from the same secret")


def test_scanner_key_another_secret_elsewhere_in_clair_does_not_count(stack: Stack) -> None:
    """Only auth.psk.key is Clair's key: the right secret on another line of Clair's config (here a
    notifier webhook's key) does not make a different psk key right."""
    stack.clair = edit(stack.clair, CLAIR_KEY, '    key: "${secrets.other_psk}"')
    stack.clair = edit(stack.clair, "notifier:\n",
                       'notifier:\n  webhook:\n    signing_key: "${secrets.scanner_psk}"\n')
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "SECURITY_SCANNER_V4_PSK"), "must come from the same secret")


def test_scanner_key_from_the_same_secret_is_accepted(stack: Stack) -> None:
    assert "${secrets.scanner_psk}" in stack.quay and CLAIR_KEY in stack.clair
    assert_accepted(stack)


def test_scanner_key_same_literal_on_both_sides_is_accepted(stack: Stack) -> None:
    stack.quay = edit(stack.quay, PSK, 'SECURITY_SCANNER_V4_PSK: "c2FtZS1saXRlcmFs"')
    stack.clair = edit(stack.clair, CLAIR_KEY, '    key: "c2FtZS1saXRlcmFs"')
    assert_accepted(stack)


def test_scanner_key_different_literals(stack: Stack) -> None:
    stack.quay = edit(stack.quay, PSK, 'SECURITY_SCANNER_V4_PSK: "c2FtZS1saXRlcmFs"')
    stack.clair = edit(stack.clair, CLAIR_KEY, '    key: "b3RoZXItbGl0ZXJhbA=="')
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "SECURITY_SCANNER_V4_PSK"), "must come from the same secret")


# --- features the declared contents need ------------------------------------------------------------

def _need(flag: str, what: str) -> str:
    return f"the spec declares {what}, which need {flag}: true in Quay's config.yaml"


QUOTA = "  demo: {email: demo@example.com, tag_expiration: 1w, quota: {limit: 10 GiB}}"
AUTO_PRUNE_ORG = ("  demo: {email: demo@example.com, tag_expiration: 1w, "
                  "auto_prune: [{method: number_of_tags, value: 10}]}")
ORG = "  demo: {email: demo@example.com, tag_expiration: 1w}"


@pytest.mark.parametrize("flag, what, spec_edit", [
    ("FEATURE_REPO_MIRROR", "mirrors", None),
    ("FEATURE_QUOTA_MANAGEMENT", "quotas", (ORG, QUOTA)),
    ("FEATURE_AUTO_PRUNE", "auto-prune policies", (ORG, AUTO_PRUNE_ORG)),
    ("FEATURE_AUTO_PRUNE", "auto-prune policies",
     ("  mirrored:\n    organization: demo\n",
      "  mirrored:\n    organization: demo\n    auto_prune: [{method: creation_date, value: 7d}]\n")),
    ("FEATURE_USER_INITIALIZE", "the first-user bootstrap of the admin", None),
], ids=["mirrors", "quota", "auto-prune-organization", "auto-prune-repository", "bootstrap"])
@pytest.mark.parametrize("state", ["off", "missing"])
def test_a_feature_the_spec_needs_is_off(stack: Stack, flag: str, what: str, spec_edit: tuple[str, str] | None,
                                         state: str) -> None:
    if spec_edit:
        stack.spec = edit(stack.spec, *spec_edit)
    if state == "off":
        stack.quay = edit(stack.quay, f"{flag}: true", f"{flag}: false")
        assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, flag), _need(flag, what))
    else:
        stack.quay = edit(stack.quay, f"{flag}: true\n", "")
        assert_rejected(stack, QUAY_TEMPLATE, None, _need(flag, what))


@pytest.mark.parametrize("flag, spec_edit", [
    ("FEATURE_REPO_MIRROR", (SPEC[SPEC.index("\nmirrors:\n"):], "\n")),
    ("FEATURE_QUOTA_MANAGEMENT", None),
    ("FEATURE_AUTO_PRUNE", None),
    ("FEATURE_USER_INITIALIZE", ("email: quayadmin@example.com}", "email: quayadmin@example.com, bootstrap: false}")),
], ids=["no-mirrors", "no-quota", "no-auto-prune", "bootstrap-false"])
def test_a_feature_nothing_needs_may_be_off(stack: Stack, flag: str, spec_edit: tuple[str, str] | None) -> None:
    if spec_edit:
        stack.spec = edit(stack.spec, *spec_edit)
    stack.quay = edit(stack.quay, f"{flag}: true", f"{flag}: false")
    assert_accepted(stack)


def test_bootstrap_error_says_how_to_turn_it_off(stack: Stack) -> None:
    stack.quay = edit(stack.quay, "FEATURE_USER_INITIALIZE: true", "FEATURE_USER_INITIALIZE: false")
    error = assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "FEATURE_USER_INITIALIZE"),
                            _need("FEATURE_USER_INITIALIZE", "the first-user bootstrap of the admin"))
    assert "set quay.main.admin.bootstrap: false" in error


# --- the admin --------------------------------------------------------------------------------------

@pytest.mark.parametrize("superusers", ['["someoneelse"]', "[]", '["${variables.admin}x"]'])
def test_the_admin_must_be_a_superuser(stack: Stack, superusers: str) -> None:
    stack.quay = edit(stack.quay, 'SUPER_USERS: ["${variables.admin}"]', f"SUPER_USERS: {superusers}")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "SUPER_USERS"),
                    "the admin 'quayadmin' of quay.main must be in SUPER_USERS")


def test_the_admin_checked_as_rendered(stack: Stack) -> None:
    """The admin's name and SUPER_USERS both come from ${variables.admin}: --var changes both."""
    stack.spec = edit(stack.spec, "  admin: quayadmin\n", "  admin: registryowner\n")
    assert_accepted(stack)
    stack.quay = edit(stack.quay, 'SUPER_USERS: ["${variables.admin}"]', "SUPER_USERS: [quayadmin]")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "SUPER_USERS"),
                    "the admin 'registryowner' of quay.main must be in SUPER_USERS")


def test_the_admin_missing_from_a_missing_super_users(stack: Stack) -> None:
    stack.quay = edit(stack.quay, 'SUPER_USERS: ["${variables.admin}"]\n', "")
    assert_rejected(stack, QUAY_TEMPLATE, None, "the admin 'quayadmin' of quay.main must be in SUPER_USERS")


# --- the config as rendered is YAML ----------------------------------------------------------------

def test_a_template_that_is_not_yaml(stack: Stack) -> None:
    stack.quay = edit(stack.quay, "TESTING: false\n", "TESTING: false\nREGISTRY_TITLE: [unclosed\n")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "REGISTRY_TITLE"),
                    "Quay's config.yaml is not valid YAML as rendered: while parsing a flow sequence")


@pytest.mark.parametrize("value", ["*alias-S3CRET", "!tag-S3CRET x", "a: b: S3CRET", "[S3CRET"])
def test_a_secret_that_breaks_the_yaml_is_not_printed(stack: Stack, value: str) -> None:
    """A secret written without quotes can make the rendered config invalid once plan reads it; the
    error says where, not what PyYAML found there (an alias, a tag: the secret's own text)."""
    stack.quay = edit(stack.quay, 'SECRET_KEY: "${secrets.secret_key}"', "SECRET_KEY: ${secrets.secret_key}")
    stack.environ["QCC_SECRET_KEY"] = value
    assert stack.run("validate").returncode == 0  # validate reads no secrets: the value is empty there
    result = stack.run("plan")
    assert result.returncode == 1
    assert_no_secret(result.stdout, result.stderr, secrets=stack.environ)
    where = f"Error: {QUAY_TEMPLATE}:{quay_line(stack, 'SECRET_KEY')}: "
    assert any(e.startswith(where) and "not valid YAML as rendered" in e for e in errors(result)), result.stderr


# --- lines and files --------------------------------------------------------------------------------

def test_lines_are_the_template_lines(stack: Stack) -> None:
    """Lines are counted in the template as written: comments and blank lines added above a key move
    the line the error gives."""
    stack.quay = "# one\n\n# two\n\n\n" + stack.quay
    stack.quay = edit(stack.quay, "SUPER_USERS: [\"${variables.admin}\"]", "SUPER_USERS: [nobody]")
    assert_rejected(stack, QUAY_TEMPLATE, quay_line(stack, "SUPER_USERS"), "must be in SUPER_USERS")


def test_several_errors_are_reported_together(stack: Stack) -> None:
    stack.quay = edit(stack.quay, "BUILDLOGS_REDIS: {host: redis,", "BUILDLOGS_REDIS: {host: loner,")
    stack.quay = edit(stack.quay, "FEATURE_REPO_MIRROR: true", "FEATURE_REPO_MIRROR: false")
    stack.quay = edit(stack.quay, 'SUPER_USERS: ["${variables.admin}"]', "SUPER_USERS: [nobody]")
    result = stack.run("validate")
    assert result.returncode == 1
    lines = errors(result)
    for key in ("BUILDLOGS_REDIS", "FEATURE_REPO_MIRROR", "SUPER_USERS"):
        assert any(e.startswith(f"Error: {QUAY_TEMPLATE}:{quay_line(stack, key)}: ") for e in lines), (key, lines)


# load_spec (quayform/spec/load.py) sets spec.path and spec.base_dir only after check_spec has run,
# so while the config is checked they are "quayform.yaml" and ".": the template is named, and read
# for its ${secrets...}, relative to the working directory instead of the spec's folder.
def test_a_spec_named_with_a_path_names_the_template_beside_it(stack: Stack) -> None:
    stack.quay = edit(stack.quay, 'SUPER_USERS: ["${variables.admin}"]', "SUPER_USERS: [nobody]")
    stack.write()
    environ = {**os.environ, **stack.environ, "DOCKER_HOST": NO_ENGINE, "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "quayform", "-f", str(stack.folder / "quayform.yaml"), "validate"],
                            cwd=stack.folder.parent, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            env=environ, timeout=TIMEOUT)
    assert result.returncode == 1
    where = f"Error: {stack.folder / QUAY_TEMPLATE}:{quay_line(stack, 'SUPER_USERS')}: "
    assert any(e.startswith(where) for e in errors(result)), result.stderr


def test_a_spec_named_with_a_path_has_its_scanner_key_checked(stack: Stack) -> None:
    stack.clair = edit(stack.clair, CLAIR_KEY, '    key: "${secrets.other_psk}"')
    stack.write()
    environ = {**os.environ, **stack.environ, "DOCKER_HOST": NO_ENGINE, "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "quayform", "-f", str(stack.folder / "quayform.yaml"), "validate"],
                            cwd=stack.folder.parent, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            env=environ, timeout=TIMEOUT)
    assert result.returncode == 1, result.stdout
    assert any("must come from the same secret" in e for e in errors(result)), result.stderr
