"""Checks across a validated spec, found before anything runs.

The rules every kind shares live here (names unique within their scope, lifecycle flags a
kind supports, `ignore_changes` naming real attributes); each kind adds its own through
its `check` hook, and so does each section that names where resources live (`postgres`).
"""

from __future__ import annotations

from typing import Any, Callable

from quayform.errors import SpecProblem
from quayform.kinds import REGISTRY, TARGET_SECTIONS
from quayform.kinds.base import Ctx
from quayform.spec.models import Spec
from quayform.spec.yaml_loader import LoadedYaml, Path, format_path

Report = Callable[[Path, str], None]


def _name_clashes(spec: Spec, report: Report) -> None:
    for kind in REGISTRY:
        owners: dict[tuple, str] = {}
        for key in kind.items(spec):
            try:
                scope, name = kind.name_scope(spec, key), kind.name_of(spec, key)
            except KeyError:  # it names something the spec lacks: the kind's own check reports that
                continue
            other = owners.setdefault((scope, name), key)
            if other != key:
                where = _scope_text(scope)
                report((kind.section, key), f"{kind.section}.{key} and {kind.section}.{other} both use the name "
                                            f"{name!r}{where}")


def _scope_text(scope: Any) -> str:
    """("postgres", "main") -> " on postgres.main"; ("quay", "main", "acme") -> " in 'acme' on quay.main"."""
    if not isinstance(scope, tuple) or len(scope) < 2:
        return ""
    inside = f" in {scope[2]!r}" if len(scope) > 2 else ""
    return f"{inside} on {scope[0]}.{scope[1]}"


def _lifecycles(spec: Spec, report: Report) -> None:
    for kind in REGISTRY:
        known = kind.policy.known
        for key, item in kind.items(spec).items():
            if item.lifecycle.create_before_destroy and not kind.rules.create_before_destroy:
                supported = ", ".join(k.section for k in REGISTRY if k.rules.create_before_destroy)
                report((kind.section, key, "lifecycle", "create_before_destroy"),
                       f"create_before_destroy works for {supported} only")
            for i, name in enumerate(item.lifecycle.ignore_changes):
                if name.split(".")[0] not in known:
                    report((kind.section, key, "lifecycle", "ignore_changes", i),
                           f"{name!r} is not an attribute of {kind.section} (one of {', '.join(sorted(known))})")


def check_spec(spec: Spec, loaded: LoadedYaml, file: str) -> list[SpecProblem]:
    """Every cross-resource problem in `spec`, located in the YAML."""
    problems: list[SpecProblem] = []

    def report(path: Path, message: str, at: tuple[str, int | None] | None = None) -> None:
        """A problem at a key path of the spec, or (with `at`) at a file and line of its own (a template)."""
        where, line = at if at is not None else (file, loaded.line_of(path))
        problems.append(SpecProblem(where, line, format_path(path), message))

    ctx = Ctx(spec, lambda address: REGISTRY.name_of(spec, address))
    for section in TARGET_SECTIONS.values():
        section.check(spec, report)
    for kind in REGISTRY:
        kind.check(spec, ctx, report)
    _name_clashes(spec, report)
    _lifecycles(spec, report)
    return problems
