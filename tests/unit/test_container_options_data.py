"""The container and network options of issue 11, from data: spec values in, compared forms out; `docker
inspect` in, the same forms out; the create and update calls they make. No engine here (the round
trip on the real engine is tests/integration/test_container_options.py); the bad values and their
`file:line: key: message` lines are fixtures in tests/fixtures/specs/bad/option_*.yaml.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import docker
import pytest

from quayform.address import Address
from quayform.changes import Action, LiveObject
from quayform.diff import diff_resource
from quayform.kinds.base import Policy
from quayform.kinds.container import KIND as CONTAINERS
from quayform.kinds.container import shared_network_by_name
from quayform.kinds.container import checks, engine, options, updates
from quayform.kinds.container.form import ImageInfo, live_form
from quayform.kinds.network import KIND as NETWORKS
from quayform.pipeline import context
from quayform.sensitive import Sensitive
from quayform.spec import load_spec
from quayform.spec.values import UNSET
from quayform.targets import DEFAULT_ENGINE

IMAGE = ImageInfo(id="sha256:1", env={"PATH": "/bin"}, cmd=["sh"])
GOOD = Path(__file__).resolve().parent.parent / "fixtures" / "specs" / "good" / "container_options.yaml"


def load(tmp_path: Path, body: str, files: dict[str, str] | None = None, environ: dict[str, str] | None = None):
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "quayform.yaml"
    path.write_text("version: 1\nstack: s\n" + textwrap.dedent(body))
    return load_spec(str(path), environ=environ or {})


def desired(spec, key: str = "c", image: ImageInfo | None = IMAGE):
    ctx = context(spec)
    ctx.facts = {"containers": {(spec.containers[key].engine, spec.containers[key].image): image}}
    return CONTAINERS.desired(spec, key, ctx)


def one(tmp_path: Path, extra: str) -> dict[str, Any]:
    return desired(load(tmp_path, f"containers:\n  c:\n    image: x\n    {extra}\n")).form


# --- spec value -> the compared form -------------------------------------------------------------

SPEC_FORMS = [
    ("mem_limit: 512m", "mem_limit", "512m"),
    ("mem_limit: 1.5g", "mem_limit", "1536m"),
    ("mem_limit: 67108864", "mem_limit", "64m"),
    ("mem_limit: 100000000", "mem_limit", "100000000"),
    ("mem_reservation: 64M", "mem_reservation", "64m"),
    ("memswap_limit: -1\n    mem_limit: 1g", "memswap_limit", "unlimited"),
    ("memswap_limit: 2gb\n    mem_limit: 1g", "memswap_limit", "2g"),
    ("cpus: 1.5", "cpus", "1.5"),
    ("cpus: \"0.50\"", "cpus", "0.5"),
    ("cpus: 2", "cpus", "2"),
    ("cpu_shares: 512", "cpu_shares", 512),
    ("cpuset: \"0,1,2,4\"", "cpuset", "0-2,4"),
    ("cpuset: 1", "cpuset", "1"),
    ("pids_limit: 100", "pids_limit", 100),
    ("pids_limit: 0", "pids_limit", -1),
    ("cap_add: [cap_net_admin, SYS_TIME, NET_ADMIN]", "cap_add", ["NET_ADMIN", "SYS_TIME"]),
    ("cap_drop: ALL", "cap_drop", ["ALL"]),
    ("security_opt: [no-new-privileges, \"seccomp:unconfined\", label=disable]", "security_opt",
     ["label=disable", "no-new-privileges:true", "seccomp=unconfined"]),
    ("read_only: true", "read_only", True),
    ("group_add: [1234, audio, 1234]", "group_add", ["1234", "audio"]),
    ("tmpfs: /run", "tmpfs", {"/run": ""}),
    ("tmpfs: [\"/run\", \"/tmp:size=64m, mode=1777\"]", "tmpfs", {"/run": "", "/tmp": "size=64m,mode=1777"}),
    ("tmpfs: {/run: , /tmp: size=1m}", "tmpfs", {"/run": "", "/tmp": "size=1m"}),
    ("init: false", "init", False),
    ("hostname: web1", "hostname", "web1"),
    ("domainname: example.org", "domainname", "example.org"),
    ("dns: [1.1.1.1, \"2606:4700::1111\"]", "dns", ["1.1.1.1", "2606:4700::1111"]),
    ("dns_search: [b.example, a.example]", "dns_search", ["b.example", "a.example"]),  # order is Docker's to keep
    ("dns_opt: [\"ndots:2\"]", "dns_opt", ["ndots:2"]),
    ("extra_hosts: [\"db:10.0.0.5\", \"gw=host-gateway\", \"v6:::1\"]", "extra_hosts",
     ["db:10.0.0.5", "gw:host-gateway", "v6:::1"]),
    ("extra_hosts: {db: 10.0.0.5, two: [10.0.0.6, 10.0.0.7]}", "extra_hosts",
     ["db:10.0.0.5", "two:10.0.0.6", "two:10.0.0.7"]),
    ("sysctls: [\"net.core.somaxconn=1024\"]", "sysctls", {"net.core.somaxconn": "1024"}),
    ("sysctls: {kernel.shmmax: 68719476736}", "sysctls", {"kernel.shmmax": "68719476736"}),
    ("ulimits: {nofile: 1024}", "ulimits", {"nofile": {"soft": 1024, "hard": 1024}}),
    ("ulimits: {nproc: {soft: 10, hard: -1}}", "ulimits", {"nproc": {"soft": 10, "hard": -1}}),
    ("shm_size: 1g", "shm_size", "1g"),
    ("logging: {driver: local}", "logging", {"driver": "local", "options": {}}),
    ("logging: {options: {max-size: 10m, max-file: 3}}", "logging", {"options": {"max-size": "10m", "max-file": "3"}}),
    ("devices: [/dev/fuse, \"/dev/zero:r\", \"/dev/zero:/dev/z:mwr\"]", "devices",
     ["/dev/fuse:/dev/fuse:rwm", "/dev/zero:/dev/z:rwm", "/dev/zero:/dev/zero:r"]),
    ("expose: [80, \"53/udp\", \"9000-9001\"]\n    ports: [\"8080:81\"]", "expose",
     ["53/udp", "80/tcp", "81/tcp", "9000/tcp", "9001/tcp"]),  # a published port is exposed too
    ("oom_score_adj: -500", "oom_score_adj", -500),
    ("tty: true", "tty", True),
    ("stdin_open: true", "stdin_open", True),
    ("platform: Linux/ARM64/v8", "platform", "linux/arm64/v8"),
    ("network_mode: host", "network_mode", "host"),
    ("network_mode: bridge", "network_mode", "bridge"),
    ("gpus: all", "gpus", [{"driver": "", "count": -1, "device_ids": [], "capabilities": ["gpu"], "options": {}}]),
    ("gpus: 2", "gpus", [{"driver": "", "count": 2, "device_ids": [], "capabilities": ["gpu"], "options": {}}]),
    ("gpus: [{driver: nvidia, device_ids: [\"0\", \"3\"], capabilities: [gpu, utility]}]", "gpus",
     [{"driver": "nvidia", "count": 0, "device_ids": ["0", "3"], "capabilities": ["gpu", "utility"], "options": {}}]),
    ("env: [\"A=1\", \"B=\", \"C\", \"D=x=y\"]", "env", {"PATH": "/bin", "A": "1", "B": "", "C": None, "D": "x=y"}),
    ("labels: [\"tier=web\", \"flag\"]", "labels", {"tier": "web", "flag": ""}),
    ("healthcheck: {disable: true}", "healthcheck", {"test": ["NONE"]}),
]


@pytest.mark.parametrize("extra, attribute, expected", SPEC_FORMS, ids=[row[0] for row in SPEC_FORMS])
def test_a_spec_value_becomes_its_compared_form(tmp_path, extra, attribute, expected) -> None:
    assert one(tmp_path, extra)[attribute] == expected


def test_an_option_the_spec_leaves_out_is_not_in_the_form(tmp_path) -> None:
    form = one(tmp_path, "command: [sh]")
    named = {o.name for o in options.OPTIONS} | {"hostname", "network_mode", "addresses", "expose", "logging"}
    assert not named & set(form)


def test_network_mode_container_names_the_other_container_and_is_an_edge(tmp_path) -> None:
    spec = load(tmp_path, "containers:\n  db: {image: x}\n  app: {image: x, network_mode: \"container:db\"}\n")
    want = desired(spec, "app")
    assert want.form["network_mode"] == "container:s-db" and want.form["networks"] == {}
    assert [a for a, _ in CONTAINERS.edges(spec, "app", spec.containers["app"])] == [Address("containers", "db")]
    assert list(CONTAINERS.uses(want.form, DEFAULT_ENGINE)) == [("containers", "s-db")]


def test_fixed_addresses_are_their_own_attribute_and_the_hostname_is_no_alias(tmp_path) -> None:
    spec = load(tmp_path, """\
        networks:
          front: {ipam: {config: [{subnet: 10.5.0.0/24}]}}
        containers:
          c:
            image: x
            hostname: c
            networks: {front: {aliases: [www], ipv4_address: 10.5.0.10}}
        """)
    form = desired(spec).form
    assert form["networks"] == {"s-front": ["www"]}  # Docker answers to the hostname on its own
    assert form["addresses"] == {"s-front": {"ipv4_address": "10.5.0.10"}}


# --- env files and the env list ------------------------------------------------------------------

def test_env_files_merge_in_order_and_env_wins(tmp_path) -> None:
    spec = load(tmp_path, """\
        secrets:
          pw: {env: PW}
        containers:
          c:
            image: x
            env_file: [one.env, {path: absent.env, required: false}, two.env]
            env: {B: from-spec}
        """, files={"one.env": "A=1\nB=1\n# comment\nexport C='$literal'\nBARE\n",
                    "two.env": "A=2\nSECRET=${secrets.pw}\nQUOTED=\"a\\nb\"  # trailing\n"}, environ={"PW": "hunter2"})
    env = spec.containers["c"].environment
    assert {k: v for k, v in env.items() if k != "SECRET"} == {"A": "2", "B": "from-spec", "C": "$literal",
                                                                "QUOTED": "a\nb"}
    assert isinstance(env["SECRET"], Sensitive) and env["SECRET"].reveal() == "hunter2"  # only a secret is one
    labels = desired(spec).payload.labels
    assert labels["io.quayform.sensitive-env"] == "SECRET"


def test_a_bare_name_is_passed_bare_so_docker_leaves_it_unset(tmp_path) -> None:
    spec = load(tmp_path, "containers:\n  c: {image: x, env: [\"PATH\", \"A=1\"]}\n")
    payload = desired(spec).payload
    assert payload.env == {"PATH": UNSET, "A": "1"}
    assert engine.environment(payload.env) == ["PATH", "A=1"]
    assert desired(spec).form["env"] == {"PATH": None, "A": "1"}  # it unsets the image's PATH too


def test_a_secret_in_the_env_list_stays_sensitive(tmp_path) -> None:
    spec = load(tmp_path, "secrets:\n  pw: {env: PW}\ncontainers:\n  c: {image: x, env: [\"PW=${secrets.pw}\"]}\n",
                environ={"PW": "hunter2"})
    value = spec.containers["c"].env["PW"]
    assert isinstance(value, Sensitive) and value.reveal() == "hunter2" and "hunter2" not in repr(spec.containers["c"])


# --- docker inspect -> the same forms -------------------------------------------------------------

CID = "a" * 64


def inspect(host: dict[str, Any] | None = None, config: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A container's `docker inspect` as Docker 20.10 writes it for one quayform made with no options (on the
    stack's default network, its key an alias), changed by the args."""
    base_host = {"NetworkMode": "s-default", "RestartPolicy": {"Name": "no"}, "LogConfig": {"Type": "json-file",
                 "Config": {}}, "ShmSize": 67108864, "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CpusetCpus": "",
                 "MemoryReservation": 0, "MemorySwap": 0, "PidsLimit": None, "OomScoreAdj": 0, "Dns": [],
                 "DnsSearch": [], "DnsOptions": [], "ExtraHosts": None, "CapAdd": None, "CapDrop": None,
                 "SecurityOpt": None, "ReadonlyRootfs": False, "GroupAdd": None, "Devices": [], "Ulimits": None,
                 "DeviceRequests": None, "PortBindings": {}}
    base_config = {"Hostname": CID[:12], "Domainname": "", "Image": "x", "Env": ["PATH=/bin"], "Cmd": ["sh"],
                   "Labels": {}, "Tty": False, "OpenStdin": False, "ExposedPorts": None}
    return {"Id": CID, "Name": "/s-c", "Image": "sha256:1", "State": {"Running": True},
            "HostConfig": {**base_host, **(host or {})}, "Config": {**base_config, **(config or {})},
            "NetworkSettings": {"Networks": {"s-default": {"Aliases": ["c", CID[:12]]}}}, "Mounts": [], **top}
