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
from quayform.errors import TargetUnavailable

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
        for kind, target, future in live_reads:
            try:
                raws = future.result()
            except TargetUnavailable as exc:
                state.unavailable[(kind.section, target)] = exc
                continue
            for raw in raws:
                live = kind.normalise(raw, spec.stack, target)
                if live is not None:
                    state.objects.append(live)
        state.facts = {section: future.result() for section, future in fact_reads.items()}
    return state


def _read(kind: Any, connections: Any, target: Hashable, stack: str, detail: bool) -> list[Any]:
    return list(kind.list_live(connections.get(target), stack, detail))


def _facts(kind: Any, connections: Any, spec: Any, ctx: Any) -> Any:
    return kind.read_facts(connections, spec, ctx)
