"""Turn pydantic's validation errors into `file:line: key.path: message` problems, in plain words.

An unknown key gets the key it was probably meant to be (difflib over the keys allowed there,
and compose's names for them: `environment` is `env`, `services` is `containers`); a value of the
wrong shape says what was expected and what was given, never pydantic's "Input should be a
valid dictionary".
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from quayform.errors import SpecProblem
from quayform.sensitive import Sensitive
from quayform.spec.models import Spec
from quayform.spec.yaml_loader import LoadedYaml, format_path

CONVERT_HINT = "this looks like a docker compose file: `quayform convert` writes a spec from it"

# Compose's names where quayform has the same thing under its own name, per model.
COMPOSE_NAMES: dict[str, dict[str, str]] = {
    "Spec": {"services": "containers", "name": "stack"},
    "Container": {"environment": "env", "container_name": "name"},
}
# Compose's keys that quayform does not have, and what to do instead.
COMPOSE_ONLY: dict[str, dict[str, str]] = {
    "Spec": {"configs": "a config is a file: give it under the container's files:",
             "include": "quayform reads one file", "x-": "compose's extension fields have no place in a spec: "
             "put an anchor on a real entry and merge it (<<: *name)"},
    "Container": {
        "env_file": "list its values under env (`quayform convert` copies them)",
        "build": "quayform runs images: build it first (docker build -t NAME .) and name it in image",
        "links": "containers on a shared network reach each other by key: list the network under networks",
        "deploy": "quayform runs one container per key", "profiles": "every container in the spec is created",
        "extends": "quayform reads one file", "scale": "one container per key",
        "volumes_from": "mount the same volumes by name instead",
        "secrets": "a secret goes into a file: files: {/run/secrets/NAME: {content: \"${secrets.NAME}\"}}",
        "configs": "a config is a file: files: {/PATH: {template: FILE}}",
    },
    "Healthcheck": {"disable": "write test: [NONE] to turn the image's check off"},
    "Network": {"ipam": "Docker picks the subnet"},
    "NetworkAttachment": {"ipv4_address": "quayform sets only aliases; Docker picks the address",
                          "ipv6_address": "quayform sets only aliases; Docker picks the address"},
}
_SHAPES = {
    "dict_type": "a mapping (key: value)", "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)", "list_type": "a list", "tuple_type": "a list",
    "set_type": "a list", "string_type": "a string", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
}


def problems_from_validation(exc: ValidationError, loaded: LoadedYaml, file: str) -> list[SpecProblem]:
    """One problem per pydantic error, located at the line of its key path."""
    problems = []
    for error in exc.errors():
        # Annotated validators add no loc parts of their own; drop pydantic's union/function tags and
        # the models' own union tags ("(list)").
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and (
            "[" in part or part.startswith(("function-", "(")))))
        key_loc = loc[:-1] if error["type"] == "missing" else loc
        message = _message({**error, "loc": loc}, loaded.data)
        problems.append(SpecProblem(file, loaded.line_of(key_loc), format_path(key_loc), message))
    return problems


def _message(error: dict, data: Any = None) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        return unknown_key(loc, data)
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    if kind == "literal_error" and loc == ("version",):
        hint = f"; {CONVERT_HINT}" if isinstance(data, dict) and "services" in data else ""
        return f"unsupported spec version {error['input']!r} (this quayform reads version 1){hint}"
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} is not a valid name (pattern {error['ctx']['pattern']})"
    plain = _plain_message(kind, error.get("ctx") or {}, error.get("input"))
    if plain:
        return plain
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message.replace("Input should be", "expected", 1)


def unknown_key(loc: tuple, data: Any = None) -> str:
    """`unknown key 'enviroment'; did you mean 'env'? (compose's environment is quayform's env)`."""
    key = str(loc[-1])
    model = model_at(loc[:-1])
    name = model.__name__ if model else ""
    fields = [f for f in (model.model_fields if model else ()) if f != key]
    aliases = {k: v for k, v in COMPOSE_NAMES.get(name, {}).items() if v in fields}
    message = f"unknown key {key!r}"
    if key in aliases:
        message += f" (compose's {key} is quayform's {aliases[key]})"
    elif key.startswith("x-") and "x-" in COMPOSE_ONLY.get(name, {}):
        message += f" ({COMPOSE_ONLY[name]['x-']})"
    elif key in COMPOSE_ONLY.get(name, {}):
        message += f" (compose's {key} is not supported: {COMPOSE_ONLY[name][key]})"
    else:
        close = difflib.get_close_matches(key, [*fields, *aliases], n=1, cutoff=0.6)
        if close and close[0] in aliases:
            message += f"; did you mean {aliases[close[0]]!r}? (compose's {close[0]} is quayform's " \
                       f"{aliases[close[0]]})"
        elif close:
            message += f"; did you mean {close[0]!r}?"
    if name == "Spec" and key == "services" and isinstance(data, dict) and "containers" not in data:
        message += f"; {CONVERT_HINT}"
    return message


def _plain_message(kind: str, ctx: dict, given: Any) -> str | None:
    """quayform's wording for pydantic's type and bound errors; None for the others."""
    if kind in _SHAPES:
        message = f"expected {_SHAPES[kind]}, got {describe(given)}"
        if kind in ("dict_type", "model_type") and isinstance(given, list) and given and all(
                isinstance(item, str) and "=" in item for item in given):
            message += " (compose's list of NAME=value is written NAME: value here)"
        elif kind == "list_type" and isinstance(given, (str, int)) and not isinstance(given, bool):
            message += f" (write it as a list: [{json.dumps(given)}])" if isinstance(given, str) else \
                f" (write [{given}])"
        return message
    bounds = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le"),
              "greater_than": ("more than", "gt"), "less_than": ("less than", "lt")}
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {ctx.get(key)}, got {describe(given)}"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else \
            f"must be at least {ctx.get('min_length')} characters long"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind in ("too_short", "too_long"):
        count = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"needs {'at least' if kind == 'too_short' else 'at most'} {count} item{'s' * (count != 1)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {describe(given)}"
    return None


def describe(value: Any) -> str:
    """A value as the user wrote it, in YAML's words (a secret is never shown)."""
    if isinstance(value, Sensitive):
        return "a secret"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, (int, float)):
        return f"the number {getattr(value, 'text', None) or value}"
    text = str(value)
    return f"the text {text[:60] + '...' if len(text) > 60 else text!r}"


def model_at(loc: tuple) -> type[BaseModel] | None:
    """The spec model that validates the mapping at `loc` (None if it is not a model)."""
    annotation: Any = Spec
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return _model(annotation)


def _members(annotation: Any) -> list[Any]:
    """The types an annotation may be: Annotated and unions unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _model(annotation: Any) -> type[BaseModel] | None:
    return next((m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)), None)


def _step(annotation: Any, part: Any) -> Any:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            if isinstance(part, str) and part in member.model_fields:
                return member.model_fields[part].annotation
            continue
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin is dict and isinstance(part, str) and len(args) == 2:
            return args[1]
        if origin in (list, tuple) and isinstance(part, int) and args:
            return args[0]
    return None
