"""In-place updates of a running container, one function per updatable attribute (the kind's table names them).

Each receives the change (the judged live form as `before`, the desired form as `after`, the
typed payload) and the engine connection; `Kind.update` runs each function once per change.
"""

from __future__ import annotations

from typing import Any

from quayform.changes import Change
from quayform.kinds.container.engine import fixed_address, restart_policy, start
from quayform.kinds.container.form import ContainerPayload


def update_restart(kind: Any, change: Change, engine: Any) -> None:
    with engine.errors(f"updating container {change.name}"):
        engine.api.update_container(change.live_id, restart_policy=restart_policy(change.payload.restart))


def update_networks(kind: Any, change: Change, engine: Any) -> None:
    """Leave, join or rejoin (new aliases, a new fixed address) each network that differs."""
    before, after = change.before or {}, change.after or {}
    live: dict[str, list[str]] = before.get("networks") or {}
    desired: dict[str, list[str]] = after.get("networks") or {}
    live_fixed = before.get("addresses") or {}
    fixed = after.get("addresses", live_fixed)  # a spec without fixed addresses leaves them as they are

    def same(net: str) -> bool:
        return net in live and net in desired and sorted(desired[net]) == live[net] and \
            (fixed.get(net) or {}) == (live_fixed.get(net) or {})

    with engine.errors(f"updating the networks of container {change.name}"):
        for net in live:
            if not same(net):
                engine.api.disconnect_container_from_network(change.live_id, net, force=True)
        for net, aliases in desired.items():
            if not same(net):
                engine.api.connect_container_to_network(change.live_id, net, aliases=aliases or None,
                                                        **fixed_address(fixed.get(net)))


def resources_body(payload: ContainerPayload) -> dict[str, Any]:
    """What `docker update` sets, in the engine's names: the limits the spec gives (an absent one is not
    compared, so it is not sent). Without memswap_limit, swap stays twice the memory, as at create."""
    options = payload.options
    body: dict[str, Any] = {}
    for name, field, value in (("mem_limit", "Memory", options.get("mem_limit")),
                               ("mem_reservation", "MemoryReservation", options.get("mem_reservation")),
                               ("memswap_limit", "MemorySwap", options.get("memswap_limit")),
                               ("cpus", "NanoCpus", options.get("cpus")),
                               ("cpu_shares", "CpuShares", options.get("cpu_shares")),
                               ("cpuset", "CpusetCpus", options.get("cpuset")),
                               ("pids_limit", "PidsLimit", options.get("pids_limit"))):
        if value is not None:
            body[field] = value
    if "Memory" in body and "MemorySwap" not in body:
        body["MemorySwap"] = 2 * body["Memory"]
    if "PidsLimit" in body and body["PidsLimit"] <= 0:
        body["PidsLimit"] = -1
    return body


def update_resources(kind: Any, change: Change, engine: Any) -> None:
    with engine.errors(f"updating the resources of container {change.name}"):
        engine.update_resources(change.live_id, resources_body(change.payload))


def update_running(kind: Any, change: Change, engine: Any) -> None:
    if getattr(change.live_payload, "paused", False):
        with engine.errors(f"unpausing container {change.name}"):
            engine.api.unpause(change.live_id)
        return
    start(engine, change.live_id, change.name)


def update_finished(kind: Any, change: Change, engine: Any) -> None:
    """A job (run: once) that has not finished yet: unpause it, or start it if it never ran; one still
    running is left to run. Apply then waits for it to exit (wait_ready)."""
    live = change.live_payload
    if getattr(live, "paused", False):
        with engine.errors(f"unpausing container {change.name}"):
            engine.api.unpause(change.live_id)
    elif getattr(live, "status", "") == "created":
        start(engine, change.live_id, change.name)
