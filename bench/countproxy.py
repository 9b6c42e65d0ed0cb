"""A counting proxy for the Docker Engine API on a unix socket.

It listens on /tmp/qf-bench-<pid>.sock, connects every client to the engine's own socket
and copies bytes both ways, unchanged. On the way in (client -> engine) it runs a small
incremental HTTP/1.1 request parser and counts one request per message:

  * the request line (`GET /v1.41/containers/json?all=1 HTTP/1.1`) and headers are read up to
    the blank line;
  * the body is then skipped exactly: `Content-Length: n` bytes, or a `Transfer-Encoding:
    chunked` body chunk by chunk up to the last chunk and its trailers; no body otherwise;
  * only then is the next request line looked for.

So keep-alive connections carrying many requests are counted exactly, and bytes inside a
body (a tar archive for put_archive, JSON that happens to contain "GET /v1.41/") are never
mistaken for a request. A request asking for a protocol upgrade (`Upgrade:` header, as
docker-py sends for attach and exec-start with a socket) turns the rest of that connection
into a raw stream that is forwarded but no longer parsed.

Each request is counted under "METHOD /path" with the API version prefix and query string
removed and object ids or names replaced by placeholders ({id}, {name}), e.g.
"GET /containers/{id}/json". Requests that do not parse are counted as "?unparsed".
"""

from __future__ import annotations

import collections
import os
import re
import socket
import threading
from typing import Callable

_VERSION = re.compile(r"^/v[0-9.]+(?=/)")
_FIXED = {
    "containers": {"json", "create", "prune"},
    "volumes": {"create", "prune"},
    "networks": {"create", "prune"},
    "exec": set(),
}


def normalise(method: str, target: str) -> str:
    """'GET', '/v1.41/containers/abc/json?size=0' -> 'GET /containers/{id}/json'."""
    path = target.split("?", 1)[0]
    path = _VERSION.sub("", path, count=1)
    parts = path.split("/")  # ['', 'containers', 'abc', 'json']
    if len(parts) >= 3 and parts[1] in _FIXED and parts[2] not in _FIXED[parts[1]]:
        placeholder = "{name}" if parts[1] == "volumes" else "{id}"
        parts[2] = placeholder
        path = "/".join(parts)
    elif len(parts) >= 3 and parts[1] == "images" and parts[2] not in ("json", "create", "load", "prune", "search"):
        # image names may contain '/' and ':' (quayform-test/busybox:1): /images/<name>/<verb>
        verb = parts[-1] if len(parts) >= 4 and parts[-1] in ("json", "history", "push", "tag", "get") else ""
        path = "/images/{name}" + (f"/{verb}" if verb else "")
    return f"{method} {path}"


