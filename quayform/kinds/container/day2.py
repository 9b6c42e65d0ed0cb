"""Day-2 commands on the stack's containers (`ps`, `logs`, `exec`, `restart`), through the engine connection.

The address names the container, so nobody needs to know quayform's naming to reach it. What a
container prints is returned as text, line by line, for the caller to mask before it shows it.
"""

from __future__ import annotations

import codecs
import re
from typing import Any, Callable, Iterable, Iterator

from quayform.changes import LiveObject

HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def status(engine_conn: Any, objects: list[LiveObject]) -> dict[str, dict[str, str]]:
    """State, health, published ports and image of each container, from one list call."""
    ids = {o.id for o in objects}
    with engine_conn.errors("listing containers"):
        listed = [c for c in engine_conn.api.containers(all=True) if c["Id"] in ids]
    rows = {}
    for raw in listed:
        health = HEALTH.search(raw.get("Status") or "")
        rows[raw["Id"]] = {"state": raw.get("State") or "", "status": raw.get("Status") or "",
                           "health": health.group(1).replace("health: ", "") if health else "",
                           "ports": ", ".join(_port(p) for p in _sorted_ports(raw.get("Ports") or [])),
                           "image": raw.get("Image") or ""}
    return rows


def _sorted_ports(ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(ports, key=lambda p: (p.get("PrivatePort") or 0, p.get("Type") or "", p.get("IP") or ""))


def _port(port: dict[str, Any]) -> str:
    inner = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
    if not port.get("PublicPort"):
        return inner
    host = port.get("IP") or "0.0.0.0"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port['PublicPort']}->{inner}"


class Lines:
    """Whole lines from a byte stream: a secret, or a UTF-8 character, split across two chunks stays whole."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = ""

    def feed(self, chunk: bytes) -> list[str]:
        *done, self.pending = (self.pending + self.decoder.decode(chunk)).split("\n")
        return done

    def rest(self) -> list[str]:
        last = self.pending + self.decoder.decode(b"", final=True)
        return [last] if last else []


def lines_of(chunks: Iterable[bytes]) -> Iterator[str]:
    lines = Lines()
    for chunk in chunks:
        yield from lines.feed(chunk)
    yield from lines.rest()


def logs(engine_conn: Any, live: LiveObject, follow: bool, tail: int | None) -> Iterator[str]:
    with engine_conn.errors(f"reading the logs of container {live.name}"):
        yield from lines_of(engine_conn.log_lines(live.id, follow, tail))


def run(engine_conn: Any, live: LiveObject, argv: list[str], stdin: Any) -> tuple[Iterator[tuple[int, str]],
                                                                                 Callable[[], int]]:
    with engine_conn.errors(f"running {argv[0]!r} in container {live.name}"):
        frames, exit_code = engine_conn.exec_stream(live.id, argv, stdin)

    def by_line() -> Iterator[tuple[int, str]]:
        streams = {1: Lines(), 2: Lines()}
        with engine_conn.errors(f"running {argv[0]!r} in container {live.name}"):
            for stream, data in frames:
                yield from ((stream, line) for line in streams[stream].feed(data))
        yield from ((stream, line) for stream, lines in streams.items() for line in lines.rest())

    def code() -> int:
        with engine_conn.errors(f"reading the exit code of {argv[0]!r} in container {live.name}"):
            return exit_code()

    return by_line(), code


def restart(engine_conn: Any, live: LiveObject, stop_grace: float | None) -> None:
    with engine_conn.errors(f"restarting container {live.name}"):
        engine_conn.api.restart(live.id, timeout=int(stop_grace) if stop_grace is not None else 10)
