"""Normalisers tested from recorded `docker inspect` JSON (tests/fixtures/inspect, see its README).

The key property: a container created from a spec normalises to exactly what desired_container()
builds from that spec plus the image's defaults, so a fresh apply never shows a perpetual diff.
No Docker here: the JSON was recorded once.
"""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

import pytest

from quayform import labels as L
from quayform.address import Address
from quayform.changes import UNKNOWN, Action, AttributeChange, Desired, LiveObject
from quayform.diff import attribute_changes, comparable, diff_resource
from quayform.kinds.container import KIND as CONTAINERS
from quayform.kinds.container.form import ImageInfo, image_info
from quayform.kinds.network import KIND as NETWORKS
from quayform.kinds.volume import KIND as VOLUMES
from quayform.pipeline import context
from quayform.sensitive import MASK
from quayform.spec import load_spec
from quayform.targets import DEFAULT_ENGINE

FIELDS, NETWORK_FIELDS, VOLUME_FIELDS = CONTAINERS.policy, NETWORKS.policy, VOLUMES.policy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "inspect"
SPEC_DIR = FIXTURES / "quayform-spec"
RECORDED_SPEC_DIR = "/tmp/qf-fixture-rec"  # where the spec lived when the fixtures were recorded
RECORDED_ENV = {"QF_FIXTURE_PG_PASSWORD": "fixture-only-not-a-secret"}

BUSYBOX_ID = "sha256:38b1b1715c6bec07c5551e812a0f1cbf69f74f37e9195cdb751abc161179e4ce"
POSTGRES_ID = "sha256:c6db449d99fabd7c5405d346f7e58593ec59ca78b7c9a81371c133c986d6ede2"
POSTGRES_PATH = "/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def desired_container(key: str, container, spec, image: ImageInfo | None) -> Desired:
    """The container kind's desired side, given what the engine says of its image (None: not there)."""
    ctx = context(spec)
    ctx.facts = {"containers": {(container.engine, container.image): image}}
    return CONTAINERS.desired(spec, key, ctx)


def _with_payload(live: LiveObject, **extra) -> dict:
    """A normalised form, plus what the kind keeps beside it, under the "_" names these tables use."""
    return {**live.form, **extra, "_prevent_destroy": live.guarded}


def live_container(raw: dict) -> dict:
    live = CONTAINERS.normalise(("inspect", raw, None, {}, False), "fixture", DEFAULT_ENGINE)
    return _with_payload(live, _anonymous_volumes=live.payload.anonymous_volumes)


def live_volume(raw: dict) -> dict:
    return _with_payload(VOLUMES.normalise((raw, False, None), "fixture", DEFAULT_ENGINE))


def live_network(raw: dict) -> dict:
    return _with_payload(NETWORKS.normalise((raw, None), "fixture", DEFAULT_ENGINE))


def live(form: dict) -> LiveObject:
    return LiveObject("containers", Address("containers", "x"), form.get("name", "x"), "id", form)


def desired_volume(key: str, spec) -> dict:
    return VOLUMES.desired(spec, key, context(spec)).form


def desired_network(key: str, spec) -> dict:
    return NETWORKS.desired(spec, key, context(spec)).form


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def load_recorded(name: str) -> dict:
    """A fixture recorded from quayform's own apply, with the spec folder moved to SPEC_DIR."""
    return json.loads((FIXTURES / name).read_text().replace(RECORDED_SPEC_DIR, str(SPEC_DIR)))


def write_spec(folder: Path, text: str):
    path = folder / "quayform.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def recorded_spec():
    return load_spec(str(SPEC_DIR / "quayform.yaml"), environ=RECORDED_ENV)


# --- image_info -------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture, expected", [
    ("image-busybox.json", ImageInfo(id=BUSYBOX_ID, env={"PATH": "/bin"}, cmd=["sh"])),
    ("image-postgres.json", ImageInfo(
        id=POSTGRES_ID,
        env={"LANG": "C.UTF-8", "PATH": POSTGRES_PATH, "PGDATA": "/var/lib/postgresql/data"},
        cmd=["postgres"], entrypoint=["docker-entrypoint.sh"], stop_signal="SIGINT")),
])
def test_image_info_reads_what_a_container_inherits(fixture, expected):
    assert image_info(load(fixture)) == expected


def test_image_info_lists_declared_volumes_sorted():
    raw = load("image-postgres.json")
    raw["Config"]["Volumes"] = {"/var/lib/postgresql/data": {}, "/b": {}}
    assert image_info(raw).volumes == ("/b", "/var/lib/postgresql/data")


