"""`quayform convert`: compose files in (tests/fixtures/compose/), specs that validate out, and every
key that could not be carried reported with its line in the compose file. No engine needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from quayform.convert import convert, dump
from quayform.spec import load_spec
from quayform.spec.models import Container, Healthcheck, Network, NetworkAttachment
from quayform.spec.yaml_loader import format_path, load_yaml

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compose"
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKER_HOST": "unix:///nonexistent",
       **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}

# Per fixture: the compose file, the stack, and the notes that must be printed, (line, key path, words);
# nothing else may be. The keys these files give that quayform does not carry by design.
CASES = {
    "webapp": ("docker-compose.yml", "shop-app", [
        (2, "name", "compose's project name 'shop_app' is the stack name 'shop-app'"),
        (8, "services.web.environment.DATABASE_URL", "${DB_PASSWORD} looks like a secret, but quayform shows "
                                                     "variables in plans"),
        (12, "services.web.env_file", "the 3 values of web.env are copied into env ("),
        (34, "services.web.deploy.replicas", "not supported (swarm's deployment settings"),
        (40, "services.migrate.environment[1]", "HOME takes its value from the shell in compose"),
        (47, "services.db.environment.POSTGRES_PASSWORD", "${DB_PASSWORD:?set DB_PASSWORD in .env}: compose "
                                                          "requires this variable"),
        (68, "services.adminer.profiles", "left out: compose starts it only with its profile"),
    ]),
    "registry": ("compose.yaml", "registry", [
        (55, "services.core.depends_on.redis.restart", "not supported (quayform replaces a container only when"),
        (92, "services.jobservice.build", "the spec names the image compose would build, registry-jobservice"),
        (93, "services.jobservice.links", "not supported (containers on a shared network reach each other"),
        (94, "services.jobservice.scale", "not supported (one container per key"),
        (98, "services.jobservice.deploy.placement", "not supported (swarm's deployment settings"),
        (123, "secrets.license_key", "not supported (an external secret lives in a swarm)"),
    ]),
    "anchors": ("docker-compose.yaml", "anchors", [
        (29, "services.queue.ports[0].app_protocol", "not carried (quayform publishes the port"),
        (60, "services.worker-reports.volumes[0].bind.propagation", "not carried (quayform mounts host paths"),
    ]),
}
# Keys quayform carries once its models have them (another change adds container options): either
# in the spec, or noted at their line. (fixture, key path in the compose file, model, field)
S = "services"
MODEL_DEPENDENT = [
    ("webapp", (S, "web", "healthcheck", "start_interval"), Healthcheck, "start_interval"),
    ("registry", (S, "proxy", "cap_drop"), Container, "cap_drop"),
    ("registry", (S, "proxy", "cap_add"), Container, "cap_add"),
    ("registry", (S, "proxy", "logging"), Container, "logging"),
    ("registry", (S, "core", "env_file", 0), Container, "env_file"),
    ("registry", (S, "core", "networks", "backend", "ipv4_address"), Network, "ipam"),
    ("registry", (S, "core", "cap_drop"), Container, "cap_drop"),
    ("registry", (S, "core", "cap_add"), Container, "cap_add"),
    ("registry", (S, "registry", "cap_drop"), Container, "cap_drop"),
    ("registry", (S, "postgresql", "shm_size"), Container, "shm_size"),
    ("registry", (S, "redis", "sysctls"), Container, "sysctls"),
    ("registry", (S, "redis", "ulimits"), Container, "ulimits"),
    ("registry", (S, "jobservice", "deploy", "resources"), Container, "mem_limit"),
    ("registry", ("networks", "backend", "ipam"), Network, "ipam"),
    ("anchors", (S, "queue", "volumes", 1), Container, "tmpfs"),
    ("anchors", (S, "queue", "logging"), Container, "logging"),
    ("anchors", (S, "worker-emails", "logging"), Container, "logging"),
    ("anchors", (S, "worker-reports", "logging"), Container, "logging"),
]


def line_of(name: str, path: tuple) -> int:
    compose = FIXTURES / name / CASES[name][0]
    return load_yaml(compose.read_text(), str(compose)).lines[path]


def quayform(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "quayform", *args], cwd=folder, capture_output=True, text=True,
                          env=ENV, timeout=60)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Each fixture folder copied and converted once with `quayform convert`, the spec beside the compose file."""
    out = {}
    base = tmp_path_factory.mktemp("convert")
    for name, (compose_file, _, _) in CASES.items():
        folder = base / name  # the folder's name is the project's when the file has no `name:`
        shutil.copytree(FIXTURES / name, folder)
        out[name] = (quayform(folder, "convert", compose_file), folder)
    return out


