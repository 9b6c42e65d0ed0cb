"""Every container attribute, round-tripped on the real engine: set it, apply, plan nothing; change it,
plan exactly the expected action on exactly that attribute, apply, find the new value in `docker
inspect` (in place: the same container; replaced: a new one), plan nothing.

One container per row; the rows of a group share one stack so they are created, changed and checked
together (in parallel, as apply runs them), and a failure names every row that went wrong. Then the
network options, the pull policies, and the network mode rules that only the engine's state can
decide.
"""

from __future__ import annotations

import json
import random
import subprocess
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from quayform.errors import PlanError
from tests.conftest import BUSYBOX, SLEEPER
from tests.integration.helpers import Stack, actions, changed_paths, converged, wait_until
from tests.ports import free_port

pytestmark = pytest.mark.docker

MiB = 1024 * 1024
SLEEP = json.loads(SLEEPER)


@dataclass(frozen=True)
class Row:
    """One attribute: its first and second value (spec keys), the plan it makes, what inspect then shows."""

    attribute: str
    first: dict[str, Any]
    second: dict[str, Any]
    action: str  # "~" (in place) or "-/+"
    check: Callable[[dict], Any]  # inspect -> the observed value
    expected: Any  # ... which must equal this after the second apply
    paths: tuple[str, ...] = ()  # the changed attribute paths; default: (attribute,)
    base: dict[str, Any] = field(default_factory=dict)  # keys both values share
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # file next to the spec: (first, second) text
    probe: tuple[str, ...] = ()  # a command run in the container: its output is what `check` sees (raw["probe"])

    @property
    def key(self) -> str:
        return self.attribute.replace("_", "-").replace(" ", "-")


def host(key: str) -> Callable[[dict], Any]:
    return lambda raw: raw["HostConfig"].get(key)


def config(key: str) -> Callable[[dict], Any]:
    return lambda raw: raw["Config"].get(key)


def first_network(raw: dict) -> dict:
    return next(iter(raw["NetworkSettings"]["Networks"].values()))


IN_PLACE = [
    # above the swap limit Docker set at create (twice 64m): update must raise swap with it
    Row("mem_limit", {"mem_limit": "64m"}, {"mem_limit": "256m"}, "~", host("Memory"), 256 * MiB),
    Row("mem_reservation", {"mem_reservation": "32m"}, {"mem_reservation": "48m"}, "~", host("MemoryReservation"),
        48 * MiB, base={"mem_limit": "128m"}),
    Row("memswap_limit", {"memswap_limit": "128m"}, {"memswap_limit": "256m"}, "~", host("MemorySwap"), 256 * MiB,
        base={"mem_limit": "64m"}),
    Row("cpus", {"cpus": 0.5}, {"cpus": 1.25}, "~", host("NanoCpus"), 1_250_000_000),
    Row("cpu_shares", {"cpu_shares": 512}, {"cpu_shares": 256}, "~", host("CpuShares"), 256),
    Row("cpuset", {"cpuset": "0"}, {"cpuset": "0,1"}, "~", host("CpusetCpus"), "0-1"),
    Row("pids_limit", {"pids_limit": 100}, {"pids_limit": 200}, "~", host("PidsLimit"), 200),
    Row("restart", {"restart": "no"}, {"restart": "on-failure:3"}, "~", host("RestartPolicy"),
        {"Name": "on-failure", "MaximumRetryCount": 3}),
    Row("networks", {"networks": ["front"]}, {"networks": ["front", "back"]}, "~",
        lambda raw: sorted(raw["NetworkSettings"]["Networks"]), ["{s}-back", "{s}-front"], paths=("networks.{s}-back",)),
    Row("aliases", {"networks": {"front": {"aliases": ["one.example"]}}},
        {"networks": {"front": {"aliases": ["two.example"]}}}, "~",
        lambda raw: "two.example" in first_network(raw)["Aliases"], True, paths=("networks.{s}-front",)),
    Row("addresses", {"networks": {"front": {"ipv4_address": "{net}.10"}}},
        {"networks": {"front": {"ipv4_address": "{net}.11"}}}, "~",
        lambda raw: first_network(raw)["IPAddress"], "{net}.11",
        paths=("addresses.{s}-front",)),
]