# --- live_container: inspect JSON -> normalised dict ------------------------------------------

MANUAL_BUSYBOX = {
    "name": "qf-fixrec-bb",
    "image": "quayform-test/busybox:1",
    "image_id": BUSYBOX_ID,
    "command": ["sleep", "3600"],
    "entrypoint": None,
    "env": {"EMPTY": "", "FOO": "bar", "PATH": "/bin"},
    "ports": ["127.0.0.1:18941->80/tcp", "127.0.0.1:18942->53/udp"],
    "mounts": ["anonymous:/cache", "bind:/tmp/qf-fixrec-bind:/conf:ro", "volume:qf-fixrec-vol:/data:rw"],
    "networks": {"qf-fixrec-net": ["web", "www"]},  # the engine's short-id alias is dropped
    "restart": "on-failure:5",
    "privileged": False,
    "user": "",
    "working_dir": "",
    "labels": {"app": "demo"},  # io.quayform.* labels are quayform's own, not the user's
    "healthcheck": {"test": ["CMD-SHELL", "true"], "interval": "2s", "retries": 4},
    "stop_signal": "",
    "stop_grace_period": None,
    "files": {},
    "running": True,
    "run": None,
    "_anonymous_volumes": {"/cache": "087fd7995799d03e23fd9bf73619619a13a0f8a20e4e9faa139f3b51707038b8"},
    "_prevent_destroy": False,
}

MANUAL_POSTGRES_CREATED = {
    "name": "qf-fixrec-pg",
    "image": "quayform-test/postgres:15",
    "image_id": POSTGRES_ID,
    "command": ["postgres"],
    "entrypoint": ["docker-entrypoint.sh"],
    "env": {"LANG": "C.UTF-8", "PATH": POSTGRES_PATH, "PGDATA": "/var/lib/postgresql/data",
            "POSTGRES_PASSWORD": "fixture-only"},
    "ports": [],
    "mounts": [],
    "networks": {"bridge": []},
    "restart": "no",
    "privileged": False,
    "user": "",
    "working_dir": "",
    "labels": {},
    "healthcheck": None,
    "stop_signal": "SIGINT",
    "stop_grace_period": None,
    "files": {},
    "running": False,
    "run": None,
    "_anonymous_volumes": {},
    "_prevent_destroy": False,
}

QUAYFORM_WEB = {
    "name": "fixture-rec-web",
    "image": "quayform-test/busybox:1",
    "image_id": BUSYBOX_ID,
    "command": ["sleep", "3600"],
    "entrypoint": None,
    "env": {"EMPTY": "", "GREETING": "hello", "PATH": "/bin"},
    "ports": ["127.0.0.1:18931->80/tcp", "127.0.0.1:18932->81/udp"],
    "mounts": ["anonymous:/cache", f"bind:{SPEC_DIR}/conf:/conf:ro", "volume:fixture-rec-data:/data:rw"],
    "networks": {"fixture-rec-backend": ["web"]},
    "restart": "on-failure:3",
    "privileged": False,
    "user": "65534",
    "working_dir": "/tmp",
    "labels": {"app": "fixture"},
    "healthcheck": {"test": ["CMD", "true"], "interval": "1s", "timeout": "2s", "retries": 3},
    "stop_signal": "",
    "stop_grace_period": 5,
    "files": {"/etc/motd": "0644 0:0 4b75617bc90329704ef45cad929b2424"},
    "running": True,
    "run": None,  # a service: no io.quayform.run label
    "_anonymous_volumes": {"/cache": "b3da50a8d2dfc0c379cf0b750a9f8cff5587baccf3f22914df1a9daf302d462e"},
    "_prevent_destroy": False,
}


@pytest.mark.parametrize("fixture, expected", [
    ("manual-busybox.json", MANUAL_BUSYBOX),
    ("manual-postgres-created.json", MANUAL_POSTGRES_CREATED),
    ("quayform-web.json", QUAYFORM_WEB),
])
def test_live_container_normalises_inspect(fixture, expected):
    assert live_container(load_recorded(fixture)) == expected


def test_live_container_spells_restart_and_ports_like_desired():
    raw = load("manual-busybox.json")
    raw["HostConfig"]["RestartPolicy"] = {"Name": "", "MaximumRetryCount": 0}
    raw["HostConfig"]["PortBindings"] = {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                                         "81/tcp": [{"HostIp": "", "HostPort": ""}]}
    live = live_container(raw)
    assert live["restart"] == "no"
    assert live["ports"] == ["8080->80/tcp", "81/tcp"]


