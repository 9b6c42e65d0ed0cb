"""The docs stay true: the known issues listed in docs/spec.md are exactly the pinned ones."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _known_issue_tests_in_docs() -> list[str]:
    text = (ROOT / "docs" / "spec.md").read_text()
    section = text.split("## Known issues", 1)[1].split("\n## ", 1)[0]
    bullets = re.findall(r"^- (.*?)(?=^- |\Z)", section, flags=re.M | re.S)
    names = []
    for bullet in bullets:
        found = re.findall(r"\(`(test_\w+)`\)", bullet)
        assert len(found) == 1, f"a known issue must name the one test that pins it: {bullet!r}"
        names += found
    return names


def _pinning_tests() -> list[str]:
    tree = ast.parse((ROOT / "tests" / "unit" / "test_known_issues.py").read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


def test_every_known_issue_is_pinned_by_a_test_and_every_pinned_issue_is_listed() -> None:
    assert sorted(_known_issue_tests_in_docs()) == sorted(_pinning_tests())
