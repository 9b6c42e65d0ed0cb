"""A JSON Schema of the spec for editors (`quayform schema`, docs/quayform.schema.json).

Generated from the pydantic models, so it cannot drift from what `validate` accepts: editors
complete keys and flag unknown ones as you type. It is a guide, not the judge: where a field
takes a short form that quayform parses ("10s", "8080:80", "on-failure:3", "1g"), the schema
also allows a scalar there, and cross-resource rules (references, names, clashes) stay with
`validate`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

SCHEMA_ID = "https://quayform.dev/schema/quayform.schema.json"
SCALAR = {"type": ["string", "number", "boolean", "null"]}


class _EditorSchema(GenerateJsonSchema):
    """pydantic's generator, told that a field with a parsing step also takes the scalars it parses."""

    def function_before_schema(self, schema: Any) -> Any:
        inner = self.generate_inner(schema["schema"])
        if inner in ({}, SCALAR) or inner.get("type") == "string":
            return {**inner, "type": SCALAR["type"]} if inner.get("type") == "string" else inner
        return {"anyOf": [inner, SCALAR]}

    def is_instance_schema(self, schema: Any) -> Any:
        return {}  # a secret's wrapper: whatever text the spec gives

    def any_schema(self, schema: Any) -> Any:
        return {}


REFERENCE = {"type": "string", "pattern": r"\$\{[^}]+\}"}  # `${variables.port}` stands for a number too


def _finish(node: Any) -> Any:
    """Keys that fit no pattern are errors (as in validate); any non-string value may be a reference."""
    if isinstance(node, list):
        return [_finish(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _finish(value) for key, value in node.items()}
    if "patternProperties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    constrained = node.get("type") in ("integer", "number", "boolean") or "pattern" in node or "enum" in node \
        or "const" in node
    if constrained and node is not REFERENCE and node.get("pattern") != REFERENCE["pattern"]:
        return {"anyOf": [node, REFERENCE]}
    return node


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a quayform.yaml."""
    from quayform.spec.models import Spec

    schema = _finish(Spec.model_json_schema(schema_generator=_EditorSchema, mode="validation"))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "quayform spec", "description": "A quayform.yaml: see docs/spec.md for every key.", **schema}


def schema_text() -> str:
    return json.dumps(spec_schema(), indent=2, sort_keys=True) + "\n"
