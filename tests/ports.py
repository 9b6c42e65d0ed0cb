"""Host ports for tests that publish one, chosen so that two tests, or Docker itself, do not collide.

Docker hands out random host ports from the kernel's ephemeral range (32768-60999 here), and a
port found free with bind(0) comes from that same range: between the check and the use, the
engine (or another test) may take it. Ports here come from 20000-29999 instead, never twice in
one session, and only if nothing is bound to them right now.
"""

from __future__ import annotations

import random
import socket

_RANGE = range(20000, 30000)
_given: set[int] = set()


def free_port() -> int:
    for port in random.sample(_RANGE, len(_RANGE)):
        if port in _given:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError("no free host port left in 20000-29999")
