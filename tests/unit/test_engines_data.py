"""Several engines, without Docker: which engines a spec reads and locks, the order locks are taken and
released in, moves between engines in diff, the engine shown in the plan, and the unreachable-engine message."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest

from quayform.address import Address
from quayform.changes import Action, Change, Desired, Kept, LiveObject
from quayform.diff import diff_resource
from quayform.errors import LockHeldError
from quayform.kinds import REGISTRY
from quayform.lock import EngineLocks
from quayform.observe import _unreachable
from quayform.plan import Plan
from quayform.plan_document import plan_to_json
from quayform.render import Printer, render_plan
from quayform.spec import load_spec
from quayform.targets import EngineTarget, PgTarget, engine_targets

A, B = EngineTarget("a", "unix:///run/a.sock"), EngineTarget("b", "unix:///run/b.sock")


def spec_from(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "quayform.yaml"
    path.write_text(text)
    return load_spec(str(path), {}, {}, read_secrets=False)


# -- which engines a spec has --------------------------------------------------------------------

@pytest.mark.parametrize("body, names", [
    ("containers: {web: {image: busybox}}\n", ["default"]),  # no engines section: DOCKER_HOST, as before
    ("engines: {b: {host: 'unix:///run/b.sock'}}\ncontainers: {web: {image: busybox, engine: b}}\n", ["b"]),
    ("engines: {b: {host: 'unix:///run/b.sock'}}\ncontainers: {web: {image: busybox}}\n", ["b", "default"]),
    ("engines: {default: {host: 'unix:///run/a.sock'}, b: {host: 'unix:///run/b.sock'}}\n", ["b", "default"]),
])
def test_engines_of_a_spec(tmp_path: Path, body: str, names: list[str]) -> None:
    spec = spec_from(tmp_path, "version: 1\nstack: s\n" + body)
    assert [t.name for t in engine_targets(spec)] == names


def test_resources_and_servers_follow_their_engine(tmp_path: Path) -> None:
    spec = spec_from(tmp_path, """version: 1
stack: s
engines:
  b: {host: "unix:///run/b.sock"}
volumes:
  data: {engine: b}
containers:
  db: {image: postgres, engine: b, volumes: ["data:/var/lib/postgresql/data"]}
  web: {image: nginx}
postgres:
  main: {container: db}
users:
  app: {server: main}
