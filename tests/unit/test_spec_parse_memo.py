"""apply loads the spec twice (for the lock, then to plan): the second load reuses the parse of the same
text, and never a parse of other text."""

from __future__ import annotations

from pathlib import Path

from quayform.spec import load as spec_load
from quayform.spec.load import load_spec

BODY = "version: 1\nstack: memo\nvariables:\n  tag: '{tag}'\ncontainers:\n  web:\n    image: busybox:${{variables.tag}}\n"


def test_the_same_text_is_parsed_once_and_an_edit_is_read(tmp_path: Path, monkeypatch) -> None:
    parses: list[str] = []
    real = spec_load.load_yaml
    monkeypatch.setattr(spec_load, "load_yaml", lambda text, file: parses.append(text) or real(text, file))
    spec = tmp_path / "quayform.yaml"
    spec.write_text(BODY.format(tag="1"))
    first = load_spec(str(spec), environ={})
    again = load_spec(str(spec), environ={}, read_secrets=False)
    assert len(parses) == 1 and first.containers["web"].image == again.containers["web"].image == "busybox:1"
    spec.write_text(BODY.format(tag="2"))
    assert load_spec(str(spec), environ={}).containers["web"].image == "busybox:2"
    assert len(parses) == 2
    other = tmp_path / "other.yaml"
    other.write_text(BODY.format(tag="2"))
    load_spec(str(other), environ={})
    assert len(parses) == 3  # another file is parsed for itself (its errors name it)
