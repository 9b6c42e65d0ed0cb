"""The architecture of docs/architecture.md, checked on the source: import rules, and that no stage names a kind."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from quayform.kinds import REGISTRY, TARGET_SECTIONS
from quayform.kinds.base import Attribute, Policy

PACKAGE = Path(__file__).resolve().parents[2] / "quayform"
CLIENTS = {"docker", "requests", "urllib3", "quayform.docker_client", "quayform.engine_api", "quayform.pg_client"}

# module (or package prefix) -> top-level names it must never import (lazy imports included)
FORBIDDEN = {
    "errors": {"docker", "pydantic", "yaml", "networkx", "deepdiff", "click", "rich", "quayform"},
    "address": {"docker", "pydantic", "yaml", "networkx", "deepdiff", "click", "rich", "quayform"},
    "sensitive": {"docker", "pydantic", "yaml", "networkx", "deepdiff", "click", "rich", "quayform"},
    "spec": {"docker", "networkx", "rich", "click", "deepdiff", "quayform.observe", "quayform.apply",
             "quayform.render", "quayform.cli", "quayform.pipeline", *CLIENTS},
    "kinds": {"rich", "click", "networkx", "deepdiff", "quayform.render", "quayform.cli", "quayform.pipeline",
              "quayform.observe", "quayform.apply", "quayform.diff", "quayform.plan", *CLIENTS},
    "targets": {"rich", "click", "quayform.kinds", "quayform.pipeline"},
    "graph": {"rich", "click", *CLIENTS},
    "diff": {"rich", "click", "quayform.kinds", "quayform.spec", "quayform.observe", *CLIENTS},
    "identify": {"rich", "click", "quayform.kinds", "quayform.spec", "quayform.observe", *CLIENTS},
    "plan": {"rich", "click", "quayform.observe", *CLIENTS},
    "plan_document": {"rich", "click", "quayform.observe", *CLIENTS},
    "changes": {"docker", "rich", "click", "quayform.kinds"},
    "render": {"click", "quayform.kinds", "quayform.observe", "quayform.apply", *CLIENTS},
    "apply": {"rich", "click", "quayform.render", "quayform.cli", "quayform.kinds", *CLIENTS},
    "observe": {"rich", "click", "quayform.render", "quayform.cli", "quayform.kinds", *CLIENTS},
    "pipeline": {"rich", "click", "quayform.render", "quayform.cli", *CLIENTS},
    "convert": {"docker", "networkx", "deepdiff", "rich", "click", "quayform.kinds", "quayform.observe",
                "quayform.apply", "quayform.diff", "quayform.plan", "quayform.pipeline", "quayform.cli", *CLIENTS},
    "cli": {"docker", "quayform.kinds", "quayform.observe", "quayform.apply", "quayform.diff", *CLIENTS},
}

# The stages: none of them may name a kind (a spec section, a kind's noun or its destroy flag).
STAGES = ("graph", "observe", "identify", "diff", "plan", "plan_document", "planfile", "render", "apply",
          "pipeline")
KIND_WORDS = {k.section for k in REGISTRY} | {k.noun for k in REGISTRY} | set(TARGET_SECTIONS)


def imports_of(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        out.append((".".join(part for part in relative.parts if part != "__init__") or "__init__", path))
    return out


def _matches(name: str, rule: set[str]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in rule)


@pytest.mark.parametrize("name, path", modules(), ids=[m for m, _ in modules()])
def test_module_respects_the_import_rules(name: str, path: Path) -> None:
    rule = next((FORBIDDEN[key] for key in FORBIDDEN if name == key or name.startswith(key + ".")), None)
    if rule is None:
        return
    bad = sorted(i for i in imports_of(path) if _matches(i, rule) and not i.startswith("quayform." + name))
    assert not bad, f"quayform/{path.relative_to(PACKAGE)} imports {bad}"


def _words(tree: ast.AST) -> set[str]:
    """Every string constant and identifier, split into words, outside docstrings and comments."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            texts.append(node.value)
        elif isinstance(node, ast.Name):
            texts.append(node.id)
        elif isinstance(node, ast.Attribute):
            texts.append(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.arg, ast.keyword)):
            texts.append(getattr(node, "name", None) or getattr(node, "arg", None) or "")
    return {word for text in texts for word in re.split(r"[^A-Za-z]+", text) if word}


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_names_a_kind(stage: str) -> None:
    named = sorted(_words(ast.parse((PACKAGE / f"{stage}.py").read_text())) & KIND_WORDS)
    assert not named, f"quayform/{stage}.py names kinds {named}: such a rule belongs in that kind's module"


def test_the_word_check_finds_a_kind_name():
    assert _words(ast.parse('x = plan.changes if kind == "containers" else spec.volumes')) & KIND_WORDS == {
        "containers", "volumes"}


@pytest.mark.parametrize("kind", list(REGISTRY), ids=[k.section for k in REGISTRY])
def test_every_in_place_attribute_has_its_update_function(kind) -> None:
    for attribute in kind.attributes:
        if attribute.policy is Policy.UPDATE:
            assert callable(attribute.update), f"{kind.section}.{attribute.name} updates in place but has no update"
    assert kind.policy.update_in_place == {a.name for a in kind.attributes if a.policy is Policy.UPDATE}


def test_an_in_place_attribute_cannot_be_declared_without_an_update_path() -> None:
    with pytest.raises(ValueError, match="update function"):
        Attribute("restart", Policy.UPDATE)


@pytest.mark.parametrize("kind", list(REGISTRY), ids=[k.section for k in REGISTRY])
def test_kind_modules_import_no_client_even_lazily(kind) -> None:
    module = type(kind).__module__
    folder = PACKAGE.joinpath(*module.split(".")[1:])
    files = sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
    for path in files:
        assert not {i for i in imports_of(path) if _matches(i, CLIENTS)}, path


def test_every_section_of_the_spec_is_a_kind_or_a_target_section() -> None:
    from quayform.spec.models import Spec

    sections = set(Spec.model_fields) - {"version", "stack", "variables", "secrets", "outputs"}
    assert sections == {k.section for k in REGISTRY} | set(TARGET_SECTIONS)


def test_every_destroy_flag_has_its_cli_option() -> None:
    cli = (PACKAGE / "cli.py").read_text()
    for kind in REGISTRY:
        for flag in (kind.rules.destroy_flag, kind.rules.data_flag):
            if flag:
                assert f'"--{flag}"' in cli, kind.section