@pytest.mark.parametrize("name", CASES)
def test_the_converted_spec_validates(converted, name: str) -> None:
    run, folder = converted[name]
    compose_file, stack, _ = CASES[name]
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"Wrote quayform.yaml (stack {stack!r}) from {compose_file}.\n"
    check = quayform(folder, "validate")
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"The spec is valid: stack {stack!r}")


@pytest.mark.parametrize("name", CASES)
def test_every_key_it_cannot_carry_is_listed_with_its_line(converted, name: str) -> None:
    run, _ = converted[name]
    compose_file, _, expected = CASES[name]
    notes = run.stderr.splitlines()
    expected_keys = {(line, key) for line, key, _ in expected}
    optional = {(line_of(name, path), format_path(path)) for fixture, path, _, _ in MODEL_DEPENDENT if fixture == name}
    for line, key, words in expected:
        prefix = f"{compose_file}:{line}: {key}: "
        assert any(n.startswith(prefix) and words in n for n in notes), f"no note {prefix}{words}\n{run.stderr}"
    for note in notes:
        where, key = note.split(": ")[0:2]
        assert (int(where.rpartition(":")[2]), key) in expected_keys | optional, f"unexpected note: {note}"


@pytest.mark.parametrize(("name", "path", "model", "field"), MODEL_DEPENDENT,
                         ids=[f"{n}:{format_path(p)}" for n, p, *_ in MODEL_DEPENDENT])
def test_options_the_models_know_are_carried_and_the_others_noted(converted, name, path, model, field) -> None:
    run, _ = converted[name]
    prefix = f"{CASES[name][0]}:{line_of(name, path)}: {format_path(path)}: "
    noted = any(n.startswith(prefix) for n in run.stderr.splitlines())
    assert noted is (field not in model.model_fields), run.stderr


# --------------------------------------------------------------------------- what the specs say

def _spec(converted, name: str):
    _, folder = converted[name]
    return load_spec(str(folder / "quayform.yaml"), environ={}, read_secrets=False)


def test_the_web_app_keeps_its_order_health_and_variables(converted) -> None:
    spec = _spec(converted, "webapp")
    web, db = spec.containers["web"], spec.containers["db"]
    assert set(spec.containers) == {"web", "migrate", "db", "cache"}  # adminer has a profile
    assert web.image == "example/shop:1.5"  # ${TAG:-1.4}: the default in the spec, 1.5 from the .env beside it
    assert spec.variables["TAG"] == "1.4" and spec.variables["HTTP_PORT"] == "8000"  # the declared defaults
    assert {dep: d.condition for dep, _, d in web.dependencies} == {
        "db": "service_healthy", "cache": "service_started", "migrate": "service_completed_successfully"}
    assert spec.containers["migrate"].run == "once" and web.run == "always"  # the job web waits for runs once
    assert web.port_bindings[0].host_ip == "127.0.0.1" and web.port_bindings[0].host_port == "8000"
    env = web.environment if hasattr(web, "environment") and not isinstance(web.environment, str) else web.env
    assert env["GREETING"] == "Hello, ${USER}"  # single-quoted in web.env: literal, as compose reads it
    assert env["DATABASE_URL"] == "postgresql://shop:not-a-real-password@db/shop"
    assert env["WORKERS"] == "4" and env["LOG_LEVEL"] == "info"
    assert db.healthcheck.interval == 5_000_000_000 and db.restart == ("always", 0)
    assert web.labels["traefik.http.routers.shop.rule"] == "Host(`shop.example.com`)"
    assert [m.source for m in db.volumes] == ["pg-data", "./initdb"]
    assert web.networks == ["default"] and "default" in spec.networks
    assert spec.volumes["cache-data"].labels == {"backup": "no"}