ON_BRIDGE = {"NetworkSettings": {"Networks": {"bridge": {"Aliases": None}}}}  # Docker's bridge: network_mode bridge


LIVE_FORMS = [
    ({"Memory": 536870912, "MemorySwap": 1073741824}, {}, {"mem_limit": "512m", "memswap_limit": "1g"}),
    ({"MemorySwap": -1, "Memory": 67108864}, {}, {"mem_limit": "64m", "memswap_limit": "unlimited"}),
    ({"MemoryReservation": 33554432}, {}, {"mem_reservation": "32m"}),
    ({"NanoCpus": 1500000000, "CpuShares": 512, "CpusetCpus": "0,1"}, {}, {"cpus": "1.5", "cpu_shares": 512,
                                                                          "cpuset": "0-1"}),
    ({"CpuShares": 1024}, {}, {}),  # the kernel's default weight: no option
    ({"PidsLimit": 100}, {}, {"pids_limit": 100}),
    ({"PidsLimit": 0}, {}, {}),
    ({"CapAdd": ["CAP_NET_ADMIN", "sys_time"], "CapDrop": ["ALL"]}, {}, {"cap_add": ["NET_ADMIN", "SYS_TIME"],
                                                                         "cap_drop": ["ALL"]}),
    ({"SecurityOpt": ["no-new-privileges", "seccomp=unconfined"]}, {}, {"security_opt": [
        "no-new-privileges:true", "seccomp=unconfined"]}),
    ({"ReadonlyRootfs": True, "Init": True, "GroupAdd": ["5", "1"]}, {}, {"read_only": True, "init": True,
                                                                          "group_add": ["1", "5"]}),
    ({"Tmpfs": {"/run": "", "/tmp": "size=1m,,mode=1777"}}, {}, {"tmpfs": {"/run": "", "/tmp": "size=1m,mode=1777"}}),
    ({"Dns": ["1.1.1.1"], "DnsSearch": ["a.example"], "DnsOptions": ["ndots:2"], "ExtraHosts": ["b:10.0.0.1", "a:[::1]"]},
     {}, {"dns": ["1.1.1.1"], "dns_search": ["a.example"], "dns_opt": ["ndots:2"], "extra_hosts": ["a:::1", "b:10.0.0.1"]}),
    ({"Sysctls": {"net.core.somaxconn": "1024"}}, {}, {"sysctls": {"net.core.somaxconn": "1024"}}),
    ({"Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]}, {}, {"ulimits": {"nofile": {"soft": 1024,
                                                                                                 "hard": 2048}}}),
    ({"ShmSize": 33554432}, {}, {"shm_size": "32m"}),
    ({"LogConfig": {"Type": "local", "Config": {"max-size": "1m"}}}, {}, {"logging": {"driver": "local",
                                                                                     "options": {"max-size": "1m"}}}),
    ({"Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/z", "CgroupPermissions": "r"}]}, {},
     {"devices": ["/dev/zero:/dev/z:r"]}),
    ({"DeviceRequests": [{"Driver": "", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}]},
     {}, {"gpus": [{"driver": "", "count": -1, "device_ids": [], "capabilities": ["gpu"], "options": {}}]}),
    ({"OomScoreAdj": -100}, {}, {"oom_score_adj": -100}),
    ({}, {"Hostname": "web1", "Domainname": "example.org", "Tty": True, "OpenStdin": True},
     {"hostname": "web1", "domainname": "example.org", "tty": True, "stdin_open": True}),
    ({}, {"Labels": {"io.quayform.platform": "linux/amd64"}}, {"platform": "linux/amd64"}),
    ({"NetworkMode": "host"}, {"Hostname": "vm"}, {"network_mode": "host", "hostname": "vm"}),
    ({"NetworkMode": "container:s-db"}, {"Hostname": "b" * 12}, {"network_mode": "container:s-db"}),
    ({"NetworkMode": "container:" + "b" * 64}, {"Hostname": "b" * 12}, {"network_mode": "container:" + "b" * 64}),
]


