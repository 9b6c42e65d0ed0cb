"""Known issues, pinned: each test asserts today's (wrong) behaviour of one entry in docs/spec.md.

When a fix lands, its test here fails: delete the test and the entry together, and add a
regression test that asserts the right behaviour (tests/unit/test_docs.py keeps the two lists
in step).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quayform.errors import SpecError
from quayform.spec import load_spec


def test_generate_writes_its_file_before_the_spec_is_valid(tmp_path: Path) -> None:
    spec = tmp_path / "quayform.yaml"
    spec.write_text("version: 1\nstack: s\nsecrets:\n  a: {file: secrets/a, generate: {lenght: 32}}\n")
    with pytest.raises(SpecError, match="unknown key 'lenght'"):
        load_spec(str(spec), environ={})
    assert (tmp_path / "secrets" / "a").exists()