def test_the_registry_gets_files_for_secrets_and_configs(converted) -> None:
    spec = _spec(converted, "registry")
    core, proxy = spec.containers["core"], spec.containers["proxy"]
    assert spec.secrets["core_secret"].file == "secrets/core_secret.txt"
    assert spec.secrets["db_password"].env == "HARBOR_DB_PASSWORD"
    assert "license_key" not in spec.secrets
    files = core.files
    assert files["/run/secrets/core_secret"].mode == 0o444
    assert files["/run/secrets/postgresql_password"].mode == 0o400
    assert files["/run/secrets/postgresql_password"].owner == "10000:10000"
    assert files["/core_app_conf"].content == "appname = Harbor\nrunmode = prod\nenablegzip = true\n"
    nginx = proxy.files["/etc/nginx/nginx.conf"]
    assert nginx.template == "config/nginx/nginx.conf" and "proxy_pass http://core:8080" in nginx.content
    assert proxy.name == "registry-proxy"
    assert proxy.attachments["frontend"].aliases == ["registry.example.com", "harbor.example.com"]
    assert proxy.attachments["backend"].aliases == []
    assert spec.containers["redis"].attachments["backend"].aliases == ["cache"]
    assert spec.networks["backend"].internal is True
    assert spec.volumes["db-data"].name == "harbor_database"
    assert [(m.kind, m.source, m.read_only) for m in core.volumes] == [
        ("volume", "core-data", False), ("bind", "./config/core/certificates", True)]
    assert spec.containers["jobservice"].image == "registry-jobservice"


def test_anchors_merges_and_long_forms_are_resolved(converted) -> None:
    spec = _spec(converted, "anchors")
    emails, reports, queue = (spec.containers[k] for k in ("worker-emails", "worker-reports", "queue"))
    assert emails.image == reports.image == "example/worker:2.0"
    assert emails.restart == reports.restart == ("on-failure", 3)
    assert emails.command == ["worker", "--queue", "emails"]
    assert reports.command == ["worker", "--queue", "reports", "--cost", "$5 per run"]  # compose's $$ is $
    assert emails.env["QUEUE_NAME"] == "emails" and emails.env["QUEUE_URL"] == "redis://queue:6379"
    assert "QUEUE_NAME" not in reports.env
    assert [str(b) for b in queue.port_bindings] == ["127.0.0.1:6379->6379/tcp"]
    assert [str(b) for b in reports.port_bindings] == ["::1:->9100/tcp", "127.0.0.1:->9200/udp"]
    assert [(m.kind, m.target, m.read_only) for m in reports.volumes] == [
        ("bind", "/srv/reports", False), ("bind", "/srv/shared", True), ("anonymous", "/var/cache/reports", False)]
    assert [(m.kind, m.options) for m in queue.volumes] == [("volume", ("nocopy",))]
    assert reports.healthcheck is not None and reports.stop_signal == "SIGINT"
    assert spec.networks["jobs"].labels == {"team": "platform", "purpose": "jobs"}
    text = (converted["anchors"][1] / "quayform.yaml").read_text()
    assert "x-logging" not in text and "x-team" not in text and "&" not in text and "<<" not in text  # resolved


def test_convert_refuses_to_overwrite_and_writes_to_stdout(converted) -> None:
    _, folder = converted["anchors"]
    again = quayform(folder, "convert", "docker-compose.yaml")
    assert again.returncode == 1 and "quayform.yaml exists: give --force" in again.stderr
    out = quayform(folder, "convert", "-o", "-")
    assert out.returncode == 0 and out.stdout == (folder / "quayform.yaml").read_text()


def test_convert_finds_the_compose_file_and_writes_elsewhere(tmp_path) -> None:
    shutil.copytree(FIXTURES / "webapp", tmp_path / "app")
    (tmp_path / "deploy").mkdir()
    run = quayform(tmp_path / "app", "convert", "-o", "../deploy/quayform.yaml", "--stack", "shop")
    assert run.returncode == 0, run.stderr
    assert "Warning: ../deploy/quayform.yaml reads the .env beside it, not the one beside docker-compose.yml" \
        in run.stderr
    text = (tmp_path / "deploy" / "quayform.yaml").read_text()
    assert "stack: shop\n" in text and "../app/initdb:/docker-entrypoint-initdb.d:ro" in text
    assert quayform(tmp_path / "deploy", "validate").returncode == 0


