"""What a kind of resource declares: the contract every kind module fulfils.

A kind is one module (or one package) that says, in one place, everything quayform knows
about it: its spec section and naming rule, its references and graph edges, its
attributes (how each is compared and what a change to it does), its lifecycle rules
(held, refused, kept as orphan, released by a destroy flag, deleted before what), how it
knows an object is the stack's, how it reads its live objects in bulk, and its effects.
The stages (observe, diff, plan, apply, render, pipeline) read these declarations and
name no kind themselves.

Kind modules never import the Docker SDK or a client: effects receive the connection of
their target (see quayform.targets), so `validate` never pays for those imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Hashable, Iterable, Mapping

from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject, Prerequisite

if TYPE_CHECKING:
    from quayform.spec.models import Spec

Report = Callable[[tuple, str], None]
# (dependency, the key path of an explicit dependency such as ("depends_on", 0), or () for an
# implicit one): a dependency cycle is reported at the explicit declaration when there is one.
Edge = tuple[Address, tuple]


class Policy(Enum):
    """What a difference in one attribute makes apply do."""

    REPLACE = "replace"  # the object must be recreated
    UPDATE = "update"  # changed in place, by the attribute's own update function
    HOLD = "hold"  # shown, never applied (with the kind's hold reason)
    IGNORE = "ignore"  # not compared at all


@dataclass(frozen=True)
class Attribute:
    """One compared attribute of a kind: its policy, its update path, how it is compared.

    `judge(desired_value, live_form, live_payload)` turns the live value into what is
    compared, for attributes whose live value can only be judged against the desired one
    (a password checked against the server's verifier). It is pure.
    """

    name: str
    policy: Policy
    update: Callable[[Any, Change, Any], None] | None = None
    mapping: bool = False  # a mapping: differences are shown per key (env.FOO)
    judge: Callable[[Any, Mapping[str, Any], Any], Any] | None = None
    computed: bool = False  # decided by apply; shown as "(known after apply)" until then

    def __post_init__(self) -> None:
        if (self.policy is Policy.UPDATE) != (self.update is not None):
            raise ValueError(f"attribute {self.name!r}: an update function is given exactly when it updates in place")


def replace(name: str, **kwargs: Any) -> Attribute:
    return Attribute(name, Policy.REPLACE, **kwargs)


def update(name: str, function: Callable[[Any, Change, Any], None], **kwargs: Any) -> Attribute:
    return Attribute(name, Policy.UPDATE, function, **kwargs)


def hold(name: str, **kwargs: Any) -> Attribute:
    return Attribute(name, Policy.HOLD, **kwargs)


@dataclass(frozen=True)
class FieldPolicy:
    """A kind's comparison rules as diff needs them (diff is handed these; it imports no kind)."""

    replace_on: frozenset[str]
    update_in_place: frozenset[str] = frozenset()
    ignored: frozenset[str] = frozenset()
    mappings: frozenset[str] = frozenset()
    held: frozenset[str] = frozenset()
    judges: Mapping[str, Callable[[Any, Mapping[str, Any], Any], Any]] = field(default_factory=dict)
    # A replacement: "replace" it, "hold" it until --replace asks, or "refuse" (never recreated).
    on_replace: str = "replace"
    hold_reason: str = ""
    orphan: str = "delete"  # what happens to one no longer in the spec: "delete" or "keep"
    orphan_reason: Callable[[LiveObject], str] = lambda live: ""
    replace_reason: str = ""  # why a difference means a replacement (the service cannot change it in place)
    delete_note: Callable[..., str] = lambda live, release=frozenset(): ""

    @property
    def known(self) -> frozenset[str]:
        return self.replace_on | self.update_in_place | self.held | self.ignored


@dataclass(frozen=True)
class Rules:
    """A kind's lifecycle rules: data that plan, identify and apply read."""

    on_replace: str = "replace"  # see FieldPolicy.on_replace
    hold_reason: str = ""  # for "hold"/"refuse" and for held attributes
    orphan: str = "delete"
    destroy_flag: str | None = None  # `destroy` keeps these unless this flag (e.g. "volumes") is given
    destroy_keep_reason: str = ""
    recreated_with: tuple[str, ...] = ()  # kinds whose replacement forces this kind's dependents to be recreated
    # (kind, attributes): when a dependency of that kind is replaced, these attributes are set again
    # (a team's members after one of its robots is recreated: Quay dropped the old robot from it)
    refreshed_with: tuple[tuple[str, tuple[str, ...]], ...] = ()
    deletes_before_creates: bool = False  # a delete of this kind goes before every create of this kind
    adopt_by_name: bool = False  # an unmarked object with the desired name is adopted, not a clash
    renamed_is_new: bool = False  # a different name means a different object (the old one is an orphan)
    create_before_destroy: bool = False  # lifecycle.create_before_destroy is supported
    replace_refusal: str = ""  # when set, --replace may not ask for it, and this says why
    data_flag: str | None = None  # objects that hold data (holds_data) are kept unless this destroy flag is given
    replace_reason: str = ""  # why a replacement is needed at all (the service cannot change it in place)
    ownership: str = "labels"  # how objects are marked as the stack's: "labels", "comment", ...


@dataclass
class Ctx:
    """What a kind's pure hooks may consult: the spec, other resources' names, read facts."""

    spec: "Spec"
    name_of: Callable[[Address], str]
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def stack(self) -> str:
        return self.spec.stack


class Kind:
    """Base of every kind: defaults for the optional parts of the contract."""

    section: ClassVar[str]  # the spec section, also the address kind: "containers"
    noun: ClassVar[str]  # one of them, for the plan: "container"
    attributes: ClassVar[tuple[Attribute, ...]]
    rules: ClassVar[Rules] = Rules()
    reference_attrs: ClassVar[tuple[str, ...]] = ("name",)  # ${section.key.ATTR} allowed

    # -- spec side (pure) ------------------------------------------------------------------
    def default_name(self, stack: str, key: str) -> str:
        return f"{stack}-{key}"

    def name_of(self, spec: "Spec", key: str) -> str:
        given = getattr(self.item(spec, key), "name", None)
        return given or self.default_name(spec.stack, key)

    def raw_name(self, key: str, entry: Any, resolver: Any) -> str:
        """The name `${section.key.name}` stands for, from the raw spec (before its models exist)."""
        given = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(given, str):
            return resolver.nested(f"{self.section}.{key}.name", given)
        return self.default_name(str(resolver.raw.get("stack")), key)

    def items(self, spec: "Spec") -> Mapping[str, Any]:
        return getattr(spec, self.section)

    def item(self, spec: "Spec", key: str) -> Any:
        return self.items(spec)[key]

    def name_scope(self, spec: "Spec", key: str) -> Hashable:
        """Names are unique within this scope (an engine, a PostgreSQL server)."""
        return None

    def secret_allowed(self, path: tuple) -> bool:
        """May a secret appear at `path` inside one resource (e.g. ("env", "TOKEN"))?"""
        return False

    def resolve_entry(self, entry: Any, path: tuple, resolver: Any) -> Any:
        """Substitute references in one raw entry (kinds with templates override this)."""
        return resolver.walk(entry, path)

    def resolve_reference(self, attr: str, key: str, entry: Any, resolver: Any) -> Any:
        """The value of ${section.key.ATTR} for an attribute other than `name`."""
        raise LookupError(f"${{{self.section}.{key}.{attr}}} cannot be resolved")

    def edges(self, spec: "Spec", key: str, item: Any) -> Iterable[Edge]:
        return ()

    def check(self, spec: "Spec", ctx: Ctx, report: Report) -> None:
        """Cross-resource problems of this kind's section, reported at their key path."""

    def implied(self, spec: "Spec") -> None:
        """Add to the spec what it implies without writing it (compose's default network); run once its
        models are valid, before the checks."""

    def import_problem(self, spec: "Spec", key: str, name: str) -> str:
        """Why the object `name` cannot become this kind's `key` (quayform import), or ""."""
        return ""

    # -- reading (I/O in list_live, pure in normalise) ---------------------------------------
    def targets(self, spec: "Spec", ctx: Ctx) -> Iterable[Hashable]:
        """Where this kind's live objects are read from."""
        return ()

    def read_facts(self, connections: Any, spec: "Spec", ctx: Ctx) -> Any:
        """Facts the desired side needs from where it will live (e.g. image defaults); I/O."""
        return None

    def list_live(self, connection: Any, stack: str, detail: bool) -> Iterable[Any]:
        raise NotImplementedError

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        raise NotImplementedError

    def uses(self, form: Mapping[str, Any], target: Hashable) -> Iterable[tuple[str, str]]:
        """(kind, name) of other objects a live object (its form, where it lives) uses; it is deleted first."""
        return ()

    # -- desired (pure) ----------------------------------------------------------------------
    def desired(self, spec: "Spec", key: str, ctx: Ctx) -> Desired:
        raise NotImplementedError

    @property
    def policy(self) -> FieldPolicy:
        by = {p: frozenset(a.name for a in self.attributes if a.policy is p) for p in Policy}
        return FieldPolicy(
            replace_on=by[Policy.REPLACE], update_in_place=by[Policy.UPDATE], ignored=by[Policy.IGNORE],
            held=by[Policy.HOLD], mappings=frozenset(a.name for a in self.attributes if a.mapping),
            judges={a.name: a.judge for a in self.attributes if a.judge is not None},
            on_replace=self.rules.on_replace, hold_reason=self.rules.hold_reason, orphan=self.rules.orphan,
            orphan_reason=self.orphan_reason, delete_note=self.delete_note, replace_reason=self.rules.replace_reason)

    def clash(self, address: Address, other: LiveObject, stack: str) -> str:
        """Why the spec cannot have `address`: `other` already has its name and is not the stack's."""
        whose = f"belongs to stack {other.owner!r}" if other.owner and other.owner != stack else \
            f"is not managed by stack {stack!r}"
        return (f"{address}: a {self.noun} named {other.name!r} already exists and {whose} (remove or rename it, "
                f"or set another name in the spec{self.clash_hint(address, other)})")

    def clash_hint(self, address: Address, other: LiveObject) -> str:
        return ""

    def orphan_reason(self, live: LiveObject) -> str:
        return "it is no longer in the spec"

    def delete_note(self, live: LiveObject, release: frozenset[str] = frozenset()) -> str:
        """What deleting this object also does or leaves, said in the plan (e.g. ownership handed on first)."""
        return ""

    def holds_data(self, change: Change) -> str:
        """Why deleting this object would lose data ("it holds images"), or "" (see Rules.data_flag)."""
        return ""

    def contains(self, change: Change) -> Iterable[tuple[str, str]]:
        """(kind, name) of the objects inside this one: it is kept while any of them stays."""
        return ()

    def value_of(self, connection: Any, address: Address, attr: str, name: str) -> Any:
        """An attribute known only once the object exists (a robot's token), read from where it lives."""
        raise NotImplementedError(f"{self.section} have no attribute {attr!r} to read")

    def values_of(self, live: LiveObject) -> Mapping[str, Any]:
        """The attributes of a live object that the spec may use (`${robots.ci.token}`), as read back."""
        return {}

    def conflicts(self, spec: "Spec", desired: Mapping[Address, Desired], objects: list[LiveObject],
                  stack: str) -> list[str]:
        """What stands in the way of the spec on the target before anything changes (pure)."""
        return []

    def computed(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attributes if a.computed)

    # -- effects (I/O through the target's connection) -------------------------------------
    def prepare(self, prerequisite: Prerequisite, connection: Any, progress: Callable[[str], None]) -> None:
        raise NotImplementedError

    def create(self, change: Change, connection: Any) -> str | None:
        """Create it; return EXISTED when it turned out to exist already (and was brought in line)."""
        raise NotImplementedError

    def update(self, change: Change, connection: Any) -> None:
        """Run each changed attribute's update function once, in the attribute table's order."""
        changed = {a.path.split(".")[0] for a in change.attributes if not a.held}
        done: list[Callable] = []
        for attribute in self.attributes:
            if attribute.name in changed and attribute.update is not None and attribute.update not in done:
                done.append(attribute.update)
                attribute.update(self, change, connection)

    def delete(self, change: Change, connection: Any, release: frozenset[str]) -> None:
        raise NotImplementedError

    def create_before_destroy(self, change: Change, connection: Any) -> None:
        raise NotImplementedError(f"{self.section} do not support create_before_destroy")

    def wait_ready(self, change: Change, connection: Any, progress: Callable[[str], None] = lambda text: None) -> None:
        """Return once what was made is ready for its dependents; `progress` is told, as it goes, what the wait
        awaits (apply's progress lines show it)."""
        return None

    def adopt(self, connection: Any, stack: str, address: Address, name: str) -> str:
        """Record that the existing object `name` is `address` (quayform import); returns its id."""
        raise NotImplementedError(f"{self.section} cannot be imported")

    # -- day 2 (`ps`, `logs`, `exec`, `restart`): kinds whose objects run override these ----------
    def status(self, connection: Any, objects: list[LiveObject]) -> dict[str, dict[str, str]]:
        """`ps` columns (state, health, ports, image) per object id; an object that does not run just exists."""
        return {o.id: {"state": "exists"} for o in objects}

    def logs(self, connection: Any, live: LiveObject, follow: bool, tail: int | None) -> Iterable[str]:
        """The object's output, line by line (the caller masks it)."""
        raise NotImplementedError(f"{self.section} have no logs")

    def run(self, connection: Any, live: LiveObject, argv: list[str], stdin: Any) -> tuple[Iterable[tuple[int, str]],
                                                                                          Callable[[], int]]:
        """`exec`: (stream, line) pairs of a command run inside the object, and its exit code once they end."""
        raise NotImplementedError(f"{self.section} cannot run commands")

    def restart(self, connection: Any, live: LiveObject) -> None:
        raise NotImplementedError(f"{self.section} cannot be restarted")