# `privileged: true` cannot run on this engine (runc: "unable to apply caps: operation not permitted"),
# so its row sets it false both ways round: the attribute is still compared, created and read back.
SECURITY = [
    Row("privileged", {"privileged": False, "user": "0"}, {"privileged": False, "user": "1"}, "-/+",
        host("Privileged"), False, paths=("user",)),
    Row("user", {"user": "0"}, {"user": "1000:1000"}, "-/+", config("User"), "1000:1000"),
    Row("cap_add", {"cap_add": ["NET_ADMIN"]}, {"cap_add": ["net_admin", "CAP_SYS_TIME"]}, "-/+",
        lambda raw: sorted(raw["HostConfig"]["CapAdd"]), ["NET_ADMIN", "SYS_TIME"]),
    Row("cap_drop", {"cap_drop": ["MKNOD"]}, {"cap_drop": ["ALL"]}, "-/+", host("CapDrop"), ["ALL"]),
    Row("security_opt", {"security_opt": ["no-new-privileges"]},
        {"security_opt": ["no-new-privileges", "seccomp=unconfined"]}, "-/+",
        lambda raw: sorted(raw["HostConfig"]["SecurityOpt"]), ["no-new-privileges:true", "seccomp=unconfined"]),
    Row("read_only", {"read_only": False}, {"read_only": True}, "-/+", host("ReadonlyRootfs"), True),
    Row("group_add", {"group_add": [1234]}, {"group_add": ["1234", "5678"]}, "-/+",
        lambda raw: sorted(raw["HostConfig"]["GroupAdd"]), ["1234", "5678"]),
    Row("devices", {"devices": ["/dev/zero:/dev/qf-zero"]}, {"devices": ["/dev/zero:/dev/qf-zero:r"]}, "-/+",
        host("Devices"), [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/qf-zero", "CgroupPermissions": "r"}]),
    Row("init", {"init": False}, {"init": True}, "-/+", host("Init"), True),
    Row("oom_score_adj", {"oom_score_adj": 100}, {"oom_score_adj": 200}, "-/+", host("OomScoreAdj"), 200),
    Row("ulimits", {"ulimits": {"nofile": 1024}}, {"ulimits": {"nofile": {"soft": 1024, "hard": 2048}}}, "-/+",
        host("Ulimits"), [{"Name": "nofile", "Soft": 1024, "Hard": 2048}], paths=("ulimits.nofile",)),
    Row("sysctls", {"sysctls": {"net.core.somaxconn": 1024}}, {"sysctls": ["net.core.somaxconn=2048"]}, "-/+",
        host("Sysctls"), {"net.core.somaxconn": "2048"}, paths=("sysctls.net.core.somaxconn",)),
    Row("shm_size", {"shm_size": "32m"}, {"shm_size": "16m"}, "-/+", host("ShmSize"), 16 * MiB),
    Row("tmpfs", {"tmpfs": ["/run"]}, {"tmpfs": {"/run": "size=1m"}}, "-/+", host("Tmpfs"), {"/run": "size=1m"},
        paths=("tmpfs./run",)),
]

PROCESS = [
    Row("command", {"command": SLEEP}, {"command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3601 & wait"]}, "-/+",
        config("Cmd"), ["sh", "-c", "trap 'exit 0' TERM; sleep 3601 & wait"]),
    Row("entrypoint", {"entrypoint": ["sh", "-c"], "command": [SLEEP[2]]},
        {"entrypoint": ["/bin/sh", "-c"], "command": [SLEEP[2]]}, "-/+", config("Entrypoint"), ["/bin/sh", "-c"]),
    Row("env", {"env": {"MODE": "one"}}, {"env": {"MODE": "two"}}, "-/+", lambda raw: "MODE=two" in raw["Config"]["Env"],
        True, paths=("env.MODE",)),
    Row("env list", {"env": ["MODE=one", "BARE"]}, {"env": ["MODE=one", "BARE=set"]}, "-/+",
        lambda raw: "BARE=set" in raw["Config"]["Env"], True, paths=("env.BARE",)),
    Row("env_file", {"env_file": "app.env"}, {"env_file": "app.env"}, "-/+",
        lambda raw: "FROM_FILE=two" in raw["Config"]["Env"], True, paths=("env.FROM_FILE",),
        files={"app.env": ("# comment\nexport FROM_FILE=one\n", "FROM_FILE='two'  # a comment\n")}),
    Row("working_dir", {"working_dir": "/tmp"}, {"working_dir": "/"}, "-/+", config("WorkingDir"), "/"),
    Row("tty", {"tty": False}, {"tty": True}, "-/+", config("Tty"), True),
    Row("stdin_open", {"stdin_open": False}, {"stdin_open": True}, "-/+", config("OpenStdin"), True),
    Row("stop_signal", {"stop_signal": "SIGTERM"}, {"stop_signal": "SIGINT"}, "-/+", config("StopSignal"), "SIGINT"),
    Row("stop_grace_period", {"stop_grace_period": "5s"}, {"stop_grace_period": "3s"}, "-/+", config("StopTimeout"), 3),
    Row("labels", {"labels": {"tier": "web"}}, {"labels": ["tier=api"]}, "-/+",
        lambda raw: raw["Config"]["Labels"]["tier"], "api", paths=("labels.tier",)),
    Row("healthcheck", {"healthcheck": {"test": ["CMD", "true"], "interval": "1s"}},
        {"healthcheck": {"test": ["CMD", "true"], "interval": "2s"}}, "-/+",
        lambda raw: raw["Config"]["Healthcheck"]["Interval"], 2_000_000_000),
    Row("healthcheck disable", {"healthcheck": {"test": ["CMD", "true"], "interval": "1s"}},
        {"healthcheck": {"disable": True}}, "-/+", lambda raw: raw["Config"]["Healthcheck"]["Test"], ["NONE"],
        paths=("healthcheck",)),
    Row("logging", {"logging": {"driver": "json-file", "options": {"max-size": "1m"}}},
        {"logging": {"driver": "json-file", "options": {"max-size": "2m", "max-file": "2"}}}, "-/+",
        host("LogConfig"), {"Type": "json-file", "Config": {"max-size": "2m", "max-file": "2"}}),
    Row("files", {"files": {"/etc/qf.conf": {"content": "one\n"}}}, {"files": {"/etc/qf.conf": {"content": "two\n"}}},
        "-/+", lambda raw: raw["probe"], "two\n", paths=("files./etc/qf.conf",), probe=("cat", "/etc/qf.conf")),
]

NAMING = [
    Row("name", {"name": "{s}-first"}, {"name": "{s}-second"}, "-/+", lambda raw: raw["Name"], "/{s}-second"),
    Row("image", {"image": BUSYBOX}, {"image": "{tag}"}, "-/+", config("Image"), "{tag}"),
    Row("hostname", {"hostname": "first"}, {"hostname": "second"}, "-/+", config("Hostname"), "second",
        base={"networks": ["back"]}),  # where Docker adds the hostname to the aliases
    Row("domainname", {"domainname": "one.example"}, {"domainname": "two.example"}, "-/+", config("Domainname"),
        "two.example"),
    Row("dns", {"dns": ["192.0.2.1"]}, {"dns": ["192.0.2.2", "192.0.2.3"]}, "-/+", host("Dns"),
        ["192.0.2.2", "192.0.2.3"]),
    Row("dns_search", {"dns_search": ["one.example"]}, {"dns_search": ["two.example"]}, "-/+", host("DnsSearch"),
        ["two.example"]),
    Row("dns_opt", {"dns_opt": ["ndots:2"]}, {"dns_opt": ["ndots:3"]}, "-/+", host("DnsOptions"), ["ndots:3"]),
    Row("extra_hosts", {"extra_hosts": ["db:192.0.2.5"]}, {"extra_hosts": {"db": "192.0.2.6"}}, "-/+",
        host("ExtraHosts"), ["db:192.0.2.6"]),
    Row("ports", {"ports": ["127.0.0.1::80"]}, {"ports": ["127.0.0.1::81"]}, "-/+",
        lambda raw: sorted(raw["HostConfig"]["PortBindings"]), ["81/tcp"]),
    Row("expose", {"expose": [8080]}, {"expose": [8080, "9090/udp"]}, "-/+",
        lambda raw: sorted(raw["Config"]["ExposedPorts"]), ["8080/tcp", "9090/udp"]),
    Row("volumes", {"volumes": ["one:/data"]}, {"volumes": ["two:/data"]}, "-/+",
        lambda raw: [m["Name"] for m in raw["Mounts"]], ["{s}-two"], paths=("mounts",)),
    Row("platform", {"platform": "linux"}, {"platform": "linux/amd64"}, "-/+",
        lambda raw: raw["Config"]["Labels"]["io.quayform.platform"], "linux/amd64"),
    Row("network_mode", {"network_mode": "none"}, {"network_mode": "host"}, "-/+", host("NetworkMode"), "host",
        paths=("network_mode", "networks")),
    Row("network_mode container", {"network_mode": "container:peer-a"}, {"network_mode": "container:peer-b"}, "-/+",
        lambda raw: raw["HostConfig"]["NetworkMode"].startswith("container:"), True, paths=("network_mode",)),
]

GROUPS = {"in place": IN_PLACE, "security": SECURITY, "process": PROCESS, "naming": NAMING}
PEERS = {"peer-a": {"image": BUSYBOX, "command": SLEEP}, "peer-b": {"image": BUSYBOX, "command": SLEEP}}


def random_subnet() -> str:
    """A /24 in 10.200-249.x unlikely to clash with the engine's other networks (one per test)."""
    return f"10.{random.randint(200, 249)}.{random.randint(0, 255)}"


def fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names) if "{" in value else value
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {fill(k, names): fill(v, names) for k, v in value.items()}
    return value