def test_no_compose_file_is_a_usage_error(tmp_path) -> None:
    run = quayform(tmp_path, "convert")
    assert run.returncode == 1
    assert "no compose file here (compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)" in run.stderr


# --------------------------------------------------------------------------- the pure function

def conv(text: str, tmp_path: Path, files: dict[str, str] | None = None, spec_dir: Path | None = None):
    """convert() on a compose text in the folder tmp_path/app, reading `files` (relative to it) when asked."""
    project = tmp_path / "app"
    project.mkdir(exist_ok=True)
    known = {str(project / name): body for name, body in (files or {}).items()}
    loaded = load_yaml(textwrap.dedent(text), "compose.yaml")
    result = convert(loaded, "compose.yaml", str(project), str(spec_dir or project), known.get)
    return load_yaml(result.text, "out.yaml").data, [str(n) for n in result.notes]


@pytest.mark.parametrize(
    ("value", "written", "variables"),
    [
        ("busybox:${TAG:-1.36}", "busybox:${variables.TAG}", {"TAG": "1.36"}),
        ("busybox:${TAG-1.36}", "busybox:${variables.TAG}", {"TAG": "1.36"}),
        ("busybox:$TAG", "busybox:${variables.TAG}", {"TAG": ""}),
        ("busybox:${TAG}", "busybox:${variables.TAG}", {"TAG": ""}),
        ("echo $$HOME", "echo $HOME", {}),
        ("echo $${HOME}", "echo $${HOME}", {}),
        ("cost: $5", "cost: $5", {}),
        ("${A:-x}-${B:-y}", "${variables.A}-${variables.B}", {"A": "x", "B": "y"}),
        ("${_PRIVATE:-1}", "${variables.PRIVATE}", {"PRIVATE": "1"}),
    ],
)
def test_interpolation_becomes_quayform_s_spelling(tmp_path, value, written, variables) -> None:
    data, _ = conv(f"services:\n  web:\n    image: busybox\n    command: {value!r}\n", tmp_path)
    assert data["containers"]["web"]["command"] == written
    assert data.get("variables", {}) == variables


@pytest.mark.parametrize(
    ("value", "note"),
    [
        ("${NEEDED:?set it}", "compose.yaml:4: services.web.command: ${NEEDED:?set it}: compose requires this "
                              "variable"),
        ("${SET:+yes}", "compose.yaml:4: services.web.command: ${SET:+yes}: compose's alternative-value form has "
                        "no quayform spelling"),
        ("${A:-${B}}", "compose.yaml:4: services.web.command: ${A:-${B}}: a default made of other variables "
                       "cannot be carried"),
        ("${bad name}", "compose.yaml:4: services.web.command: ${bad name} is not a valid interpolation"),
    ],
)
def test_interpolation_that_cannot_be_carried_is_noted(tmp_path, value, note) -> None:
    _, notes = conv(f"services:\n  web:\n    image: busybox\n    command: {value!r}\n", tmp_path)
    assert any(n.startswith(note) for n in notes), notes


def test_one_default_per_variable(tmp_path) -> None:
    data, notes = conv("""\
        services:
          a: {image: "x:${TAG:-1}"}
          b: {image: "x:${TAG:-2}"}
          c: {image: "x:${TAG}"}
        """, tmp_path)
    assert data["variables"] == {"TAG": "1"}
    assert notes == ["compose.yaml:3: services.b.image: ${TAG:-2}: variables.TAG already has the default '1' from an "
                     "earlier line; quayform keeps one default per variable"]


