"""Apply's progress while a change waits: what it waits for, the last health check (masked), how long."""

from __future__ import annotations

import io
import time

from quayform.address import Address
from quayform.changes import ApplyEvent
from quayform.kinds.container.engine import waiting_text
from quayform.render import Printer, ProgressView
from quayform.sensitive import Masker, Sensitive

DB = Address("containers", "db")


def test_waiting_text_says_the_status_the_last_check_and_the_time_left() -> None:
    health = {"Status": "starting", "Log": [{"ExitCode": 1, "Output": "no response\nmore"}]}
    assert waiting_text(health, 74.6) == ("waiting for health: starting; last check (exit 1): no response; "
                                          "gives up in 75s")
    assert waiting_text({"Status": "starting", "Log": []}, 30) == ("waiting for health: starting; no check has run "
                                                                   "yet; gives up in 30s")
    long = waiting_text({"Status": "starting", "Log": [{"ExitCode": 2, "Output": "x" * 200}]}, -3)
    assert "x" * 77 + "..." in long and long.endswith("gives up in 0s")
    assert waiting_text(None, 10) == "waiting for it to keep running for 2s"


def test_the_still_line_carries_what_the_wait_awaits_masked() -> None:
    masker = Masker()
    masker.add(Sensitive("hunter2-secret"))
    stream = io.StringIO()
    view = ProgressView(Printer(stream, color=False, mask=masker))
    view.TICK = 1.0
    with view:
        view(ApplyEvent(DB, "start", "create"))
        view(ApplyEvent(DB, "waiting", "create", message="waiting for health: starting; last check (exit 1): "
                                                         "password hunter2-secret refused; gives up in 40s"))
        for _ in range(100):  # tries, not a clock
            if "Still creating" in stream.getvalue():
                break
            time.sleep(0.1)
        view(ApplyEvent(DB, "done", "create", 2.0))
    lines = stream.getvalue().splitlines()
    still = next(line for line in lines if "Still creating" in line)
    assert still == ("containers.db: Still creating... [1s elapsed] waiting for health: starting; last check "
                     "(exit 1): password (sensitive) refused; gives up in 40s")
    assert "hunter2-secret" not in stream.getvalue()
    assert not any(line.startswith("containers.db: waiting") for line in lines), "a wait's detail is no line of its own"