@pytest.mark.parametrize("host, config, expected", LIVE_FORMS)
def test_inspect_reads_back_into_the_form_leaving_the_engines_defaults_out(host, config, expected) -> None:
    form, _ = live_form(inspect(host, config))
    named = {o.name for o in options.OPTIONS} | {"hostname", "network_mode", "addresses", "logging"}
    assert {k: v for k, v in form.items() if k in named} == expected


def test_fixed_addresses_read_back_from_the_endpoint_config() -> None:
    raw = inspect(NetworkSettings={"Networks": {"s-front": {"Aliases": ["c", CID[:12]], "IPAMConfig": {
        "IPv4Address": "10.5.0.10"}, "IPAddress": "10.5.0.10"}, "s-back": {"IPAMConfig": None, "IPAddress": "10.6.0.2"}}})
    form, _ = live_form(raw)
    assert form["addresses"] == {"s-front": {"ipv4_address": "10.5.0.10"}}
    assert form["networks"] == {"s-front": ["c"], "s-back": []}


def test_the_alias_docker_adds_for_a_hostname_is_not_the_specs() -> None:
    raw = inspect(config={"Hostname": "web1"}, NetworkSettings={"Networks": {"s-front": {
        "Aliases": ["c", "www", CID[:12], "web1"]}}})
    assert live_form(raw)[0]["networks"] == {"s-front": ["c", "www"]}


