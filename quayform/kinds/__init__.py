"""The kind registry: one line per kind, in the order kinds are usually created.

Every stage learns what kinds exist, and what each one means, from here; none of them
names a kind. Adding a kind is its module, its spec model and one line below
(docs/architecture.md, "Adding a kind").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from quayform.address import Address
from quayform.kinds import container, network, volume
from quayform.kinds.engine_kind import check_engines
from quayform.kinds.base import Kind
from quayform.kinds.postgres import check_servers, database, schema, user
from quayform.kinds.quay import (application, check_instances, default_permission, instance_edges, mirror,
                                 notification, organization, repository, robot, team)


class Registry:
    """The kinds, looked up by section; iteration follows creation order."""

    def __init__(self, kinds: tuple[Kind, ...]):
        self.kinds = kinds
        self._by_section = {k.section: k for k in kinds}
        self.sections = tuple(self._by_section)

    def __iter__(self) -> Iterator[Kind]:
        return iter(self.kinds)

    def __getitem__(self, section: str) -> Kind:
        return self._by_section[section]

    def __contains__(self, section: object) -> bool:
        return section in self._by_section

    def index(self, section: str) -> int:
        """Creation order of a kind (the tie-breaker of every deterministic order)."""
        return self.sections.index(section) if section in self._by_section else len(self.sections)

    def parse_address(self, text: str) -> Address:
        """`kind.key` with a kind that exists; ValueError with a readable message otherwise."""
        address = Address.parse(text)
        if address.kind not in self._by_section:
            raise ValueError(f"{text!r}: unknown kind {address.kind!r} (expected one of {', '.join(self.sections)})")
        return address

    def name_of(self, spec: object, address: Address) -> str:
        return self[address.kind].name_of(spec, address.key)


REGISTRY = Registry((
    network.KIND,
    volume.KIND,
    container.KIND,
    user.KIND,
    database.KIND,
    schema.KIND,
    organization.KIND,
    robot.KIND,
    team.KIND,
    repository.KIND,
    default_permission.KIND,
    notification.KIND,
    mirror.KIND,
    application.KIND,
))

@dataclass(frozen=True)
class TargetSection:
    """A section that names where resources live rather than resources (no address, nothing compared)."""

    check: Callable[[Any, Any], None]  # its cross-reference checks
    references: bool = False  # ${...} is substituted in it
    secret_allowed: Callable[[tuple], bool] = lambda path: False  # path inside one entry
    # edges it implies between resources: (dependency, dependent, spec path under the dependent)
    edges: Callable[[Any], Iterable[tuple[Address, Address, tuple]]] = lambda spec: ()


TARGET_SECTIONS = {
    "engines": TargetSection(check_engines),
    "postgres": TargetSection(check_servers),
    "quay": TargetSection(check_instances, references=True,
                          secret_allowed=lambda path: path[:2] == ("admin", "password"), edges=instance_edges),
}
