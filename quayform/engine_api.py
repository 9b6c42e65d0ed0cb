"""A small Engine API client on the standard library, for the calls every plan makes.

Why: through the Docker SDK (requests and urllib3) one `GET /containers/{id}/json` costs about
1.4 ms of this process's CPU, so reading a 100-container stack took 0.13 s, more than the engine
itself needs; importing the SDK took another 0.05 s. Here a request is `http.client` on a kept-alive
socket per thread (about 0.2 ms), and the SDK is imported only when a call it alone makes is needed
(create with a host config, pull, logs, exec, archives): `ReadFirstApi` answers the reads, the lock's
calls and removals itself and hands every other attribute to the SDK's `APIClient`, made on first
use. Endpoints it does not speak (ssh://, TLS) go to the SDK for everything.

Failures are raised as `ApiError` / `ApiNotFound` (with `status_code` and `explanation`, the
attributes quayform reads from the SDK's errors) or as the socket's own `OSError`s.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any, Callable
from urllib.parse import quote, urlencode

USER_AGENT = "quayform"


class ApiError(Exception):
    """The engine answered with an error status."""

    def __init__(self, status_code: int, explanation: str, method: str, path: str):
        super().__init__(f"{status_code} {method} {path}: {explanation}")
        self.status_code = status_code
        self.explanation = explanation


class ApiNotFound(ApiError):
    """404: no such container, image, volume or network."""


class EngineUnreachable(ConnectionError):
    """The engine's address could not be reached (no such host, no route, refused, no socket file)."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def plain_endpoint(base_url: str, timeout: float) -> Callable[[], http.client.HTTPConnection] | None:
    """How to open a connection to `base_url`, or None when this client does not speak it (ssh://, npipe://,
    a path after the address)."""
    if base_url.startswith("unix://") and len(base_url) > len("unix://"):
        path = base_url[len("unix://"):]
        return lambda: _UnixConnection(path, timeout)
    if base_url.startswith(("tcp://", "http://")):
        hostport = base_url.split("://", 1)[1].rstrip("/")
        if not hostport or "/" in hostport:
            return None
        if not hostport.rsplit("]", 1)[-1].count(":"):
            hostport += ":2375"  # the engine's plain-HTTP port, as the docker CLI assumes
        return lambda: http.client.HTTPConnection(hostport, timeout=timeout)
    return None


def filters_query(filters: dict[str, Any] | None) -> dict[str, str]:
    """The engine's `filters` parameter: a JSON object of lists of strings (as `docker ps --filter` sends)."""
    if not filters:
        return {}
    shaped = {}
    for key, value in filters.items():
        values = value if isinstance(value, list) else [value]
        shaped[key] = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]
    return {"filters": json.dumps(shaped)}


class EngineApi:
    """JSON requests to one engine on `version`, one kept-alive connection per thread."""

    def __init__(self, opener: Callable[[], http.client.HTTPConnection], version: str):
        self.opener = opener
        self.prefix = f"/v{version}"
        self.local = threading.local()

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        url = self.prefix + path + (f"?{urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"User-Agent": USER_AGENT}
        if data is not None:
            headers["Content-Type"] = "application/json"
        # Reads reuse this thread's connection; a write gets its own, so that it is never sent twice (a read is
        # sent again when the engine had closed the idle connection).
        reused = getattr(self.local, "conn", None) if method == "GET" else None
        if reused is not None:
            self.local.conn = None  # back once the answer was read whole: a failed exchange leaves it unusable
        conn = reused
        try:
            try:
                conn = conn or self.opener()
                conn.request(method, url, body=data, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if reused is None:
                    raise
                conn = self.opener()
                conn.request(method, url, body=data, headers=headers)
                response = conn.getresponse()
            payload = response.read()
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, OSError) and not isinstance(exc, (TimeoutError, ConnectionError)):
                raise EngineUnreachable(str(exc)) from exc  # a bad host name, no route: as the SDK said them
            raise
        if method == "GET" and not response.will_close:
            self.local.conn = conn
        else:
            conn.close()
        if response.status >= 400:
            raise _error(response.status, payload, method, path)
        if not payload:
            return None
        return json.loads(payload)

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query)


def _error(status: int, payload: bytes, method: str, path: str) -> ApiError:
    try:
        explanation = str(json.loads(payload).get("message") or "")
    except (ValueError, AttributeError):
        explanation = payload.decode(errors="replace").strip()
    cls = ApiNotFound if status == 404 else ApiError
    return cls(status, explanation or http.client.responses.get(status, "error"), method, path)


def _name(value: str) -> str:
    return quote(value, safe="/:")


class ReadFirstApi:
    """The calls quayform makes on every run, answered on `EngineApi`; any other attribute is the SDK
    client's (made on first use by `make_sdk`). Signatures and results are those of the SDK's APIClient."""

    def __init__(self, engine_api: EngineApi | None, make_sdk: Callable[[], Any]):
        self._engine_api = engine_api
        self._make_sdk = make_sdk
        self._sdk: Any = None
        self._sdk_lock = threading.Lock()

    @property
    def sdk(self) -> Any:
        with self._sdk_lock:
            if self._sdk is None:
                self._sdk = self._make_sdk()
            return self._sdk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sdk, name)

    def containers(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        fast = self._engine_api
        if fast is None:
            return self.sdk.containers(all=all, filters=filters)
        return fast.get("/containers/json", all=int(all), **filters_query(filters))

    def volumes(self, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        fast = self._engine_api
        if fast is None:
            return self.sdk.volumes(filters=filters)
        return fast.get("/volumes", **filters_query(filters))

    def networks(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        fast = self._engine_api
        if fast is None:
            return self.sdk.networks(filters=filters)
        return fast.get("/networks", **filters_query(filters))

    def inspect_container(self, container: str) -> dict[str, Any]:
        return self._inspect("/containers/{}/json", "inspect_container", container)

    def inspect_image(self, image: str) -> dict[str, Any]:
        return self._inspect("/images/{}/json", "inspect_image", image)

    def inspect_network(self, net_id: str) -> dict[str, Any]:
        return self._inspect("/networks/{}", "inspect_network", net_id)

    def inspect_volume(self, name: str) -> dict[str, Any]:
        return self._inspect("/volumes/{}", "inspect_volume", name)

    def _inspect(self, template: str, sdk_name: str, name: str) -> dict[str, Any]:
        fast = self._engine_api
        if fast is None:
            return getattr(self.sdk, sdk_name)(name)
        return fast.get(template.format(_name(name)))

    def remove_container(self, container: str, v: bool = False, force: bool = False) -> None:
        fast = self._engine_api
        if fast is None:
            return self.sdk.remove_container(container, v=v, force=force)
        fast.request("DELETE", f"/containers/{_name(container)}", {"v": int(v), "force": int(force)})
        return None

    def create_plain(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /containers/create with the engine's own body (no host config translation needed)."""
        fast = self._engine_api
        if fast is None:
            sdk = self.sdk
            response = sdk._post_json(sdk._url("/containers/create"), data=body, params={"name": name})
            return sdk._result(response, True)
        return fast.request("POST", "/containers/create", {"name": name}, body)

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST `body` to `path` (e.g. `/containers/{id}/update`), on whichever client serves this endpoint."""
        fast = self._engine_api
        if fast is None:
            sdk = self.sdk
            response = sdk._post_json(sdk._url(path), data=body)
            sdk._raise_for_status(response)
            return None
        return fast.request("POST", path, None, body)
