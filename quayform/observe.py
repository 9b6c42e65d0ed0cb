"""Read the live state of one stack, in bulk, through the kind registry.

For every kind and every target it lives on, one `list_live` call (the kind's bulk read:
one list call per Docker kind plus inspects in parallel, one catalog run per PostgreSQL
server), and the facts the desired side needs (image defaults), all at once on a thread
pool; then each raw object is normalised by its kind (pure). A target that cannot be read
right now is recorded with the reason, not raised: the plan says what it could not see.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable

from quayform.changes import LiveObject
from quayform.errors import EngineError, TargetUnavailable

READ_THREADS = 8


@dataclass
class LiveState:
    """Everything read back for one stack: objects (the stack's and everybody else's), facts, blind spots."""

    objects: list[LiveObject] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # kind section -> what its read_facts returned
    unavailable: dict[tuple[str, Hashable], TargetUnavailable] = field(default_factory=dict)

    def ours(self) -> list[LiveObject]:
        return [o for o in self.objects if o.address is not None]


def observe_stack(kinds: Iterable[Any], spec: Any, ctx: Any, connections: Any, detail: bool = True,
                  facts: bool = True) -> LiveState:
    """Read every kind on every target at once; `detail=False` (destroy) asks kinds for the cheap read."""
    kinds = list(kinds)
    reads = [(kind, target) for kind in kinds for target in dict.fromkeys(kind.targets(spec, ctx))]
    state = LiveState()
    for _, target in reads:
        connections.get(target)  # opened here, so client modules are imported once, not raced by threads
    with ThreadPoolExecutor(READ_THREADS) as pool:
        fact_reads = {kind.section: pool.submit(_facts, kind, connections, spec, ctx) for kind in kinds if facts}
        live_reads = [(kind, target, pool.submit(_read, kind, connections, target, spec.stack, detail))
                      for kind, target in reads]
        failed: dict[Hashable, str] = {}  # target -> why it could not be read: the plan stops, naming each
        for kind, target, future in live_reads:
            try:
                raws = future.result()
            except TargetUnavailable as exc:
                state.unavailable[(kind.section, target)] = exc
                continue
            except EngineError as exc:
                failed.setdefault(target, str(exc))
                continue
            for raw in raws:
                live = kind.normalise(raw, spec.stack, target)
                if live is not None:
                    state.objects.append(live)
        state.facts = {}
        for section, future in fact_reads.items():
            try:
                state.facts[section] = future.result()
            except EngineError as exc:
                failed.setdefault(section, str(exc))
    if failed:
        raise EngineError(_unreachable(failed))
    return state


def _unreachable(failed: dict[Hashable, str]) -> str:
    """One message naming each engine (or other target) that failed, once: what lives on an engine that
    cannot be reached fails with it, and is not listed again. Nothing has been changed anywhere."""
    by_engine: dict[Hashable, str] = {}
    for target, why in failed.items():
        engine = getattr(target, "engine", None)
        if engine is not None and (engine not in by_engine or target == engine):
            by_engine[engine] = why if str(target) in why or target != engine else f"{target}: {why}"
    lines = sorted(set(by_engine.values())) or sorted(set(failed.values()))
    if len(lines) == 1:
        return f"{lines[0]} (nothing was changed on any engine)"
    return "\n  ".join(["cannot read the live state, so nothing was changed on any engine:", *lines])


def _read(kind: Any, connections: Any, target: Hashable, stack: str, detail: bool) -> list[Any]:
    return list(kind.list_live(connections.get(target), stack, detail))


def _facts(kind: Any, connections: Any, spec: Any, ctx: Any) -> Any:
    return kind.read_facts(connections, spec, ctx)