@pytest.mark.parametrize(
    ("port", "written"),
    [
        (80, "80"),
        ("8080:80", "8080:80"),
        ({"target": 80}, "80"),
        ({"target": 80, "published": 8080}, "8080:80"),
        ({"target": 80, "published": "8000-8001"}, "8000-8001:80"),
        ({"target": 53, "published": 5353, "protocol": "udp"}, "5353:53/udp"),
        ({"target": 80, "host_ip": "127.0.0.1"}, "127.0.0.1::80"),
        ({"target": 80, "host_ip": "::1", "published": 8080}, "[::1]:8080:80"),
        ({"target": 80, "published": 8080, "mode": "ingress"}, "8080:80"),
    ],
)
def test_ports_short_and_long(tmp_path, port, written) -> None:
    data, notes = conv(f"services:\n  web: {{image: x, ports: [{json.dumps(port)}]}}\n", tmp_path)
    assert data["containers"]["web"]["ports"] == [written] and notes == []


@pytest.mark.parametrize(
    ("volume", "written"),
    [
        ("data:/d", "data:/d"),
        ("./conf:/etc/conf:ro", "./conf:/etc/conf:ro"),
        ("/abs:/abs", "/abs:/abs"),
        ("~/x:/x", "~/x:/x"),
        ("/anonymous", "/anonymous"),
        ({"type": "volume", "source": "data", "target": "/d", "read_only": True}, "data:/d:ro"),
        ({"type": "volume", "target": "/anon"}, "/anon"),
        ({"type": "bind", "source": "./conf", "target": "/c", "bind": {"selinux": "z"}}, "./conf:/c:z"),
        ({"type": "bind", "source": "conf", "target": "/c"}, "./conf:/c"),
        ({"type": "volume", "source": "data", "target": "/d", "volume": {"nocopy": True}}, "data:/d:nocopy"),
    ],
)
def test_volumes_short_and_long(tmp_path, volume, written) -> None:
    data, notes = conv(f"services:\n  web: {{image: x, volumes: [{json.dumps(volume)}]}}\nvolumes: {{data: }}\n",
                       tmp_path)
    assert data["containers"]["web"]["volumes"] == [written] and notes == []


def test_relative_host_paths_follow_the_spec_elsewhere(tmp_path) -> None:
    (tmp_path / "out").mkdir()
    data, _ = conv("services:\n  web: {image: x, volumes: ['./conf:/c', '.:/all']}\n", tmp_path,
                   spec_dir=tmp_path / "out")
    assert data["containers"]["web"]["volumes"] == ["../app/conf:/c", "../app:/all"]
    data, _ = conv("services:\n  web: {image: x, volumes: ['./conf:/c', '.:/all']}\n", tmp_path,
                   spec_dir=tmp_path)
    assert data["containers"]["web"]["volumes"] == ["./app/conf:/c", "./app:/all"]


def test_a_tmpfs_mount_joins_tmpfs(tmp_path) -> None:
    data, notes = conv("""\
        services:
          web:
            image: x
            tmpfs: /run
            volumes: [{type: tmpfs, target: /tmp, tmpfs: {size: 1000000}}]
        """, tmp_path)
    if "tmpfs" in Container.model_fields:
        assert data["containers"]["web"]["tmpfs"] == ["/run", "/tmp:size=1000000"] and notes == []
    else:
        assert notes and "tmpfs" in notes[0]


def test_networks_aliases_and_the_default_network(tmp_path) -> None:
    data, notes = conv("""\
        services:
          a: {image: x}
          b: {image: x, networks: [front]}
          c:
            image: x
            networks:
              front: {aliases: [www.example.com]}
              back:
          d: {image: x, network_mode: host}
        networks:
          front: {}
          back: {internal: true}
          default: {name: shared}
        """, tmp_path)
    containers = data["containers"]
    assert containers["a"]["networks"] == ["default"]
    assert containers["b"]["networks"] == ["front"]
    assert containers["c"]["networks"] == {"front": {"aliases": ["www.example.com"]}, "back": None}
    assert "networks" not in containers["d"]
    assert data["networks"] == {"front": {}, "back": {"internal": True}, "default": {"name": "shared"}}
    assert notes == ([] if "network_mode" in Container.model_fields else
                     ["compose.yaml:9: services.d.network_mode: not supported (quayform has no such container "
                      "option)"])


