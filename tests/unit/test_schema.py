"""The editor schema: generated from the models, it accepts every example and good fixture and
rejects the bad fixtures whose defect is one of shape (an unknown key, a wrong type)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from quayform.schema import schema_text, spec_schema
from quayform.spec.yaml_loader import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "docs" / "quayform.schema.json"
EXAMPLES = sorted(ROOT.glob("examples/*/quayform.yaml"))
GOOD = sorted((ROOT / "tests" / "fixtures" / "specs" / "good").glob("*.yaml"))
BAD = sorted((ROOT / "tests" / "fixtures" / "specs" / "bad").glob("*.yaml"))
# What validate reports for a defect of shape, which an editor can flag as well.
SHAPE = re.compile(r"unknown key|required key .* is missing|Input should be|is not a valid name|valid list|"
                   r"valid dictionary|unsupported spec version")


def document(path: Path) -> object:
    return json.loads(json.dumps(load_yaml(path.read_text(), str(path)).data, default=str))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert SHIPPED.read_text() == schema_text(), "docs/quayform.schema.json is stale: run `quayform schema -o " \
                                                 "docs/quayform.schema.json`"


@pytest.mark.parametrize("path", EXAMPLES + GOOD, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_and_good_spec_fits_the_schema(validator, path: Path) -> None:
    errors = sorted(validator.iter_errors(document(path)), key=str)
    assert not errors, [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_names_the_schema_for_editors(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../docs/quayform.schema.json"


SHAPED = [p for p in BAD if any(SHAPE.search(line) for line in p.read_text().splitlines() if line.startswith("# expect"))]


@pytest.mark.parametrize("path", SHAPED, ids=lambda p: p.name)
def test_bad_specs_with_a_defect_of_shape_are_refused_by_the_schema(validator, path: Path) -> None:
    assert list(validator.iter_errors(document(path))), f"{path.name} fits the schema"


def test_the_schema_flags_a_typo_and_completes_keys(validator) -> None:
    spec = {"version": 1, "stack": "s", "containers": {"web": {"image": "x", "enviroment": {"A": "b"}}}}
    (error,) = validator.iter_errors(spec)
    assert "enviroment" in error.message
    container = spec_schema()["$defs"]["Container"]
    assert {"image", "env", "ports", "volumes", "networks", "healthcheck"} <= set(container["properties"])


def test_references_and_short_forms_fit(validator) -> None:
    spec = {"version": 1, "stack": "s", "variables": {"port": "8080"},
            "quay": {"main": {"container": "quay", "port": "${variables.port}",
                              "admin": {"password": "${secrets.x}"}}},
            "containers": {"quay": {"image": "x", "ports": ["8080:80"], "restart": "on-failure:3",
                                    "stop_grace_period": "30s", "command": "sh -c true"}}}
    assert not list(validator.iter_errors(spec))