class _RequestCounter:
    """Incremental parser of one client->engine byte stream; calls `count(key)` per request."""

    MAX_HEADER = 1 << 20

    def __init__(self, count: Callable[[str], None]):
        self.count = count
        self.buf = bytearray()
        self.state = "head"        # head | body | chunk-size | chunk-data | trailer | raw
        self.remaining = 0         # bytes of body or chunk (incl. its CRLF) still to skip
        self.upgrade_after_body = False

    def feed(self, data: bytes) -> None:
        if self.state == "raw":
            return
        self.buf += data
        while self._step():
            pass

    def _step(self) -> bool:
        """Consume as much of the buffer as one state allows; True if progress was made."""
        if self.state == "head":
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > self.MAX_HEADER:
                    self.count("?unparsed")
                    self.state, self.buf = "raw", bytearray()
                return False
            head = bytes(self.buf[:end]).decode("latin-1")
            del self.buf[:end + 4]
            self._start_message(head)
            return True
        if self.state == "body":
            take = min(self.remaining, len(self.buf))
            del self.buf[:take]
            self.remaining -= take
            if self.remaining == 0:
                self._end_message()
                return True
            return False
        if self.state == "chunk-size":
            end = self.buf.find(b"\r\n")
            if end < 0:
                return False
            size_text = bytes(self.buf[:end]).split(b";", 1)[0].strip()
            del self.buf[:end + 2]
            try:
                size = int(size_text, 16)
            except ValueError:
                self.count("?unparsed")
                self.state, self.buf = "raw", bytearray()
                return False
            if size == 0:
                self.state = "trailer"
            else:
                self.state, self.remaining = "chunk-data", size + 2  # data + CRLF
            return True
        if self.state == "chunk-data":
            take = min(self.remaining, len(self.buf))
            del self.buf[:take]
            self.remaining -= take
            if self.remaining == 0:
                self.state = "chunk-size"
                return True
            return False
        if self.state == "trailer":
            end = self.buf.find(b"\r\n")
            if end < 0:
                return False
            line = self.buf[:end]
            del self.buf[:end + 2]
            if not line:
                self._end_message()
            return True
        return False

    def _start_message(self, head: str) -> None:
        lines = head.split("\r\n")
        while lines and not lines[0]:
            lines.pop(0)  # tolerate stray CRLFs between messages
        request_line = lines[0] if lines else ""
        parts = request_line.split(" ")
        if len(parts) == 3 and parts[2].startswith("HTTP/"):
            self.count(normalise(parts[0], parts[1]))
        else:
            self.count("?unparsed")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.upgrade_after_body = "upgrade" in headers
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = "chunk-size"
        else:
            try:
                self.remaining = int(headers.get("content-length", "0") or 0)
            except ValueError:
                self.remaining = 0
            if self.remaining > 0:
                self.state = "body"
            else:
                self._end_message()

    def _end_message(self) -> None:
        if self.upgrade_after_body:
            self.state, self.buf = "raw", bytearray()
        else:
            self.state = "head"


class CountingProxy:
    """Start with `start()`; point clients at `docker_host`; read counts with `take()`."""

    def __init__(self, engine_socket: str = "/var/run/docker.sock", path: str | None = None):
        self.engine_socket = engine_socket
        self.path = path or f"/tmp/qf-bench-{os.getpid()}.sock"
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._server: socket.socket | None = None
        self._closing = False

    @property
    def docker_host(self) -> str:
        return f"unix://{self.path}"

    def start(self) -> "CountingProxy":
        if os.path.exists(self.path):
            os.unlink(self.path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.path)
        # compose opens a connection per service at once (unlimited parallelism): at N=500 a backlog of 128
        # overflowed and compose saw "Cannot connect to the Docker daemon". The kernel caps it at somaxconn.
        server.listen(8192)
        self._server = server
        threading.Thread(target=self._accept_loop, name="qf-bench-proxy", daemon=True).start()
        return self

    def close(self) -> None:
        self._closing = True
        if self._server is not None:
            try:
                self._server.close()
            except OSError:
                pass
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def take(self) -> dict[str, int]:
        """The counts since the last take(), and reset them."""
        with self._lock:
            counts, self._counts = dict(self._counts), collections.Counter()
        return counts

    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self._closing:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                engine.connect(self.engine_socket)
            except OSError:
                client.close()
                continue
            parser = _RequestCounter(self._count)
            done = threading.Semaphore(0)
            threading.Thread(target=self._pump, args=(client, engine, parser, done), daemon=True).start()
            threading.Thread(target=self._pump, args=(engine, client, None, done), daemon=True).start()
            threading.Thread(target=self._reap, args=(client, engine, done), daemon=True).start()

    @staticmethod
    def _reap(client: socket.socket, engine: socket.socket, done: threading.Semaphore) -> None:
        """Close both sockets once both directions have ended."""
        done.acquire()
        done.acquire()
        client.close()
        engine.close()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, parser: _RequestCounter | None,
              done: threading.Semaphore) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if parser is not None:
                    parser.feed(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            # Half-close so the other direction can finish its answer, then report.
            for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
                try:
                    sock.shutdown(how)
                except OSError:
                    pass
            done.release()
