"""A real Quay for the tests: built from source by scripts/test-env, started once per session by quayform.

The session's Quay (PostgreSQL, Redis, an upstream registry for mirrors, and Quay published on a
127.0.0.1 port) is a stack of its own. Each test then manages contents in it through a spec of
its own (its own stack name and organization), which names the instance by `url`, so tests never
see each other's objects, and the fixture's finalizer removes everything either way.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import textwrap
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.conftest import POSTGRES, REDIS, remove_stack
from tests.integration.helpers import Stack
from tests.ports import free_port

QUAY_IMAGE = "quayform-test/quay:src"
REGISTRY = "quayform-test/registry:2"
ADMIN = "quayadmin"
HOW_TO = ("no Quay image (quayform-test/quay:src): provide Quay's source with QUAYFORM_QUAY_SRC=<a clone of "
          "github.com/quay/quay at ffba0c70e2d8d522290a4fbbaa704dbf2fc37f34> and run scripts/test-env")

QUAY_CONFIG = """\
SETUP_COMPLETE: true
TESTING: false
AUTHENTICATION_TYPE: Database
SERVER_HOSTNAME: 127.0.0.1:${variables.port}
PREFERRED_URL_SCHEME: http
DATABASE_SECRET_KEY: "${secrets.database_key}"
SECRET_KEY: "${secrets.secret_key}"
DB_URI: postgresql://quay:${users.quay.password}@pgsql:5432/quay
BUILDLOGS_REDIS: {host: redis, port: 6379}
USER_EVENTS_REDIS: {host: redis, port: 6379}
DISTRIBUTED_STORAGE_CONFIG:
  default: [LocalStorage, {storage_path: /datastorage/registry}]
DISTRIBUTED_STORAGE_PREFERENCE: [default]
DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [default]
TAG_EXPIRATION_OPTIONS: [0s, 1d, 1w, 2w, 4w]
FEATURE_USER_INITIALIZE: true
SUPER_USERS: [quayadmin]
FEATURE_SUPERUSERS_FULL_ACCESS: true
BROWSER_API_CALLS_XHR_ONLY: false
FEATURE_MAILING: false
FEATURE_REPO_MIRROR: true
SSRF_ALLOWED_HOSTS: [upstream]
FEATURE_QUOTA_MANAGEMENT: true
FEATURE_AUTO_PRUNE: true
"""


def instance_spec(port: int) -> str:
    return textwrap.dedent(f"""\
        variables:
          port: "{port}"
        secrets:
          pg: {{env: QF_QUAY_PG}}
          quay_db: {{env: QF_QUAY_DB}}
          database_key: {{env: QF_QUAY_DBKEY}}
          secret_key: {{env: QF_QUAY_SECRET}}
          admin: {{env: QF_QUAY_ADMIN}}
        networks:
          net: {{}}
        containers:
          pgsql:
            image: {POSTGRES}
            env: {{POSTGRES_PASSWORD: "${{secrets.pg}}"}}
            networks: [net]
            healthcheck: {{test: ["CMD", "pg_isready", "-U", "postgres", "-h", "127.0.0.1"], interval: 500ms, retries: 120}}
          redis:
            image: {REDIS}
            networks: [net]
          upstream:
            image: {REGISTRY}
            networks: [net]
          quay:
            image: {QUAY_IMAGE}
            env:
              QUAY_SERVICES: nginx,gunicorn-registry,gunicorn-web,memcache,dnsmasq,servicekey
              WORKER_COUNT: "1"
              WORKER_COUNT_UNSUPPORTED_MINIMUM: "1"
            ports: ["127.0.0.1:{port}:8080"]
            networks: [net]
            depends_on: [pgsql, redis]
            stop_grace_period: 60s
            files:
              /conf/stack/config.yaml: {{template: quay-config.yaml, mode: "0600", owner: "1001:0"}}
            healthcheck:
              test: ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health/instance', timeout=5)"]
              interval: 1s
              timeout: 6s
              retries: 300
        postgres:
          main: {{container: pgsql}}
        databases:
          quay: {{server: main, owner: quay, extensions: [pg_trgm]}}
        users:
          quay: {{server: main, password: "${{secrets.quay_db}}"}}
        quay:
          main: {{container: quay, admin: {{username: {ADMIN}, password: "${{secrets.admin}}"}}}}
        """)


@dataclass
class QuayInstance:
    """The session's Quay: where it answers, and the admin's password."""

    url: str
    port: int
    admin_password: str
    stack: str

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        """A call as the admin, for tests that play 'someone changed it in Quay's UI'."""
        return admin_session(self).call(method, path, body)

    def spec_header(self, secrets: str = "") -> str:
        """The `quay:` section a test's spec uses to manage contents of this instance (with more
        `secrets:` entries, one per line, when the test needs them)."""
        return textwrap.dedent(f"""\
            secrets:
              quay_admin: {{env: QF_QUAY_ADMIN}}
            """) + textwrap.indent(textwrap.dedent(secrets), "  ") + textwrap.dedent(f"""\
            quay:
              main:
                url: {self.url}
                admin: {{username: {ADMIN}, password: "${{secrets.quay_admin}}"}}
            """)

    def environ(self) -> dict[str, str]:
        return {"QF_QUAY_ADMIN": self.admin_password}