def group_spec(rows: list[Row], which: str, names: dict[str, str]) -> str:
    containers = {}
    for row in rows:
        body = {"image": BUSYBOX, "command": SLEEP, **row.base, **getattr(row, which)}
        if "networks" not in body and "network_mode" not in body:
            # on Docker's bridge, as before the default network: replacing a whole group at once on one
            # user-defined network makes dockerd 20.10 leak an endpoint, and the network cannot be removed
            body["network_mode"] = "bridge"
        containers[row.key] = fill(body, names)
    if any("container:" in json.dumps(row.first) for row in rows):
        containers.update(PEERS)
    spec = {
        "networks": {"front": {"ipam": {"config": [{"subnet": names["net"] + ".0/24"}]}}, "back": {}},
        "volumes": {"one": {}, "two": {}},
        "containers": containers,
    }
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in spec.items())  # JSON is YAML


def write(stack: Stack, rows: list[Row], which: str, names: dict[str, str]) -> None:
    for row in rows:
        for name, texts in row.files.items():
            (stack.folder / name).write_text(texts[0 if which == "first" else 1])
    stack.write(group_spec(rows, which, names))


@pytest.fixture
def image_tag(stack: str, engine):
    tag = f"quayform-test/busybox:{stack}"
    engine.tag(BUSYBOX, "quayform-test/busybox", stack)
    yield tag
    engine.remove_image(tag)


