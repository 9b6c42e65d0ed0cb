"""Load a spec: YAML file -> validated, reference-substituted `Spec`.

`load_spec` is the only entry point. It reads the spec file, its templates and (when
asked) its secrets, and touches nothing else: no Docker, no network.
"""

from __future__ import annotations

import os
from typing import Mapping

from pydantic import ValidationError

from quayform.errors import SpecError, SpecProblem
from quayform.sensitive import Sensitive
from quayform.spec.checks import check_spec
from quayform.spec.locate import problems_from_validation
from quayform.spec.models import Spec
from quayform.spec.resolve import Resolver
from quayform.spec.secrets import SecretUnavailable, read_env_secret, read_file_secret
from quayform.spec.yaml_loader import LoadedYaml, format_path, load_yaml



VAR_ENV_PREFIX = "QUAYFORM_VAR_"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise SpecError([SpecProblem(path, None, "", "spec file not found (use -f PATH to name another)")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecProblem(path, None, "", f"cannot read the spec: {exc}")]) from None


def _variables(raw: dict, loaded: LoadedYaml, file: str, overrides: Mapping[str, str],
               environ: Mapping[str, str], problems: list[SpecProblem]) -> dict[str, str]:
    declared = raw.get("variables") if isinstance(raw.get("variables"), dict) else {}
    values = {}
    for name, value in declared.items():
        if isinstance(value, (dict, list)) or value is None:
            continue  # pydantic reports the type error with its line
        values[name] = "true" if value is True else "false" if value is False else (getattr(value, "text", None) or str(value))
        if VAR_ENV_PREFIX + name in environ:
            values[name] = environ[VAR_ENV_PREFIX + name]
    for name, value in overrides.items():
        if name not in declared:
            problems.append(SpecProblem(file, loaded.line_of(("variables",)), "variables",
                                        f"--var {name}: no variable {name!r} is declared in the spec"))
        values[name] = value
    return values


def _secrets(raw: dict, loaded: LoadedYaml, file: str, base_dir: str, environ: Mapping[str, str],
             problems: list[SpecProblem]) -> dict[str, Sensitive]:
    declared = raw.get("secrets") if isinstance(raw.get("secrets"), dict) else {}
    values = {}
    for name, source in declared.items():
        path = ("secrets", name)
        try:
            if isinstance(source, dict) and isinstance(source.get("env"), str):
                values[name] = read_env_secret(source["env"], environ)
            elif isinstance(source, dict) and isinstance(source.get("file"), str):
                generate = source.get("generate") if isinstance(source.get("generate"), dict) else None
                length = generate.get("length", 32) if generate else None
                encoding = generate.get("format", "urlsafe") if generate else "urlsafe"
                valid = isinstance(length, int) and 16 <= length <= 256 and encoding in ("urlsafe", "base64")
                values[name] = read_file_secret(base_dir, source["file"], length if valid else None, encoding)
        except (SecretUnavailable, ValueError) as exc:
            problems.append(SpecProblem(file, loaded.line_of(path), format_path(path), f"secret {name!r} is unavailable: {exc}"))
    return values


def load_spec(path: str, overrides: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
              read_secrets: bool = True) -> Spec:
    """Load and check a spec; raise SpecError listing every problem with file:line: key.path."""
    environ = os.environ if environ is None else environ
    text = _read(path)
    loaded = load_yaml(text, path)
    raw = loaded.data
    if not isinstance(raw, dict):
        raise SpecError([SpecProblem(path, 1, "", "the spec must be a mapping with at least 'version' and 'stack'")])
    base_dir = os.path.dirname(os.path.abspath(path))
    problems: list[SpecProblem] = []
    variables = _variables(raw, loaded, path, overrides or {}, environ, problems)
    secrets = _secrets(raw, loaded, path, base_dir, environ, problems) if read_secrets else {}
    resolver = Resolver(raw, loaded, path, base_dir, variables, secrets)
    resolved = resolver.resolve_all()
    problems += resolver.problems
    try:
        spec = Spec.model_validate(resolved)
    except ValidationError as exc:
        raise SpecError(problems + problems_from_validation(exc, loaded, path)) from None
    problems += check_spec(spec, loaded, path)
    if problems:
        raise SpecError(problems)
    spec._path = path
    spec._base_dir = base_dir
    spec._ref_edges = tuple(sorted(resolver.edges))
    spec._lines = loaded.lines
    return spec