""")
    b = EngineTarget("b", "unix:///run/b.sock")
    assert REGISTRY["containers"].engine_of(spec, "db") == b
    assert REGISTRY["volumes"].engine_of(spec, "data") == b
    assert REGISTRY["containers"].engine_of(spec, "web") == EngineTarget("default")
    from quayform.pipeline import context

    server = REGISTRY["users"].desired(spec, "app", context(spec)).target
    assert isinstance(server, PgTarget) and server.engine == b and server.engine_name == "b"


def test_tls_files_are_read_relative_to_the_spec(tmp_path: Path) -> None:
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_text(name)
    spec = spec_from(tmp_path, "version: 1\nstack: s\nengines:\n  c: {host: 'tcp://c.example:2376', "
                               "tls: {ca: ca.pem, cert: cert.pem, key: key.pem}}\n")
    (target,) = engine_targets(spec)
    assert target.tls == tuple(str(tmp_path / f"{n}.pem") for n in ("ca", "cert", "key"))


def test_ssh_without_paramiko_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from quayform.docker_client import connect
    from quayform.errors import EngineError

    real_import = builtins.__import__

    def no_paramiko(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "paramiko":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_paramiko)
    with pytest.raises(EngineError, match=r"engine far \(ssh://ops@far\): ssh:// engines need the paramiko package"):
        connect(host="ssh://ops@far", name="far")


# -- locks: one per engine, in a fixed order, all released -----------------------------------------

class FakeApi:
    def __init__(self, engine: "FakeEngine"):
        self.engine = engine

    def inspect_image(self, ref: str) -> dict:
        return {}

    def create_plain(self, name: str, body: dict) -> dict:
        self.engine.log.append(("take", self.engine.name))
        if self.engine.held:
            raise FakeApiError(409)
        self.engine.held = True
        return {"Id": f"lock-{self.engine.name}"}

    def inspect_container(self, name: str) -> dict:
        return {"Config": {"Labels": {"io.quayform.lock.user": "someone", "io.quayform.lock.host": "elsewhere"}}}

    def remove_container(self, cid: str, force: bool = False) -> None:
        self.engine.log.append(("release", self.engine.name))
        self.engine.held = False


class FakeApiError(Exception):
    def __init__(self, status_code: int):
        self.status_code = status_code


class FakeEngine:
    NotFound = KeyError
    APIError = FakeApiError
    Failure = (OSError,)

    def __init__(self, name: str, log: list, held: bool = False):
        self.name, self.log, self.held = name, log, held
        self.api = FakeApi(self)

    def errors(self, action: str) -> Any:
        return contextlib.nullcontext()

    def describe(self, exc: BaseException) -> str:
        return str(exc)


def test_locks_are_taken_in_order_of_where_the_engines_are_and_released_in_reverse() -> None:
    log: list = []
    engines = [(("unix:///run/z.sock", "z"), FakeEngine("z", log)), (("tcp://a:2376", "a"), FakeEngine("a", log)),
               (("unix:///run/m.sock", "m"), FakeEngine("m", log))]
    with EngineLocks(engines, "s", "apply"):
        assert log == [("take", "a"), ("take", "m"), ("take", "z")]
    assert log[3:] == [("release", "z"), ("release", "m"), ("release", "a")]


def test_two_operators_listing_engines_differently_take_them_in_the_same_order() -> None:
    one, other = [], []
    pairs = [(("unix:///run/b.sock", "b"), "b"), (("unix:///run/a.sock", "a"), "a")]
    with EngineLocks([(k, FakeEngine(n, one)) for k, n in pairs], "s", "apply"):
        pass
    with EngineLocks([(k, FakeEngine(n, other)) for k, n in reversed(pairs)], "s", "apply"):
        pass
    assert one == other


def test_a_held_lock_on_a_later_engine_releases_the_ones_already_taken() -> None:
    log: list = []
    engines = [(("unix:///run/a.sock", "a"), FakeEngine("a", log)),
               (("unix:///run/b.sock", "b"), FakeEngine("b", log, held=True))]
    with pytest.raises(LockHeldError, match="locked by someone@elsewhere"):
        with EngineLocks(engines, "s", "apply"):
            pytest.fail("entered while engine b's lock is held")
    assert log == [("take", "a"), ("take", "b"), ("release", "a")]
    assert not engines[0][1].held


def test_an_error_inside_releases_every_lock() -> None:
    log: list = []
    engines = [(("unix:///run/a.sock", "a"), FakeEngine("a", log)), (("unix:///run/b.sock", "b"), FakeEngine("b", log))]
    with pytest.raises(RuntimeError):
        with EngineLocks(engines, "s", "apply"):
            raise RuntimeError("apply failed")
    assert [e.held for _, e in engines] == [False, False]


# -- moving between engines, and showing where things are ---------------------------------------------

WEB = Address("containers", "web")
DATA = Address("volumes", "data")


def test_an_object_on_another_engine_is_replaced_there() -> None:
    form = {"name": "s-web", "image": "busybox"}
    change = diff_resource(WEB, Desired(form, target=B), LiveObject("containers", WEB, "s-web", "c1", form, target=A),
                           REGISTRY["containers"].policy)
    assert isinstance(change, Change) and change.action is Action.REPLACE
    assert [(a.path, a.before, a.after, a.forces_replace) for a in change.attributes] == [("engine", "a", "b", True)]
    assert (change.live_target, change.target) == (A, B)  # deleted where it is, created where the spec puts it


def test_a_volume_on_another_engine_is_held_for_its_data() -> None:
    form = {"name": "s-data", "driver": "local", "driver_opts": {}, "labels": {}}
    kept = diff_resource(DATA, Desired(form, target=B), LiveObject("volumes", DATA, "s-data", "v", form, target=A),
                         REGISTRY["volumes"].policy)
    assert isinstance(kept, Kept) and "--replace volumes.data" in str(kept.reason)


def test_the_same_engine_is_no_change() -> None:
    form = {"name": "s-web"}
    change = diff_resource(WEB, Desired(form, target=A), LiveObject("containers", WEB, "s-web", "c1", form, target=A),
                           REGISTRY["containers"].policy)
    assert change.action is Action.NOOP


def _plan_text(names: list[str]) -> str:
    plan = Plan("s", [Change(WEB, Action.CREATE, after={"name": "s-web"}, target=B)], engine_names=names)
    stream = io.StringIO()
    render_plan(plan_to_json(plan), Printer(stream, color=False))
    return stream.getvalue()


def test_the_plan_names_the_engine_when_there_are_several() -> None:
    assert "  # containers.web (engine b) will be created\n" in _plan_text(["a", "b"])
    assert "  # containers.web will be created\n" in _plan_text(["b"])


def test_the_plan_json_carries_the_engine() -> None:
    plan = Plan("s", [Change(WEB, Action.DELETE, before={"name": "s-web"}, live_target=A)], engine_names=["a", "b"])
    document = plan_to_json(plan)
    assert document["engine_names"] == ["a", "b"] and document["changes"][0]["engine"] == "a"


# -- an engine that cannot be reached ---------------------------------------------------------------

def test_an_unreachable_engine_is_named_once_with_what_lives_on_it_left_out() -> None:
    pg = PgTarget("main", "s-db", "postgres", "postgres", "postgres", B)
    message = _unreachable({A: "listing containers: cannot reach the Docker engine at unix:///run/a.sock (engine a)",
                            pg: "cannot run psql: cannot reach the Docker engine at unix:///run/b.sock",
                            B: "listing volumes: cannot reach the Docker engine at unix:///run/b.sock (engine b)",
                            "containers": "inspecting image x: cannot reach the Docker engine"})
    assert message.splitlines() == [
        "cannot read the live state, so nothing was changed on any engine:",
        "  listing containers: cannot reach the Docker engine at unix:///run/a.sock (engine a)",
        "  listing volumes: cannot reach the Docker engine at unix:///run/b.sock (engine b)"]


def test_one_unreachable_engine_is_one_line() -> None:
    assert _unreachable({B: "listing volumes: cannot reach x (engine b)"}) == (
        "listing volumes: cannot reach x (engine b) (nothing was changed on any engine)")


@pytest.mark.parametrize("host, url", [("unix:///run/b.sock", "http://127.0.0.1:18080"),
                                       ("tcp://10.0.0.7:2376", None)])
def test_a_quay_instance_follows_its_container_and_is_reached_through_a_remote_engine(
        tmp_path: Path, host: str, url: str | None) -> None:
    from quayform.kinds.quay import quay_target
    from quayform.pipeline import context

    spec = spec_from(tmp_path, f"""version: 1