def test_external_networks_and_volumes_are_referenced_by_name(tmp_path) -> None:
    data, notes = conv("""\
        services:
          a: {image: x, networks: [shared], volumes: ["db:/data", "old:/old"]}
        networks:
          shared: {external: true}
        volumes:
          db: {external: true, name: harbor_database, driver: local}
          old: {external: {name: legacy_data}}
        """, tmp_path)
    assert data["networks"] == {"shared": {"external": True, "name": "shared"}}
    assert data["volumes"] == {"db": {"external": True, "name": "harbor_database"},
                               "old": {"external": True, "name": "legacy_data"}}
    assert notes == ["compose.yaml:6: volumes.db.driver: not carried: an external volume is made elsewhere and only "
                     "referenced"]


def test_a_network_attachment_s_other_settings(tmp_path) -> None:
    _, notes = conv("""\
        services:
          a:
            image: x
            networks:
              front: {priority: 10, aliases: [a1]}
        networks: {front: {}}
        """, tmp_path)
    assert notes == ["compose.yaml:5: services.a.networks.front.priority: not supported by quayform's network "
                     "attachments"]
    assert "priority" not in NetworkAttachment.model_fields


def test_depends_on_long_form(tmp_path) -> None:
    data, notes = conv("""\
        services:
          web:
            image: x
            depends_on:
              db: {condition: service_healthy}
              init: {condition: service_completed_successfully, required: false}
          db: {image: x}
          init: {image: x}
        """, tmp_path)
    assert data["containers"]["web"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "init": {"condition": "service_completed_successfully", "required": False}}
    assert data["containers"]["init"]["run"] == "once" and "run" not in data["containers"]["db"]
    assert notes == []


def test_a_job_waited_for_runs_once_and_is_not_restarted(tmp_path) -> None:
    data, notes = conv("""\
        services:
          web:
            image: x
            depends_on:
              migrate: {condition: service_completed_successfully}
              cache:
          migrate: {image: x, restart: on-failure, depends_on: [cache]}
          cache: {image: x, restart: always}
        """, tmp_path)
    assert data["containers"]["migrate"] == {"image": "x", "run": "once", "depends_on": ["cache"],
                                             "networks": ["default"]}
    assert data["containers"]["web"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"},
                                                       "cache": {"condition": "service_started"}}
    assert data["containers"]["cache"]["restart"] == "always"
    assert [n.split(": ")[1] for n in notes] == ["services.migrate.restart"]


def test_healthcheck_disable_and_string_test(tmp_path) -> None:
    data, _ = conv("""\
        services:
          a: {image: x, healthcheck: {disable: true}}
          b: {image: x, healthcheck: {test: "curl -f http://localhost", interval: 1m30s, retries: 3}}
        """, tmp_path)
    assert data["containers"]["a"]["healthcheck"] == {"test": ["NONE"]}
    assert data["containers"]["b"]["healthcheck"] == {"test": "curl -f http://localhost", "interval": "1m30s",
                                                      "retries": 3}


def test_environment_list_map_and_env_file(tmp_path) -> None:
    files = {"plain.env": "A=from-file\nB=2\n", "refs.env": "PASSWORD=hunter2${x}\n"}
    data, notes = conv("""\
        services:
          web:
            image: x
            env_file: [plain.env, {path: missing.env, required: false}, refs.env]
            environment: [B=from-environment, "C=${C:-3}"]
        """, tmp_path, files)
    web = data["containers"]["web"]
    if "env_file" in Container.model_fields:  # the spec reads plain.env itself; refs.env holds '${'
        assert web["env_file"] == ["plain.env", {"path": "missing.env", "required": False}]
        assert web["env"] == {"PASSWORD": "hunter2$${x}", "B": "from-environment", "C": "${variables.C}"}
        assert [n.split(": ")[1] for n in notes] == ["services.web.env_file[2]"]
    else:
        assert web["env"] == {"A": "from-file", "B": "from-environment", "PASSWORD": "hunter2$${x}",
                              "C": "${variables.C}"}
        assert [n.split(": ")[1] for n in notes] == ["services.web.env_file[0]", "services.web.env_file[2]"]
    assert data["variables"] == {"C": "3"}
    assert all("hunter2" not in note for note in notes)