@pytest.mark.parametrize("group", list(GROUPS))
def test_every_attribute_round_trips_on_the_engine(tmp_path, stack, engine, image_tag, group) -> None:
    rows = GROUPS[group]
    names = {"s": stack, "net": random_subnet(), "tag": image_tag}
    spec = Stack(tmp_path, stack)
    write(spec, rows, "first", names)
    spec.apply()
    first = spec.plan()
    assert converged(first), f"a fresh apply plans {actions(first)}, {[c.attributes for c in first.changes]}"
    ids = {row.key: engine.inspect_container(container_name(engine, stack, row))["Id"] for row in rows}

    write(spec, rows, "second", names)
    plan = spec.plan()
    expected = {f"containers.{row.key}": row.action for row in rows}
    assert actions(plan) == expected
    wrong = {row.attribute: changed_paths(plan, f"containers.{row.key}") for row in rows
             if sorted(changed_paths(plan, f"containers.{row.key}")) != sorted(fill(list(row.paths or (row.attribute,)),
                                                                                  names))}
    assert not wrong, f"changed paths that are not the row's own: {wrong}"
    # Four at a time: dockerd 20.10 can deadlock (a rename against an exiting container's address release)
    # when some fifteen containers are replaced at once; this test is about attributes, not parallelism.
    spec.apply(parallelism=4)

    problems = []
    for row in rows:
        raw = engine.inspect_container(container_name(engine, stack, row))
        if row.probe:
            probe = engine.exec_create(raw["Id"], list(row.probe))
            raw = {**raw, "probe": engine.exec_start(probe["Id"]).decode()}
        observed, want = row.check(raw), fill(row.expected, names)
        if observed != want:
            problems.append(f"{row.attribute}: the engine has {observed!r}, not {want!r}")
        if (raw["Id"] == ids[row.key]) != (row.action == "~"):
            problems.append(f"{row.attribute}: {'replaced' if row.action == '~' else 'not replaced'}")
    assert not problems, problems
    last = spec.plan()
    assert converged(last), f"after the change, a plan still has {actions(last)}"