class _AdminSession:
    def __init__(self, instance: QuayInstance):
        self.instance = instance
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        token = json.loads(self.opener.open(f"{instance.url}/csrf_token", timeout=30).read())["csrf_token"]
        request = urllib.request.Request(f"{instance.url}/api/v1/signin", method="POST", data=json.dumps(
            {"username": ADMIN, "password": instance.admin_password}).encode(),
            headers={"Content-Type": "application/json", "X-CSRF-Token": token})
        response = self.opener.open(request, timeout=30)
        self.csrf = response.headers.get("X-Next-CSRF-Token") or token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        request = urllib.request.Request(f"{self.instance.url}/api/v1{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json", "X-CSRF-Token": self.csrf})
        try:
            response = self.opener.open(request, timeout=30)
            status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, payload.decode(errors="replace")


_SESSIONS: dict[str, _AdminSession] = {}


def admin_session(instance: QuayInstance) -> _AdminSession:
    if instance.url not in _SESSIONS:
        _SESSIONS[instance.url] = _AdminSession(instance)
    return _SESSIONS[instance.url]


@pytest.fixture(scope="session")
def quay_image(engine: docker.APIClient) -> str:
    try:
        engine.inspect_image(QUAY_IMAGE)
    except docker.errors.NotFound:
        pytest.skip(HOW_TO)
    return QUAY_IMAGE


@pytest.fixture(scope="session")
def quay_instance(engine: docker.APIClient, quay_image: str, tmp_path_factory) -> QuayInstance:
    """One real Quay for the session, made (and taken down) by quayform itself."""
    folder = tmp_path_factory.mktemp("quay-instance")
    name = f"qfq-{uuid.uuid4().hex[:8]}"
    port = free_port()
    (folder / "quay-config.yaml").write_text(QUAY_CONFIG)
    environ = {"QF_QUAY_PG": secrets.token_urlsafe(16), "QF_QUAY_DB": secrets.token_urlsafe(16),
               "QF_QUAY_DBKEY": secrets.token_urlsafe(24), "QF_QUAY_SECRET": secrets.token_urlsafe(24),
               "QF_QUAY_ADMIN": "Adm1n-" + secrets.token_urlsafe(12)}
    stack = Stack(folder, name, environ).write(instance_spec(port))
    try:
        stack.apply()
        yield QuayInstance(f"http://127.0.0.1:{port}", port, environ["QF_QUAY_ADMIN"], name)
    finally:
        remove_stack(engine, name)


@pytest.fixture
def quay(quay_instance: QuayInstance, tmp_path: Path, stack: str):
    """A test's own spec on the session's Quay: write(body) prepends the instance; org() is a fresh name."""

    class QuayStack(Stack):
        organization = f"o{uuid.uuid4().hex[:10]}"

        def write(self, body: str, secrets: str = "") -> "QuayStack":  # type: ignore[override]
            super().write(quay_instance.spec_header(secrets) + textwrap.dedent(body))
            return self

    yield QuayStack(tmp_path, stack, quay_instance.environ())
    # What the test left in Quay goes with it: organizations it named (with everything inside).
    session = admin_session(quay_instance)
    status, user = session.call("GET", "/user/")
    for organization in (user or {}).get("organizations", []) if isinstance(user, dict) else []:
        if organization["name"].startswith(QuayStack.organization):
            for repository in (session.call("GET", f"/repository?namespace={organization['name']}")[1] or {}).get(
                    "repositories", []):
                session.call("DELETE", f"/repository/{organization['name']}/{repository['name']}")
            session.call("DELETE", f"/organization/{organization['name']}")


def docker_cli(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, env=env, timeout=300)