# --- the key property: desired(spec, image) == live(container created from that spec) ----------

@pytest.mark.parametrize("key, image_fixture, inspect_fixture", [
    ("web", "image-busybox.json", "quayform-web.json"),
    ("pgsql", "image-postgres.json", "quayform-pgsql.json"),
])
def test_fresh_container_compares_equal_to_its_spec(recorded_spec, key, image_fixture, inspect_fixture):
    desired = desired_container(key, recorded_spec.containers[key], recorded_spec, image_info(load(image_fixture)))
    have_form = live_container(load_recorded(inspect_fixture))
    want, have = comparable(desired.form, have_form, FIELDS.ignored)
    assert want == have
    assert attribute_changes(desired.form, have_form, FIELDS.replace_on, FIELDS.mappings, FIELDS.ignored) == ()
    change = diff_resource(Address("containers", key), desired, live(have_form), FIELDS)
    assert change.action is Action.NOOP


@pytest.mark.parametrize("key, inspect_fixture", [("web", "quayform-web.json"), ("pgsql", "quayform-pgsql.json")])
def test_fresh_container_compares_equal_when_the_image_is_unknown(recorded_spec, key, inspect_fixture):
    desired = desired_container(key, recorded_spec.containers[key], recorded_spec, None)
    assert desired.form["image_id"] == UNKNOWN
    assert desired.partial == frozenset(("env", "labels", "mounts"))
    have = live_container(load_recorded(inspect_fixture))
    assert attribute_changes(desired.form, have, FIELDS.replace_on, FIELDS.mappings, FIELDS.ignored,
                             desired.partial) == ()


def test_desired_web_container_form(recorded_spec):
    desired = desired_container("web", recorded_spec.containers["web"], recorded_spec,
                                image_info(load("image-busybox.json")))
    public = desired.form
    expected = {k: v for k, v in QUAYFORM_WEB.items() if not k.startswith("_")}
    assert public == expected
    assert desired.payload.labels[L.ADDRESS] == "containers.web"
    assert desired.payload.labels[L.STACK] == "fixture-rec"
    assert {m.target: m.source for m in desired.payload.mounts if m.kind == "volume"} == {"/data": "fixture-rec-data"}
    assert {m.target: m.source for m in desired.payload.mounts if m.kind == "bind"} == {"/conf": f"{SPEC_DIR}/conf"}


def test_secret_env_stays_sensitive_in_desired_and_equals_live(recorded_spec):
    desired = desired_container("pgsql", recorded_spec.containers["pgsql"], recorded_spec,
                                image_info(load("image-postgres.json")))
    assert str(desired.form["env"]["POSTGRES_PASSWORD"]) == MASK
    assert "fixture-only-not-a-secret" not in repr(desired)
    want, have = comparable(desired.form, live_container(load("quayform-pgsql.json")))
    assert want["env"]["POSTGRES_PASSWORD"] == have["env"]["POSTGRES_PASSWORD"] == "fixture-only-not-a-secret"


def test_changed_secret_forces_replacement_and_stays_masked():
    spec = load_spec(str(SPEC_DIR / "quayform.yaml"), environ={"QF_FIXTURE_PG_PASSWORD": "rotated"})
    desired = desired_container("pgsql", spec.containers["pgsql"], spec, image_info(load("image-postgres.json")))
    change = diff_resource(Address("containers", "pgsql"), desired, live(live_container(load_recorded(
        "quayform-pgsql.json"))), FIELDS)
    assert change.action is Action.REPLACE
    assert change.attributes == (AttributeChange("env.POSTGRES_PASSWORD", MASK, MASK, True, True),)
    assert "rotated" not in repr(change.attributes)
    assert "fixture-only-not-a-secret" not in repr(change.attributes)


def test_hand_made_container_differs_only_in_what_quayform_cannot_express(tmp_path):
    """`docker run` with two aliases vs the closest spec: only the extra alias differs (update in place)."""
    path = write_spec(tmp_path, """\
        version: 1
        stack: other
        networks:
          net: {name: qf-fixrec-net}
        volumes:
          vol: {name: qf-fixrec-vol}
        containers:
          web:
            name: qf-fixrec-bb
            image: quayform-test/busybox:1
            command: sleep 3600
            env: {FOO: bar, EMPTY: ""}
            ports: ["127.0.0.1:18941:80", "127.0.0.1:18942:53/udp"]
            volumes: ["vol:/data", "/tmp/qf-fixrec-bind:/conf:ro", "/cache"]
            networks: [net]
            restart: on-failure:5
            labels: {app: demo}
            healthcheck: {test: "true", interval: 2s, retries: 4}
        """)
    spec = load_spec(str(path), environ={})
    desired = desired_container("web", spec.containers["web"], spec, image_info(load("image-busybox.json")))
    change = diff_resource(Address("containers", "web"), desired, live(live_container(load("manual-busybox.json"))),
                           FIELDS)
    assert change.attributes == (AttributeChange("networks.qf-fixrec-net", ["web", "www"], ["web"]),)
    assert change.action is Action.UPDATE