def container_name(engine, stack: str, row: Row) -> str:
    found = engine.containers(all=True, filters={"label": [f"io.quayform.stack={stack}",
                                                           f"io.quayform.address=containers.{row.key}"]})
    assert len(found) == 1, f"{row.attribute}: {len(found)} containers"
    return found[0]["Id"]


# -- network options ---------------------------------------------------------------------------

def network_spec(net: str, bridge: str, subnet_v6: str = "fd00:{x}::/64", gateway_suffix: str = "1") -> str:
    return f"""\
networks:
  front:
    driver_opts:
      com.docker.network.bridge.name: {bridge}
      com.docker.network.driver.mtu: "1400"
    attachable: true
    enable_ipv6: true
    ipam:
      config:
        - {{subnet: {net}.0/24, gateway: {net}.{gateway_suffix}, ip_range: {net}.128/25}}
        - {{subnet: "{subnet_v6}"}}
containers:
  web:
    image: {BUSYBOX}
    command: {SLEEPER}
    networks:
      front: {{aliases: [www], ipv4_address: {net}.10}}
"""


def test_a_network_with_options_is_created_as_declared_and_a_changed_one_is_held(tmp_path, stack, engine) -> None:
    net, bridge = random_subnet(), f"qf{stack[-10:]}"
    v6 = f"fd00:{random.randint(1, 0xffff):x}::/64"
    spec = Stack(tmp_path, stack).write(network_spec(net, bridge, v6))
    spec.apply()
    raw = engine.inspect_network(f"{stack}-front")
    assert raw["Options"] == {"com.docker.network.bridge.name": bridge, "com.docker.network.driver.mtu": "1400"}
    assert raw["Attachable"] is True and raw["EnableIPv6"] is True
    assert sorted(raw["IPAM"]["Config"], key=lambda p: p["Subnet"]) == sorted([
        {"Subnet": f"{net}.0/24", "Gateway": f"{net}.1", "IPRange": f"{net}.128/25"}, {"Subnet": v6}],
        key=lambda p: p["Subnet"])
    web = engine.inspect_container(f"{stack}-web")["NetworkSettings"]["Networks"][f"{stack}-front"]
    assert web["IPAddress"] == f"{net}.10" and "www" in web["Aliases"]
    assert converged(spec.plan())

    spec.write(network_spec(net, bridge, v6, gateway_suffix="2"))
    held = spec.plan()
    assert held.changes == [] and [str(k.address) for k in held.kept] == ["networks.front"]
    assert [a.path for a in held.kept[0].attributes] == ["ipam"]
    spec.apply()  # a held change is not applied
    assert engine.inspect_network(f"{stack}-front")["Id"] == raw["Id"]

    replaced = spec.apply(replace=("networks.front",))
    assert actions(replaced) == {"networks.front": "-/+", "containers.web": "-/+"}
    gateways = {p["Subnet"]: p.get("Gateway") for p in engine.inspect_network(f"{stack}-front")["IPAM"]["Config"]}
    assert gateways[f"{net}.0/24"] == f"{net}.2"
    assert converged(spec.plan())


# -- pull policies and network modes -------------------------------------------------------------

