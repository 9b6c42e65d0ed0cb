"""A Quay instance's HTTP API (/api/v1), reached the way its target says, signed in as the admin.

Two ways in, one interface:
- `DirectTransport`: the API published on a host port (127.0.0.1:PORT): plain HTTP connections.
- `RelayTransport`: nothing published: a small relay runs inside the Quay container through
  `docker exec` and carries the HTTP bytes to 127.0.0.1:PORT there, so Quay is reached through
  the engine, as PostgreSQL is.

Signing in: on an empty Quay the first (super)user is created through /api/v1/user/initialize;
on every later run the admin signs in with its password (GET /csrf_token, POST /api/v1/signin)
and the session cookie and CSRF token are kept in memory for the run, never printed or stored.
Session calls cost ~20 ms against ~200 ms for a bearer token, which Quay bcrypt-checks per call.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
import time
from http.cookies import SimpleCookie
from typing import Any

from quayform.errors import EngineError, ReadinessError, TargetUnavailable
from quayform.targets import Memo, pause

TIMEOUT = 60.0
POOL = 4  # connections per instance: reads of a stack's contents go out in parallel
SESSION_COOKIE = "_csrf_token"  # what Quay calls its Flask session cookie

# Copies what arrives on stdin to 127.0.0.1:PORT and what comes back to stdout, until the server
# closes the connection (Quay's nginx closes it after many API answers: `Connection: close`).
RELAY = ("import socket,sys,threading\n"
         "s=socket.create_connection(('127.0.0.1',int(sys.argv[1])))\n"
         "def up():\n"
         " while True:\n"
         "  b=sys.stdin.buffer.read1(65536)\n"
         "  if not b: break\n"
         "  s.sendall(b)\n"
         " s.shutdown(socket.SHUT_WR)\n"
         "threading.Thread(target=up,daemon=True).start()\n"
         "while True:\n"
         " b=s.recv(65536)\n"
         " if not b: break\n"
         " sys.stdout.buffer.write(b); sys.stdout.buffer.flush()\n"
         "import os\n"
         "os._exit(0)\n")  # at once: a reader thread still blocked on stdin would hold up a normal exit


class QuayError(EngineError):
    """Quay answered with an error (status and Quay's own message)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class _KeepOpen(io.RawIOBase):
    """A reader over a stream that http.client may 'close' after each response without closing it."""

    def __init__(self, raw: Any):
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.raw.readinto(buffer)

    def close(self) -> None:  # http.client closes the response's file; the stream lives on
        pass


class _Frames(io.RawIOBase):
    """stdout of a non-tty docker exec: the engine's 8-byte frame headers taken off."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.left = 0

    def readable(self) -> bool:
        return True

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                return data
            data += chunk
        return data

    def readinto(self, buffer: Any) -> int:
        while self.left == 0:
            header = self._exactly(8)
            if len(header) < 8:
                return 0
            stream, size = header[0], int.from_bytes(header[4:8], "big")
            if stream != 1:  # stderr of the relay: dropped
                self._exactly(size)
                continue
            self.left = size
        chunk = self.sock.recv(min(len(buffer), self.left))
        if not chunk:
            return 0
        self.left -= len(chunk)
        buffer[:len(chunk)] = chunk
        return len(chunk)


class _RelayConnection:
    """One HTTP/1.1 keep-alive connection through a relay process in the container."""

    def __init__(self, engine: Any, container: str, port: int):
        api = engine.api
        try:
            exec_id = api.exec_create(container, ["python3", "-c", RELAY, str(port)], stdin=True)["Id"]
            sock = api.exec_start(exec_id, socket=True)
        except engine.NotFound:
            raise TargetUnavailable(f"its Quay container {container} does not exist", quiet=True) from None
        except engine.APIError as exc:
            if exc.status_code == 409:
                raise TargetUnavailable(f"its Quay container {container} is not running") from None
            raise EngineError(f"cannot reach Quay in container {container}: {engine.describe(exc)}") from None
        self.sock = getattr(sock, "_sock", sock)
        self.sock.settimeout(TIMEOUT)
        self.frames = _Frames(self.sock)  # one per connection: a frame may span two reads

    def makefile(self, mode: str) -> Any:
        """What http.client reads a response from (the server sends nothing past one response)."""
        return io.BufferedReader(_KeepOpen(self.frames))

    def exchange(self, method: str, path: str, data: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
        lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        response = http.client.HTTPResponse(self, method=method)  # type: ignore[arg-type]
        response.begin()
        return response

    def reusable(self, response: http.client.HTTPResponse) -> bool:
        """After `Connection: close` the relay has ended: the next request needs a new one."""
        return not response.will_close

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def container_state(engine: Any, container: str) -> TargetUnavailable:
    """Why Quay cannot be reached, as its container's state explains it."""
    if not container:
        return TargetUnavailable("Quay does not answer")
    try:
        state = engine.api.inspect_container(container)["State"]
    except engine.NotFound:
        return TargetUnavailable(f"its Quay container {container} does not exist", quiet=True)
    except engine.Failure as exc:
        return TargetUnavailable(f"its Quay container {container} cannot be inspected: {engine.describe(exc)}")
    if not state.get("Running"):
        return TargetUnavailable(f"its Quay container {container} is not running")
    return TargetUnavailable(f"Quay in container {container} does not answer yet")


class _DirectConnection:
    def __init__(self, host: str, port: int, unavailable: Any):
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        self.unavailable = unavailable

    def exchange(self, method: str, path: str, data: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
        if self.conn.sock is None:
            try:
                self.conn.connect()
            except OSError:
                raise self.unavailable() from None
        self.conn.request(method, path, body=data, headers=headers)
        return self.conn.getresponse()

    def reusable(self, response: http.client.HTTPResponse) -> bool:
        return True  # http.client connects again itself after `Connection: close`

    def close(self) -> None:
        self.conn.close()


class QuaySession:
    """The connection Quay kinds receive: signed-in requests, a memo for the run's shared reads."""

    def __init__(self, engine: Any, target: Any, stopping: threading.Event | None = None):
        self.engine = engine
        self.target = target
        self.stopping = stopping
        self.memo = Memo()
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._cookie = ""
        self._csrf = ""
        self._signed_in = False
        self._sign_in_lock = threading.Lock()
        self.calls = 0

    # -- transport -----------------------------------------------------------------------------
    def _connection(self, fresh: bool = False) -> Any:
        with self._lock:
            if self._idle and not fresh:
                return self._idle.pop()
        if self.target.url:
            host, _, port = self.target.url.split("://", 1)[-1].rstrip("/").partition(":")
            return _DirectConnection(host, int(port or 80), lambda: container_state(self.engine, self.target.container))
        return _RelayConnection(self.engine, self.target.container, self.target.port)

    def _raw(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
             ) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        sent = {"Host": self.target.host_header, "Accept": "application/json", "Connection": "keep-alive",
                "Content-Length": str(len(data))}
        if body is not None:
            sent["Content-Type"] = "application/json"
        if self._cookie:
            sent["Cookie"] = f"{SESSION_COOKIE}={self._cookie}"
        sent.update(headers or {})
        for attempt in range(2):
            connection = self._connection(fresh=attempt > 0)
            try:
                response = connection.exchange(method, path, data, sent)
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if attempt == 0:
                    continue  # a keep-alive connection the server had closed: once more on a new one
                raise EngineError(f"quay.{self.target.key}: {method} {path} failed: {exc}") from None
            with self._lock:
                if connection.reusable(response):
                    self._idle.append(connection)
                else:
                    connection.close()
                self.calls += 1
            self._remember_cookie(response.headers.get_all("Set-Cookie") or [])
            return response.status, dict(response.headers.items()), payload
        raise AssertionError("unreachable")

    def _remember_cookie(self, headers: list[str]) -> None:
        for header in headers:
            cookie = SimpleCookie()
            cookie.load(header)
            if SESSION_COOKIE in cookie:
                self._cookie = cookie[SESSION_COOKIE].value

    # -- signing in ----------------------------------------------------------------------------
    def sign_in(self, write: bool = False) -> None:
        """Sign in as the admin. Only a write (apply) may create the admin on an empty Quay: a read
        (plan) there raises TargetUnavailable, so the plan shows everything as still to be made."""
        with self._sign_in_lock:
            self._sign_in(write)

    def _sign_in(self, write: bool) -> None:
        with self._lock:
            if self._signed_in:
                return
        admin = self.target
        if not admin.admin_password.reveal():  # its secret was not read: a failed sign-in would only count
            raise TargetUnavailable(f"the password of its admin {admin.admin_user} is not known here (its secret "
                                    "could not be read)")
        status, _, body = self._raw("GET", "/csrf_token")
        if status != 200:
            raise QuayError(f"quay.{admin.key}: GET /csrf_token answered {status}", status)
        first = json.loads(body).get("csrf_token", "")
        credentials = {"username": admin.admin_user, "password": admin.admin_password.reveal()}
        status, headers, body = self._raw("POST", "/api/v1/signin", credentials, {"X-CSRF-Token": first})
        if status == 403 and b"invalidCredentials" in body:
            status, headers, body = self._no_such_admin(write)
        if status == 429:
            raise QuayError(f"quay.{admin.key}: Quay throttles sign-ins for {admin.admin_user} after failed "
                            "attempts; wait a little and run again", status)
        if status >= 500:  # Quay runs but cannot work (its database is gone or down): nothing to read
            raise TargetUnavailable(f"Quay answers its sign-in with {status} ({_message(body)}); is its database "
                                    "up? Its log says more")
        if status != 200:
            raise QuayError(f"quay.{admin.key}: cannot sign in as {admin.admin_user}: {_message(body)}", status)
        self._csrf = headers.get("X-Next-CSRF-Token") or first
        with self._lock:
            self._signed_in = True

    def _no_such_admin(self, write: bool) -> tuple[int, dict[str, str], bytes]:
        """The sign-in was refused: a wrong password, or no such user yet (then, on an empty Quay and
        when the spec allows it, apply creates the admin as the first user)."""
        admin = self.target
        status, _, _ = self._raw("GET", f"/api/v1/users/{admin.admin_user}")  # public: 404 when there is none
        if status != 404:
            raise QuayError(f"quay.{admin.key}: cannot sign in as {admin.admin_user}: Quay refuses the password in "
                            "the spec (it is not that user's password)", 403)
        if not admin.admin_bootstrap:
            raise QuayError(f"quay.{admin.key}: Quay has no user {admin.admin_user} and admin.bootstrap is off: "
                            "create that user in Quay (a superuser), or turn bootstrap on for an empty Quay", 403)
        if not write:
            raise TargetUnavailable(f"Quay has no user {admin.admin_user} yet; apply creates it as Quay's first "
                                    "user, then everything in it")
        return self._initialize()

    def _initialize(self) -> tuple[int, dict[str, str], bytes]:
        """First run on an empty Quay: create the admin as its first user (FEATURE_USER_INITIALIZE)."""
        admin = self.target
        body = {"username": admin.admin_user, "password": admin.admin_password.reveal(), "email": admin.admin_email,
                "access_token": False}
        status, headers, payload = self._raw("POST", "/api/v1/user/initialize", body)
        if status == 400 and b"non-empty" in payload:
            raise QuayError(f"quay.{admin.key}: Quay has users but no {admin.admin_user}, and only an empty Quay "
                            "can be given its first user: create that user in Quay (a superuser listed in "
                            "SUPER_USERS), or name an existing one as the admin", 400)
        if status == 404:
            raise QuayError(f"quay.{admin.key}: Quay does not offer /api/v1/user/initialize: turn "
                            "FEATURE_USER_INITIALIZE on in its config.yaml to let quayform create the admin", 404)
        return status, headers, payload

    # -- requests ------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 204),
             missing: tuple[int, ...] = ()) -> Any:
        """The JSON (or text) Quay answers; None for a status in `missing`; QuayError otherwise."""
        self.sign_in(write=method != "GET")
        headers = {"X-CSRF-Token": self._csrf} if method != "GET" else {}
        status, _, payload = self._raw(method, "/api/v1" + path, body, headers)
        if status in missing:
            return None
        if status not in ok:
            raise QuayError(f"quay.{self.target.key}: {method} {path}: {status} {_message(payload)}", status)
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return payload.decode(errors="replace")

    def get(self, path: str, missing: tuple[int, ...] = (404,)) -> Any:
        return self.call("GET", path, missing=missing)

    def paged(self, path: str, key: str) -> list[Any]:
        """Every item of a listing that Quay pages with `next_page`."""
        items: list[Any] = []
        page = self.get(path) or {}
        while True:
            items += page.get(key) or []
            token = page.get("next_page")
            if not token:
                return items
            page = self.get(f"{path}{'&' if '?' in path else '?'}next_page={token}") or {}

    def features(self) -> dict[str, bool]:
        """The instance's FEATURE_* switches (GET /config): endpoints of features that are off do not
        exist, and a call to one would fall through to another endpoint."""
        def read() -> dict[str, bool]:
            status, _, payload = self._raw("GET", "/config")
            if status != 200:
                raise QuayError(f"quay.{self.target.key}: GET /config answered {status}", status)
            return dict(json.loads(payload).get("features") or {})
        return self.memo("features", read)

    def ready(self) -> None:
        """Once per run: Quay answers (it may have just been started by this apply)."""
        self.memo("ready", lambda: self.wait_ready() or True)

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Wait until Quay answers its health check (it may have just been started)."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                status, _, body = self._raw("GET", "/health/instance")
                if status == 200:
                    return
                last = f"{status} {_message(body)}"
            except (EngineError, TargetUnavailable) as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise ReadinessError(f"quay.{self.target.key}: Quay in container {self.target.container} did not "
                                     f"become healthy within {timeout:.0f}s: {last}")
            pause(self.stopping, 1.0, f"quay.{self.target.key} to answer")


def _message(payload: bytes) -> str:
    """Quay's error text: detail, error_message, message or title, whichever it sent."""
    try:
        data = json.loads(payload)
    except ValueError:
        text = payload.decode(errors="replace").strip()
        return text[:200] if "<html" not in text.lower() else "(an HTML error page)"
    if isinstance(data, dict):
        for key in ("error_message", "message", "detail", "error", "title"):
            if data.get(key):
                return str(data[key]).split("\n\n")[0]
    return str(data)[:200]