def test_labels_as_a_list_become_a_mapping(tmp_path) -> None:
    data, _ = conv("services:\n  web: {image: x, labels: [a=1, 'b=two words', c]}\n", tmp_path)
    assert data["containers"]["web"]["labels"] == {"a": "1", "b": "two words", "c": ""}


def test_secrets_and_configs_as_files(tmp_path) -> None:
    files = {"conf/app.ini": "x=1\n", "conf/tpl.ini": "home=${HOME}\n", "pw.txt": "s3cret\n"}
    data, notes = conv("""\
        services:
          web:
            image: x
            secrets: [pw, {source: token, target: /etc/token, uid: "1", mode: 0600}]
            configs: [app, {source: tpl, target: etc/tpl.ini}, inline, missing]
        secrets:
          pw: {file: pw.txt}
          token: {environment: APP_TOKEN}
        configs:
          app: {file: ./conf/app.ini}
          tpl: {file: ./conf/tpl.ini}
          inline: {content: "port=${PORT:-80}\\n"}
        """, tmp_path, files)
    assert data["secrets"] == {"pw": {"file": "pw.txt"}, "token": {"env": "APP_TOKEN"}}
    assert data["containers"]["web"]["files"] == {
        "/run/secrets/pw": {"content": "${secrets.pw}", "mode": "0444"},
        "/etc/token": {"content": "${secrets.token}", "mode": "0600", "owner": "1:0"},
        "/app": {"template": "conf/app.ini", "mode": "0444"},
        "/etc/tpl.ini": {"content": "home=$${HOME}\n", "mode": "0444"},
        "/inline": {"content": "port=${variables.PORT}\n", "mode": "0444"},
    }
    assert [n.split(": ")[1] for n in notes] == ["services.web.configs[3]", "configs.tpl.file"]


def test_a_secret_file_outside_the_spec_s_folder_is_noted(tmp_path) -> None:
    (tmp_path / "out").mkdir()
    data, notes = conv("services:\n  web: {image: x, secrets: [pw]}\nsecrets:\n  pw: {file: ./pw.txt}\n", tmp_path,
                       spec_dir=tmp_path / "out")
    assert data["secrets"] == {"pw": {"file": "../app/pw.txt"}}
    assert notes == ["compose.yaml:4: secrets.pw.file: outside the spec's folder, where quayform does not read "
                     "secrets: move the file beside the spec and fix the path"]


@pytest.mark.parametrize(
    ("name", "folder", "stack"),
    [("My_App", "x", "my-app"), (None, "Shop.Front_End", "shopfront-end"), ("-_a--b_", "x", "a-b"),
     (None, "___", "stack"), ("a" * 60, "x", "a" * 48)],
)
def test_the_stack_is_compose_s_project_name_normalised(tmp_path, name, folder, stack) -> None:
    project = tmp_path / folder
    project.mkdir()
    head = f"name: {name!r}\n" if name else ""
    result = convert(load_yaml(head + "services:\n  web: {image: x}\n", "c.yaml"), "c.yaml", str(project),
                     str(project), lambda _p: None)
    assert result.stack == stack and f"stack: {stack}\n" in result.text


def test_keys_quayform_cannot_hold_are_renamed(tmp_path) -> None:
    data, notes = conv("services:\n  api.v2: {image: x, depends_on: [db.main]}\n  db.main: {image: x}\n", tmp_path)
    assert list(data["containers"]) == ["api-v2", "db-main"]
    assert data["containers"]["api-v2"]["depends_on"] == ["db-main"]
    assert notes[0] == "compose.yaml:2: services.api.v2: 'api.v2' is the key 'api-v2' (a key is letters, digits, '_' " \
                       "and '-')".replace("services.api.v2", "services['api.v2']")


def test_top_level_keys_it_does_not_know_are_noted_and_x_keys_dropped(tmp_path) -> None:
    data, notes = conv("x-anything: {a: 1}\ninclude: [other.yaml]\nservices:\n  web: {image: x, x-note: 1}\n",
                       tmp_path)
    assert notes == ["compose.yaml:2: include: not supported (quayform reads one file: convert each included file, "
                     "or merge them first with `docker compose config`)"]
    assert data["containers"]["web"] == {"image": "x", "networks": ["default"]}