stack: s
secrets:
  admin: {{env: QS_ADMIN}}
engines:
  b: {{host: "{host}"}}
containers:
  quay: {{image: quay, engine: b, ports: ["127.0.0.1:18080:8080"]}}
quay:
  main: {{container: quay, admin: {{username: quayadmin, password: "${{secrets.admin}}"}}}}
""")
    target = quay_target(spec, "main", context(spec).name_of)
    assert target.engine_name == "b" and target.engine.host == host
    assert target.url == url  # 127.0.0.1 is this machine: on another host, Quay is reached through its engine


def test_each_engine_gets_its_own_default_network(tmp_path: Path) -> None:
    spec = spec_from(tmp_path, "version: 1\nstack: s\nengines: {b: {host: 'unix:///run/b.sock'}}\n"
                               "containers:\n  web: {image: busybox}\n  api: {image: busybox, engine: b}\n"
                               "  job: {image: busybox, engine: b}\n")
    assert {key: (net.engine, key) for key, net in spec.networks.items()} == {
        "default": ("default", "default"), "default-b": ("b", "default-b")}
    assert [spec.containers[k].networks for k in ("web", "api", "job")] == [["default"], ["default-b"], ["default-b"]]
    assert REGISTRY.name_of(spec, Address("networks", "default-b")) == "s-default-b"
