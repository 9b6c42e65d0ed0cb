"""What networks and volumes share beyond being engine objects: the stack may only refer to them, or adopt them.

- External (`external: true`, compose's spelling): made elsewhere and referenced by name (its
  `name:`, or the key itself, as compose has it). It is no resource of the stack: never created,
  changed or removed (not by destroy, not when it leaves the spec); containers join or mount it,
  and a plan stops before anything changes when it does not exist.
- Imported (`quayform import ADDRESS NAME`): an object made by hand becomes the stack's for good.
  Its labels cannot be changed, so a marker volume records it, as for containers (engine_kind);
  unlike a container it is never recreated to get labels (that would lose its data, or cut off
  what is on it): a difference from the spec is held, as for any of its kind.
"""

from __future__ import annotations

from typing import Any, Mapping

from quayform import labels as L
from quayform.address import Address
from quayform.errors import PlanError
from quayform.kinds.engine_kind import EngineKind, claimed_by, record_import


class SharedObjectKind(EngineKind):
    """A kind whose objects may be external or imported (networks, volumes)."""

    def items(self, spec: Any) -> Mapping[str, Any]:
        """The resources of the section: an external one is referenced, not managed."""
        return {key: item for key, item in getattr(spec, self.section).items() if not item.external}

    def item(self, spec: Any, key: str) -> Any:
        return getattr(spec, self.section)[key]

    def externals(self, spec: Any) -> dict[str, Any]:
        return {key: item for key, item in getattr(spec, self.section).items() if item.external}

    def name_of(self, spec: Any, key: str) -> str:
        item = self.item(spec, key)
        return item.name or (key if item.external else self.default_name(spec.stack, key))

    def raw_name(self, key: str, entry: Any, resolver: Any) -> str:
        if isinstance(entry, dict) and entry.get("external") is True and not isinstance(entry.get("name"), str):
            return key
        return super().raw_name(key, entry, resolver)

    def conflicts(self, spec: Any, desired: Any, objects: Any, stack: str) -> list[str]:
        """An external object that does not exist, or that is the stack's own: said before anything changes."""
        problems = []
        for key, item in sorted(self.externals(spec).items()):
            name = self.name_of(spec, key)
            at = f"{spec.path}:{spec.line_of(self.section, key, 'external')}: {self.section}.{key}"
            found = next((o for o in objects if o.kind == self.section and o.name == name), None)
            if found is None:
                problems.append(f"{at}: the external {self.noun} {name!r} does not exist; quayform never creates an "
                                f"external one (create it first, e.g. `docker {self.noun} create {name}`, or remove "
                                "external: true to have the stack make it)")
            elif found.owner == stack and found.address is not None:
                problems.append(f"{at}: {self.noun} {name!r} is this stack's own {found.address}, not one made "
                                "elsewhere; remove external: true to keep managing it")
        return problems

    # -- quayform import ---------------------------------------------------------------------------
    def clash_hint(self, address: Address, other: Any) -> str:
        if other.owner:
            return ""
        return (f", refer to it with external: true, or adopt it, data and all, with "
                f"`quayform import {address} {other.name}`")

    def import_problem(self, spec: Any, key: str, name: str) -> str:
        item = getattr(spec, self.section).get(key)
        if item is None:
            return ""
        if item.external:
            return (f"it is external: true, referenced and never managed by the stack, so there is nothing to "
                    "import (remove external: true first to make it the stack's)")
        wanted = self.name_of(spec, key)
        if wanted != name:
            return (f"the spec names it {wanted!r}, and a {self.noun} cannot be renamed: to import {name!r}, set "
                    f"`name: {name}` on {self.section}.{key} and import again")
        return ""

    def inspect(self, engine: Any, name: str) -> dict[str, Any] | None:
        """The object `name` as the engine has it (with `Id`), or None (each kind reads its own)."""
        raise NotImplementedError

    def refuse_import(self, raw: Mapping[str, Any]) -> str:
        """Why this object can never be adopted (a kind's own reason), or ""."""
        return ""

    def adopt(self, engine: Any, stack: str, address: Address, name: str) -> str:
        """Mark the unmanaged object `name` as `address`; from the next plan on it is the stack's as it is."""
        with engine.errors(f"importing {self.noun} {name}"):
            raw = self.inspect(engine, name)
            if raw is None:
                raise PlanError(missing(engine, self.noun, name))
            labels = raw.get("Labels") or {}
            owner = labels.get(L.STACK)
            if owner:
                raise PlanError(f"{self.noun} {name!r} is already managed by stack {owner!r} (as "
                                f"{labels.get(L.ADDRESS, '?')})")
            problem = self.refuse_import(raw)
            if problem:
                raise PlanError(problem)
            claim = claimed_by((engine.api.volumes() or {}).get("Volumes") or [], raw["Id"])
            if claim is not None:
                raise PlanError(f"{self.noun} {name!r} has already been imported by stack {claim[0]!r} as {claim[1]}")
            mine = self.managed(engine, stack, address)
            if mine:
                raise PlanError(f"{address} already exists ({mine}); only an address with no {self.noun} can be "
                                "imported into")
            record_import(engine, stack, address, raw["Id"], f"quayform-import-{stack}-{self.section}-{address.key}",
                          lambda oid: self.inspect(engine, oid) is not None, f"{address} has already been imported")
        return raw["Id"]

    def managed(self, engine: Any, stack: str, address: Address) -> str:
        """The name of the labelled object that already is `address`, or ""."""
        raise NotImplementedError


def missing(engine: Any, noun: str, name: str) -> str:
    """No such object: say so, and what `name` is when it names an object of another kind."""
    api = engine.api
    for other, read in (("network", api.inspect_network), ("volume", api.inspect_volume),
                        ("container", api.inspect_container)):
        if other == noun:
            continue
        try:
            read(name)
        except engine.NotFound:
            continue
        return f"there is no {noun} named {name!r} to import ({name!r} is a {other}, not a {noun})"
    return f"there is no {noun} named {name!r} to import"
