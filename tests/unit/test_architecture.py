"""The import rules of docs/architecture.md, checked on the source (every import, lazy ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "quayform"

# module (or package prefix) -> top-level names it must never import
FORBIDDEN = {
    "errors": {"docker", "pydantic", "yaml", "networkx", "deepdiff", "click", "rich", "quayform"},
    "address": {"docker", "pydantic", "yaml", "networkx", "deepdiff", "click", "rich", "quayform"},
    "sensitive": {"docker", "pydantic", "yaml", "networkx", "deepdiff", "click", "rich", "quayform"},
    "spec": {"docker", "networkx", "rich", "click", "deepdiff", "quayform.resources", "quayform.observe",
             "quayform.apply", "quayform.render", "quayform.cli", "quayform.pipeline"},
    "graph": {"docker", "rich", "click", "quayform.resources"},
    "diff": {"docker", "rich", "click", "quayform.resources", "quayform.spec", "quayform.observe"},
    "plan": {"docker", "rich", "click", "quayform.resources", "quayform.observe"},
    "changes": {"docker", "rich", "click", "quayform.resources"},
    "render": {"docker", "click", "quayform.resources", "quayform.observe", "quayform.apply"},
    "apply": {"rich", "click", "quayform.render", "quayform.cli"},
    "resources": {"rich", "click", "quayform.render", "quayform.cli", "quayform.pipeline"},
    "observe": {"rich", "click", "quayform.render", "quayform.cli"},
    "pipeline": {"rich", "click", "quayform.render", "quayform.cli"},
    "cli": {"docker", "quayform.resources", "quayform.observe", "quayform.apply", "quayform.diff"},
}


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        out.append((".".join(relative.parts), path))
    return out


@pytest.mark.parametrize("name, path", modules(), ids=[m for m, _ in modules()])
def test_module_respects_the_import_rules(name: str, path: Path) -> None:
    rule = next((FORBIDDEN[key] for key in FORBIDDEN if name == key or name.startswith(key + ".")), None)
    if rule is None:
        return
    bad = sorted(i for i in imports_of(path)
                 if any(i == f or i.startswith(f + ".") for f in rule) and not i.startswith("quayform." + name))
    assert not bad, f"quayform/{path.relative_to(PACKAGE)} imports {bad}"
