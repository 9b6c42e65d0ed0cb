"""The standard-library Engine API client, from data: endpoints it speaks, query shapes, error reading."""

from __future__ import annotations

import http.client
import json

import pytest

from quayform.docker_client import DockerEngine, connect, describe, engine_errors
from quayform.engine_api import ApiError, ApiNotFound, _error, filters_query, plain_endpoint
from quayform.errors import EngineError


def test_filters_are_sent_as_the_engine_reads_them() -> None:
    assert filters_query(None) == {}
    query = filters_query({"label": "a=b", "dangling": True, "id": ["x", "y"]})
    assert json.loads(query["filters"]) == {"label": ["a=b"], "dangling": ["true"], "id": ["x", "y"]}


@pytest.mark.parametrize("url, spoken", [
    ("unix:///var/run/docker.sock", True), ("tcp://127.0.0.1:2375", True), ("tcp://engine.local", True),
    ("http://[::1]:2375", True), ("ssh://ops@far", False), ("npipe:////./pipe/docker_engine", False),
    ("unix://", False), ("tcp://host:2375/prefix", False),
])
def test_endpoints_this_client_speaks_and_the_ones_left_to_the_sdk(url: str, spoken: bool) -> None:
    assert (plain_endpoint(url, 5.0) is not None) == spoken


def test_a_tcp_endpoint_without_a_port_gets_the_engines_plain_port() -> None:
    conn = plain_endpoint("tcp://engine.local", 5.0)()
    assert (conn.host, conn.port) == ("engine.local", 2375)
    conn = plain_endpoint("tcp://[::1]", 5.0)()
    assert (conn.host, conn.port) == ("::1", 2375)


def test_tls_and_ssh_endpoints_are_served_by_the_sdk_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    assert connect()._engine_api is None
    assert connect(host="tcp://127.0.0.1:2376", tls=("ca", "cert", "key"))._engine_api is None
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    assert connect()._engine_api is not None


def test_an_error_answer_carries_the_engines_message_and_status() -> None:
    missing = _error(404, b'{"message":"No such container: web"}', "GET", "/containers/web/json")
    assert isinstance(missing, ApiNotFound) and missing.status_code == 404
    assert describe(missing) == "No such container: web"
    conflict = _error(409, b"name in use\n", "POST", "/containers/create")
    assert type(conflict) is ApiError and conflict.explanation == "name in use"
    assert _error(500, b"", "GET", "/x").explanation == "Internal Server Error"


def test_engine_failures_become_one_line_naming_the_action_and_others_pass_through() -> None:
    for failure in (ApiError(500, "boom", "GET", "/x"), ConnectionRefusedError(), FileNotFoundError(),
                    TimeoutError(), http.client.RemoteDisconnected("closed")):
        with pytest.raises(EngineError, match="^listing containers: "):
            with engine_errors("listing containers", "unix:///nowhere.sock"):
                raise failure
    with pytest.raises(KeyError):
        with engine_errors("listing containers"):
            raise KeyError("a bug, not the engine")


def test_not_found_matches_this_clients_error_and_connection_failures_name_the_endpoint() -> None:
    engine = DockerEngine.connect(host="unix:///nowhere.sock")
    try:
        raise ApiNotFound(404, "no such image", "GET", "/images/x/json")
    except engine.NotFound as exc:
        assert exc.status_code == 404
    with pytest.raises(EngineError, match="cannot reach the Docker engine at unix:///nowhere.sock"):
        with engine.errors("listing containers"):
            engine.api.containers(all=True)


class _Scripted(http.client.HTTPConnection):
    """A connection whose exchanges are scripted: each item is an exception to raise or (status, body)."""

    def __init__(self, script: list, opened: list):
        super().__init__("scripted")
        self.script, self.closed = script, False
        opened.append(self)

    def request(self, method, url, body=None, headers=None, **kwargs) -> None:  # noqa: ANN001
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        self.answer = step

    def getresponse(self):  # noqa: ANN201
        status, body = self.answer

        class Answer:
            will_close = False

            def read(self) -> bytes:
                return body
        answer = Answer()
        answer.status = status
        return answer

    def close(self) -> None:
        self.closed = True


def _api(script: list, opened: list):
    from quayform.engine_api import EngineApi

    return EngineApi(lambda: _Scripted(script, opened), "1.41")


def test_a_read_is_sent_again_on_a_new_connection_when_the_kept_one_was_closed() -> None:
    opened: list = []
    api = _api([(200, b"[]"), http.client.RemoteDisconnected("idle"), (200, b'{"Id": "x"}')], opened)
    assert api.get("/containers/json") == []
    assert api.get("/containers/x/json") == {"Id": "x"}
    assert len(opened) == 2 and opened[0].closed and not opened[1].closed


def test_a_write_is_never_sent_twice_and_never_on_the_kept_connection() -> None:
    opened: list = []
    api = _api([(200, b"[]"), http.client.RemoteDisconnected("gone")], opened)
    api.get("/containers/json")
    with pytest.raises(http.client.RemoteDisconnected):
        api.request("POST", "/containers/create", {"name": "lock"}, {"Image": "x"})
    assert len(opened) == 2 and opened[1].closed and not opened[0].closed  # the read's connection is kept


def test_a_failed_exchange_does_not_leave_its_connection_for_the_next_read() -> None:
    opened: list = []
    api = _api([TimeoutError("slow"), (200, b"{}")], opened)
    with pytest.raises(TimeoutError):
        api.get("/info")
    assert api.get("/info") == {} and len(opened) == 2 and opened[0].closed


def test_a_host_that_does_not_resolve_is_an_unreachable_engine_not_a_crash() -> None:
    engine = DockerEngine.connect(host="tcp://quayform-no-such-host.invalid:2375", name="far")
    with pytest.raises(EngineError, match="^listing containers: cannot reach the Docker engine at "
                                          "tcp://quayform-no-such-host.invalid:2375"):
        with engine.errors("listing containers"):
            engine.api.containers(all=True)
    try:
        engine.api.inspect_image("x")
    except engine.Failure as exc:
        assert isinstance(exc, ConnectionError)
