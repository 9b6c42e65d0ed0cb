"""A PostgreSQL server inside a managed container, reached with `docker exec` and psql.

SQL always travels on psql's stdin, never in a process's arguments (quayform/kinds/postgres
builds it, quoted). The session is the connection the PostgreSQL kinds receive for their
target; its memo lets users, databases and schemas share one catalog read per run.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter

from quayform.errors import EngineError, ReadinessError, TargetUnavailable
from quayform.targets import Memo, pause

PREAMBLE = "SET standard_conforming_strings = on;\nSET client_min_messages = warning;\n"


class PgSession:
    """Runs SQL through psql inside the server's container, as the admin, one exec per script."""

    def __init__(self, engine: Any, server: Any, stopping: Any = None):
        self.engine = engine
        self.server = server
        self.memo = Memo()
        self.stopping = stopping

    @property
    def where(self) -> str:
        return f"postgres.{self.server.key} ({self.server.container})"

    def run(self, sql: str, database: str | None = None) -> str:
        """Run `sql` (stopping at the first error) and return psql's unaligned output."""
        api = self.engine.api
        command = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", self.server.admin_user,
                   "-d", database or self.server.admin_database]
        try:
            exec_id = api.exec_create(self.server.container, command, stdin=True, user=self.server.exec_user)["Id"]
        except self.engine.NotFound:
            raise TargetUnavailable(f"its server container {self.server.container} does not exist", quiet=True) from None
        except self.engine.APIError as exc:
            if exc.status_code == 409:
                raise TargetUnavailable(f"its server container {self.server.container} is not running") from None
            raise EngineError(f"{self.where}: cannot run psql: {self.engine.describe(exc)}") from None
        except self.engine.Failure as exc:
            raise EngineError(f"{self.where}: cannot run psql: {self.engine.describe(exc)}") from None
        with self.engine.errors(f"{self.where}: running psql"):
            sock = api.exec_start(exec_id, socket=True)
            raw = getattr(sock, "_sock", sock)
            raw.sendall((PREAMBLE + sql).encode("utf-8"))
            raw.shutdown(socket.SHUT_WR)
            out, err = consume_socket_output((demux_adaptor(*f) for f in frames_iter(sock, tty=False)), demux=True)
            sock.close()
            code = api.exec_inspect(exec_id).get("ExitCode")
        if code != 0:
            message = (err or b"").decode(errors="replace").strip() or f"psql exited with code {code}"
            raise EngineError(f"{self.where}: {message}")
        return (out or b"").decode(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the server accepts the admin's connections (a clear error otherwise)."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                self.run("SELECT 1;")
                return
            except (EngineError, TargetUnavailable) as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise ReadinessError(f"postgres.{self.server.key}: the server in container {self.server.container} "
                                     f"did not accept connections within {timeout:.0f}s: {last}")
            pause(self.stopping, 0.5, f"postgres.{self.server.key} to accept connections")