def test_pull_policy_never_with_a_missing_image_stops_the_plan_before_anything_changes(tmp_path, stack, engine) -> None:
    spec = Stack(tmp_path, stack).write(f"""\
networks:
  net: {{}}
containers:
  app:
    image: quayform-test/not-there:{stack}
    pull_policy: never
    networks: [net]
""")
    with pytest.raises(PlanError, match=r"containers.app: image quayform-test/not-there:\S+ is not on the engine and "
                                        r"its pull_policy is never"):
        spec.plan()
    assert engine.networks(filters={"label": f"io.quayform.stack={stack}"}) == []


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def registry(stack: str):
    """A registry container of its own (not the stack's) on a published port, removed afterwards."""
    port = free_port()
    name = f"{stack}-registry"
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:5000", "quayform-test/registry:2")
    tags: list[str] = []
    def answers() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
            return True
        except OSError:
            return False

    wait_until(answers, "the registry to start", tries=100, pause=0.3)
    yield f"127.0.0.1:{port}", tags
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    for tag in tags:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def push(source: str, tag: str, tags: list[str]) -> str:
    tags.append(tag)
    docker("tag", source, tag)
    docker("push", tag)
    return docker("image", "inspect", "-f", "{{.Id}}", source)


def test_pull_policy_always_replaces_the_container_when_the_registry_has_a_new_image(tmp_path, stack, engine,
                                                                                    registry) -> None:
    address, tags = registry
    tag = f"{address}/qf/app:1"
    first_id = push(BUSYBOX, tag, tags)
    spec = Stack(tmp_path, stack).write(f"""\
containers:
  app:
    image: {tag}
    pull_policy: always
    command: {SLEEPER}
""")
    spec.apply()
    assert converged(spec.plan())  # the registry serves what the engine has: nothing to pull

    rebuilt = docker("create", BUSYBOX)  # an image with busybox's config and another id: a rebuild
    tags.append(f"{address}/qf/rebuilt:1")
    docker("commit", rebuilt, f"{address}/qf/rebuilt:1")
    docker("rm", rebuilt)
    second_id = push(f"{address}/qf/rebuilt:1", tag, tags)  # the tag now names it in the registry ...
    docker("tag", BUSYBOX, tag)  # ... while the engine's tag still points at the first image
    plan = spec.plan()
    assert actions(plan) == {"containers.app": "-/+"} and changed_paths(plan, "containers.app") == ["image_id"]
    assert [p.value for p in plan.prerequisites] == [tag]
    spec.apply()
    assert engine.inspect_container(f"{stack}-app")["Image"] == second_id != first_id
    assert converged(spec.plan())


def test_leaving_network_mode_host_out_of_the_spec_asks_for_the_mode_it_should_have(tmp_path, stack, engine) -> None:
    body = f"""\
containers:
  app:
    image: {BUSYBOX}
    command: {SLEEPER}
"""
    spec = Stack(tmp_path, stack).write(body + "    network_mode: host\n")
    spec.apply()
    spec.write(body)
    with pytest.raises(PlanError, match="containers.app: it runs with network_mode host, which the spec no longer "
                                        "sets"):
        spec.plan()
    spec.write(body + "    network_mode: bridge\n")
    plan = spec.plan()
    assert actions(plan) == {"containers.app": "-/+"}
    assert changed_paths(plan, "containers.app") == ["network_mode", "networks"]
    spec.apply()
    assert engine.inspect_container(f"{stack}-app")["HostConfig"]["NetworkMode"] == "bridge"
    assert converged(spec.plan())


def test_a_container_sharing_another_ones_network_reaches_it_on_localhost(tmp_path, stack, engine) -> None:
    spec = Stack(tmp_path, stack).write(f"""\
containers:
  server:
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 127.0.0.1:8080 -h /etc & wait"]
  client:
    image: {BUSYBOX}
    command: {SLEEPER}
    network_mode: container:server
""")
    plan = spec.plan()
    assert [str(c.address) for c in plan.changes] == ["networks.default", "containers.server",
                                                      "containers.client"]  # its dependency first
    spec.apply()
    probe = engine.exec_create(f"{stack}-client", ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/passwd"])
    engine.exec_start(probe["Id"])
    assert engine.exec_inspect(probe["Id"])["ExitCode"] == 0
    assert converged(spec.plan())