def live(form: dict[str, Any], payload: Any = None) -> LiveObject:
    return LiveObject("containers", Address("containers", "c"), "s-c", CID, form, payload, "s", False, DEFAULT_ENGINE)


def diff(tmp_path: Path, extra: str, raw: dict[str, Any]):
    spec = load(tmp_path, f"containers:\n  c:\n    image: x\n    {extra}\n")
    form, payload = live_form(raw)
    return diff_resource(Address("containers", "c"), desired(spec), live(form, payload), CONTAINERS.policy)


# An option written with the engine's default equals a container that never had it.
DEFAULTS_WRITTEN = ["read_only: false", "init: false", "tty: false", "stdin_open: false", "cpu_shares: 1024",
                    "pids_limit: -1", "shm_size: 64m", "oom_score_adj: 0", "cap_add: []", "cap_drop: []",
                    "security_opt: []", "group_add: []", "tmpfs: {}", "dns: []", "dns_search: []", "dns_opt: []",
                    "extra_hosts: []", "sysctls: {}", "ulimits: {}", "devices: []", "network_mode: bridge",
                    "logging: {driver: json-file}", "expose: []", "env: []", "labels: []"]


@pytest.mark.parametrize("extra", DEFAULTS_WRITTEN)
def test_the_engines_default_written_out_compares_equal(tmp_path, extra) -> None:
    change = diff(tmp_path, extra, inspect(**ON_BRIDGE) if extra == "network_mode: bridge" else inspect())
    assert change.action is Action.NOOP, change.attributes


