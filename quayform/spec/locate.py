"""Turn pydantic's validation errors into `file:line: key.path: message` problems."""

from __future__ import annotations

from pydantic import ValidationError

from quayform.errors import SpecProblem
from quayform.spec.yaml_loader import LoadedYaml, format_path


def _message(error: dict) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    if kind == "literal_error" and loc == ("version",):
        return f"unsupported spec version {error['input']!r} (this quayform reads version 1)"
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} is not a valid name (pattern {error['ctx']['pattern']})"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def problems_from_validation(exc: ValidationError, loaded: LoadedYaml, file: str) -> list[SpecProblem]:
    """One problem per pydantic error, located at the line of its key path."""
    problems = []
    for error in exc.errors():
        # Annotated validators add no loc parts of their own; drop pydantic's union/function tags and
        # the models' own union tags ("(list)").
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and (
            "[" in part or part.startswith(("function-", "(")))))
        key_loc = loc[:-1] if error["type"] == "missing" else loc
        problems.append(SpecProblem(file, loaded.line_of(key_loc), format_path(key_loc), _message({**error, "loc": loc})))
    return problems