def test_created_but_stopped_container_only_needs_starting(tmp_path):
    path = write_spec(tmp_path, """\
        version: 1
        stack: other
        secrets:
          pw: {env: PW}
        containers:
          pg:
            name: qf-fixrec-pg
            image: quayform-test/postgres:15
            env: {POSTGRES_PASSWORD: "${secrets.pw}"}
            network_mode: bridge  # as the recorded container, made with docker create
        """)
    spec = load_spec(str(path), environ={"PW": "fixture-only"})
    desired = desired_container("pg", spec.containers["pg"], spec, image_info(load("image-postgres.json")))
    change = diff_resource(Address("containers", "pg"), desired,
                           live(live_container(load("manual-postgres-created.json"))), FIELDS)
    assert change.attributes == (AttributeChange("running", False, True),)
    assert change.action is Action.UPDATE


def test_image_declared_volumes_fold_into_desired_mounts(tmp_path):
    path = write_spec(tmp_path, """\
        version: 1
        stack: s
        volumes:
          data: {}
        containers:
          pg:
            image: quayform-test/postgres:15
            volumes: ["data:/var/lib/postgresql/data"]
        """)
    spec = load_spec(str(path), environ={})
    raw = load("image-postgres.json")
    raw["Config"]["Volumes"] = {"/var/lib/postgresql/data/": {}, "/var/log": {}}
    desired = desired_container("pg", spec.containers["pg"], spec, image_info(raw)).form
    # The spec's named volume wins over the image's anonymous one at the same target (trailing "/" ignored).
    assert desired["mounts"] == ["anonymous:/var/log", "volume:s-data:/var/lib/postgresql/data:rw"]


def test_entrypoint_override_drops_the_image_command(tmp_path):
    path = write_spec(tmp_path, """\
        version: 1
        stack: s
        containers:
          pg:
            image: quayform-test/postgres:15
            entrypoint: ["sh", "-c"]
        """)
    spec = load_spec(str(path), environ={})
    desired = desired_container("pg", spec.containers["pg"], spec, image_info(load("image-postgres.json"))).form
    assert (desired["entrypoint"], desired["command"]) == (["sh", "-c"], None)
    assert desired["stop_signal"] == "SIGINT"


def test_empty_entrypoint_container_compares_equal_to_its_spec():
    spec = load_spec(str(FIXTURES / "empty-entrypoint-spec" / "quayform.yaml"), environ={})
    desired = desired_container("cache", spec.containers["cache"], spec, image_info(load("image-redis.json")))
    have = live_container(load("quayform-empty-entrypoint.json"))
    assert (have["entrypoint"], have["command"][0]) == ([], "redis-server")  # what the engine really runs
    change = diff_resource(Address("containers", "cache"), desired, live(have), FIELDS)  # network_mode: judged
    assert change.attributes == () and change.action is Action.NOOP


# --- volumes and networks ---------------------------------------------------------------------

def test_live_volume_and_network_match_the_spec(recorded_spec):
    volume = live_volume(load("quayform-volume-data.json"))
    network = live_network(load("quayform-network-backend.json"))
    assert volume == {"name": "fixture-rec-data", "driver": "local", "driver_opts": {}, "labels": {},
                      "_prevent_destroy": False}
    assert network == {"name": "fixture-rec-backend", "driver": "bridge", "internal": False, "labels": {},
                       "_prevent_destroy": False}
    assert attribute_changes(desired_volume("data", recorded_spec), volume, VOLUME_FIELDS.replace_on,
                             VOLUME_FIELDS.mappings) == ()
    assert attribute_changes(desired_network("backend", recorded_spec), network, NETWORK_FIELDS.replace_on,
                             NETWORK_FIELDS.mappings) == ()


def test_live_network_keeps_user_labels_only():
    raw = copy.deepcopy(load("quayform-network-backend.json"))
    raw["Labels"]["team"] = "db"
    raw["Internal"] = True
    assert live_network(raw) == {"name": "fixture-rec-backend", "driver": "bridge", "internal": True,
                                 "labels": {"team": "db"}, "_prevent_destroy": False}