def test_an_option_the_spec_leaves_out_is_not_compared(tmp_path) -> None:
    raw = inspect({"Memory": 536870912, "ReadonlyRootfs": True, "CapAdd": ["NET_ADMIN"], "Sysctls": {"a.b": "1"},
                   "LogConfig": {"Type": "local", "Config": {}}}, {"Hostname": "web1"})
    assert diff(tmp_path, "command: [sh]", raw).action is Action.NOOP


def test_the_image_exposes_ports_too_and_only_the_specs_are_compared(tmp_path) -> None:
    raw = inspect(config={"ExposedPorts": {"5432/tcp": {}, "80/tcp": {}}})
    assert diff(tmp_path, "expose: [80]", raw).action is Action.NOOP
    change = diff(tmp_path, "expose: [80, 81]", raw)
    assert change.action is Action.REPLACE and [a.path for a in change.attributes] == ["expose"]


def test_log_options_the_daemon_adds_are_not_compared_but_the_specs_are(tmp_path) -> None:
    raw = inspect({"LogConfig": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "5"}}})
    assert diff(tmp_path, "logging: {options: {max-size: 10m}}", raw).action is Action.NOOP
    assert diff(tmp_path, "logging: {driver: local, options: {max-size: 10m}}", raw).action is Action.REPLACE
    assert diff(tmp_path, "logging: {options: {max-size: 20m}}", raw).action is Action.REPLACE