def test_not_a_compose_file(tmp_path) -> None:
    result = convert(load_yaml("version: 1\nstack: x\n", "c.yaml"), "c.yaml", str(tmp_path), str(tmp_path),
                     lambda _p: None)
    assert result.text == "" and [str(n) for n in result.notes] == [
        "c.yaml:1: not a compose file: it has no 'services' mapping"]


@pytest.mark.parametrize("text", ["no", "yes", "on", "off", "0600", "22:22", "1.10", "true", "null", "~", "", "-x",
                                  "*x", "&x", "!x", "%x", "@x", "`x", "a: b", "#x", "x #y", "multi\nline\n",
                                  " lead", "trail ", "${variables.a}", "[x]", "{x}", "0o17", "1e3", ".inf"])
def test_written_text_reads_back_the_same_under_quayform_s_yaml_rules(text) -> None:
    data = {"k": text, "l": [text, 1], "m": {"n": text}}
    assert load_yaml(dump(data), "x.yaml").data == data


def test_numbers_are_written_as_they_were_read() -> None:
    loaded = load_yaml("a: 15.10\nb: 0o17\nc: 8080\n", "x.yaml")
    assert dump(loaded.data) == "a: 15.10\nb: 0o17\nc: 8080\n"


def test_an_output_that_cannot_be_written_is_a_usage_error(tmp_path) -> None:
    shutil.copytree(FIXTURES / "anchors", tmp_path / "app")
    run = quayform(tmp_path / "app", "convert", "-o", "no/such/folder/quayform.yaml")
    assert run.returncode == 1 and "cannot write no/such/folder/quayform.yaml" in run.stderr


def test_the_notes_docs_compose_md_shows_are_real(converted) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "compose.md").read_text()
    block = docs.split("prints one line per key it could not carry", 1)[1].split("```", 2)[1]
    shown = block.strip().splitlines()
    run, _ = converted["webapp"]
    for line in shown[:-1]:
        assert line in run.stderr.splitlines(), line
    assert run.stdout.strip() == shown[-1]


@pytest.mark.parametrize(("given", "written", "noted"),
                         [("always", "always", False), ("if_not_present", "missing", False), ("build", None, True),
                          ("daily", None, True), ("every_12h", None, True)])
def test_pull_policy_in_quayform_s_words(tmp_path, given, written, noted) -> None:
    data, notes = conv(f"services:\n  web: {{image: x, pull_policy: {given}}}\n", tmp_path)
    if "pull_policy" not in Container.model_fields:  # not a container option (yet): noted as such
        written, noted = None, True
    assert data["containers"]["web"].get("pull_policy") == written
    assert bool(notes) is noted


def test_a_single_dns_server_becomes_a_list(tmp_path) -> None:
    data, notes = conv("services:\n  web: {image: x, dns: 1.1.1.1, dns_search: example.com}\n", tmp_path)
    if "dns" in Container.model_fields:
        assert data["containers"]["web"]["dns"] == ["1.1.1.1"] and notes == []
        assert data["containers"]["web"]["dns_search"] == ["example.com"]
    else:
        assert len(notes) == 2


def test_networks_are_written_in_compose_s_priority_then_name_order(tmp_path) -> None:
    data, notes = conv("""\
        services:
          core:
            image: busybox
            networks:
              zeta: {}
              harbor: {priority: 10}
              alpha: {}
        networks: {zeta: {}, harbor: {}, alpha: {}}
        """, tmp_path)
    # compose connects the highest priority first (the container's primary network), then by name
    assert list(data["containers"]["core"]["networks"]) == ["harbor", "alpha", "zeta"]


def test_a_read_only_service_gets_its_secret_as_a_read_only_bind_mount(tmp_path) -> None:
    data, notes = conv("""\
        services:
          core:
            image: busybox
            read_only: true
            secrets: [token]
        secrets:
          token: {file: ./token.txt}
        """, tmp_path, files={"token.txt": "s3cret\n"})
    core = data["containers"]["core"]
    assert "files" not in core or "/run/secrets/token" not in core["files"]  # no file written into a read-only root
    assert any(str(v).endswith(":/run/secrets/token:ro") for v in core["volumes"]), core["volumes"]
    assert "token" in data["secrets"]