def test_a_shared_network_whose_container_is_gone_differs(tmp_path) -> None:
    spec = load(tmp_path, "containers:\n  db: {image: x}\n  c: {image: x, network_mode: \"container:db\"}\n")
    gone = {"Id": "f" * 64, "Names": ["/s-other"]}
    shared = inspect({"NetworkMode": "container:" + "b" * 64}, NetworkSettings={"Networks": {}})
    raw = shared_network_by_name(shared, [gone])
    form, payload = live_form(raw)
    change = diff_resource(Address("containers", "c"), desired(spec), live(form, payload), CONTAINERS.policy)
    assert change.action is Action.REPLACE and [a.path for a in change.attributes] == ["network_mode"]
    db = {"Id": "b" * 64, "Names": ["/s-db"]}
    form, payload = live_form(shared_network_by_name(shared, [db]))
    assert diff_resource(Address("containers", "c"), desired(spec), live(form, payload),
                         CONTAINERS.policy).action is Action.NOOP


# --- policies: what updates in place, what replaces ----------------------------------------------

def test_resources_update_in_place_and_every_other_option_replaces() -> None:
    table = {a.name: a for a in CONTAINERS.attributes}
    in_place = {name for name, a in table.items() if a.policy is Policy.UPDATE}
    assert in_place == {"networks", "restart", "running", "finished", "addresses", *options.RESOURCES}
    assert all(table[n].update is updates.update_resources for n in options.RESOURCES)
    assert table["addresses"].update is updates.update_networks
    for name in ("cap_add", "tmpfs", "hostname", "network_mode", "expose", "logging", "gpus", "platform", "ulimits"):
        assert table[name].policy is Policy.REPLACE, name
    assert {n for n, a in table.items() if a.mapping} >= {"tmpfs", "sysctls", "ulimits", "addresses"}


def test_a_spec_using_every_option_loads_and_plans_each_on_its_own_attribute() -> None:
    spec = load_spec(str(GOOD), environ={"QF_DB_PASSWORD": "pw"})
    form = desired(spec, "web").form
    named = {o.name for o in options.OPTIONS} | {"hostname", "network_mode", "addresses", "expose", "logging"}
    missing = named - set(form) - {"network_mode", "gpus"}  # those two are set on the other containers
    assert not missing
    assert desired(spec, "sidecar").form["network_mode"] == "container:options-web"
    assert desired(spec, "hostnet").form["gpus"][0]["count"] == -1


# --- what create and update send -------------------------------------------------------------------

def api() -> docker.APIClient:
    return docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")  # builds configs, never connects


def test_create_sends_every_option_in_the_engines_names() -> None:
    spec = load_spec(str(GOOD), environ={"QF_DB_PASSWORD": "pw"})
    payload = desired(spec, "web").payload
    host = api().create_host_config(**options.host_arguments(payload.options))
    assert {k: host[k] for k in ("Memory", "MemoryReservation", "MemorySwap", "NanoCpus", "CpuShares", "CpusetCpus",
                                 "PidsLimit", "ShmSize", "OomScoreAdj", "ReadonlyRootfs", "Init")} == {
        "Memory": 512 * 2 ** 20, "MemoryReservation": 256 * 2 ** 20, "MemorySwap": 2 ** 30,
        "NanoCpus": 1_500_000_000, "CpuShares": 512, "CpusetCpus": "0-1", "PidsLimit": 200, "ShmSize": 128 * 2 ** 20,
        "OomScoreAdj": -100, "ReadonlyRootfs": True, "Init": True}
    assert host["CapAdd"] == ["NET_ADMIN", "SYS_TIME"] and host["CapDrop"] == ["ALL"]
    assert host["Tmpfs"] == {"/run": "", "/tmp": "size=64m,mode=1777"}
    assert host["ExtraHosts"] == ["db:10.0.0.5", "gateway:host-gateway", "v6:::1"]
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 4096}, {"Name": "nproc", "Soft": 512,
                                                                                 "Hard": 512}]
    assert host["Devices"] == [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"},
                               {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/qf-zero", "CgroupPermissions": "r"}]
    assert options.config_arguments(payload.options) == {"domainname": "example.org", "tty": True, "stdin_open": True,
                                                         "platform": "linux/amd64"}
    assert engine.exposed_ports(payload) == [(8080, "tcp"), (9000, "udp"), (9001, "udp")]


def test_gpus_become_device_requests() -> None:
    """Untested on an engine (there is no GPU here): what docker-py sends for `gpus`."""
    spec = load_spec(str(GOOD), environ={"QF_DB_PASSWORD": "pw"})
    host = api().create_host_config(**options.host_arguments(desired(spec, "hostnet").payload.options))
    assert host["DeviceRequests"] == [{"Driver": "", "Count": -1, "DeviceIDs": [], "Capabilities": [["gpu"]],
                                       "Options": {}}]


@pytest.mark.parametrize("extra, body", [
    ("mem_limit: 64m", {"Memory": 64 * 2 ** 20, "MemorySwap": 128 * 2 ** 20}),  # swap stays twice the memory
    ("mem_limit: 64m\n    memswap_limit: -1", {"Memory": 64 * 2 ** 20, "MemorySwap": -1}),
    ("cpus: 0.5\n    cpuset: \"1\"\n    cpu_shares: 100", {"NanoCpus": 500_000_000, "CpusetCpus": "1", "CpuShares": 100}),
    ("pids_limit: 0", {"PidsLimit": -1}),
    ("mem_reservation: 32m", {"MemoryReservation": 32 * 2 ** 20}),
    ("command: [sh]", {}),
])
def test_docker_update_sends_the_limits_the_spec_gives(tmp_path, extra, body) -> None:
    spec = load(tmp_path, f"containers:\n  c:\n    image: x\n    {extra}\n")
    assert updates.resources_body(desired(spec).payload) == body


# --- plan-time rules ------------------------------------------------------------------------------

def test_pull_policy_never_with_a_missing_image_is_an_error_and_no_pull(tmp_path) -> None:
    spec = load(tmp_path, "containers:\n  c: {image: x, pull_policy: never}\n")
    want = desired(spec, image=None)
    assert want.prerequisites == ()
    assert checks.images_not_pulled(spec, {Address("containers", "c"): want}) == [
        "containers.c: image x is not on the engine and its pull_policy is never (load or build it there first, or "
        "set pull_policy: missing)"]
    assert desired(load(tmp_path, "containers:\n  c: {image: x}\n"), image=None).prerequisites[0].value == "x"


def test_pull_policy_always_plans_a_pull_and_a_new_container_when_the_registry_moved(tmp_path) -> None:
    spec = load(tmp_path, "containers:\n  c: {image: reg/x:1, pull_policy: always, platform: linux/arm64}\n")
    moved = ImageInfo(id="sha256:1", upstream="reg/x@sha256:2")
    want = desired(spec, image=moved)
    assert want.form["image_id"] == "reg/x@sha256:2"
    assert [p.value for p in want.prerequisites] == ["reg/x:1 --platform linux/arm64"]
    assert desired(spec, image=ImageInfo(id="sha256:1")).prerequisites == ()


def test_leaving_a_host_network_mode_out_is_refused_until_the_spec_says_which() -> None:
    host_live = LiveObject("containers", Address("containers", "c"), "s-c", CID, {"network_mode": "host"}, None, "s",
                           False, DEFAULT_ENGINE)

    class Want:
        def __init__(self, form):
            self.form = form

    assert checks.network_modes_left({Address("containers", "c"): Want({"networks": {}})}, [host_live], "s") != []
    assert checks.network_modes_left({Address("containers", "c"): Want({"network_mode": "bridge"})}, [host_live],
                                     "s") == []


# --- networks ---------------------------------------------------------------------------------------

NETWORK_RAW = {"Name": "s-front", "Id": "n1", "Driver": "bridge", "Internal": False, "Attachable": True,
               "EnableIPv6": True, "Labels": {"io.quayform.stack": "s", "io.quayform.address": "networks.front"},
               "Options": {"com.docker.network.driver.mtu": "1400"},
               "IPAM": {"Driver": "default", "Options": None, "Config": [
                   {"Subnet": "10.5.0.0/24", "Gateway": "10.5.0.1", "IPRange": "10.5.0.128/25"},
                   {"Subnet": "fd00:5::/64", "Gateway": "fd00:5::1"}]}}


def network_change(tmp_path: Path, body: str, raw: dict[str, Any] = NETWORK_RAW):
    spec = load(tmp_path, body)
    want = NETWORKS.desired(spec, "front", context(spec))
    have = NETWORKS.normalise((raw, None), "s", DEFAULT_ENGINE)
    return diff_resource(Address("networks", "front"), want, have, NETWORKS.policy)


NETWORK_SPEC = """\
    networks:
      front:
        driver_opts: {com.docker.network.driver.mtu: 1400}
        attachable: true
        enable_ipv6: true
        ipam:
          config:
            - {subnet: 10.5.0.0/24, gateway: 10.5.0.1, ip_range: 10.5.0.128/25}
            - {subnet: "fd00:5::/64"}
    """


def test_a_network_with_options_compares_equal_to_what_the_engine_made(tmp_path) -> None:
    change = network_change(tmp_path, NETWORK_SPEC)
    assert change.action is Action.NOOP, change.attributes  # the IPv6 gateway the engine chose is no difference


def test_an_engine_chosen_subnet_is_no_difference_but_a_changed_one_is_held(tmp_path) -> None:
    assert network_change(tmp_path, "networks:\n  front: {attachable: true, enable_ipv6: true}\n").action is Action.NOOP
    held = network_change(tmp_path, NETWORK_SPEC.replace("10.5.0.1,", "10.5.0.2,"))
    assert held.reason.code == "held" and [a.path for a in held.attributes] == ["ipam"]
    opts = network_change(tmp_path, NETWORK_SPEC.replace("1400", "1500"))
    assert [a.path for a in opts.attributes] == ["driver_opts.com.docker.network.driver.mtu"]


def test_create_network_sends_ipam_in_the_engines_names(tmp_path) -> None:
    from quayform.kinds.network import engine_ipam

    spec = load(tmp_path, NETWORK_SPEC)
    form = NETWORKS.desired(spec, "front", context(spec)).form
    assert engine_ipam(form["ipam"]) == {"Driver": "default", "Options": None, "Config": [
        {"Subnet": "10.5.0.0/24", "Gateway": "10.5.0.1", "IPRange": "10.5.0.128/25"}, {"Subnet": "fd00:5::/64"}]}
    assert json.loads(json.dumps(form["driver_opts"])) == {"com.docker.network.driver.mtu": "1400"}
