"""Load a spec: YAML file -> validated, reference-substituted `Spec`.

`load_spec` is the only entry point. It reads the spec file, its templates and (when
asked) its secrets, and touches nothing else: no Docker, no network.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from pydantic import TypeAdapter, ValidationError

from quayform.errors import SpecError, SpecProblem
from quayform.sensitive import Sensitive
from quayform.spec.checks import check_spec
from quayform.spec.locate import problems_from_validation
from quayform.spec.models import EnvSecret, FileSecret, SecretSource, Spec
from quayform.spec.resolve import Resolver
from quayform.spec.secrets import SecretUnavailable, inside_dir, read_env_secret, read_file_secret, read_regular_file
from quayform.spec.yaml_loader import LoadedYaml, format_path, load_yaml



VAR_ENV_PREFIX = "QUAYFORM_VAR_"


def _read(path: str) -> str:
    if not os.path.lexists(path):
        raise SpecError([SpecProblem(path, None, "", "spec file not found (use -f PATH to name another)")])
    try:
        return read_regular_file(path, path)
    except SecretUnavailable as exc:
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


def _sources(raw: dict) -> dict[str, Any]:
    """The secrets section as validated models (entries that do not validate are left to pydantic's report)."""
    declared = raw.get("secrets") if isinstance(raw.get("secrets"), dict) else {}
    sources = {}
    for name, source in declared.items():
        try:
            sources[name] = TypeAdapter(SecretSource).validate_python(source)
        except (ValidationError, ValueError):
            continue
    return sources


def _missing_generated(sources: dict[str, Any], base_dir: str) -> bool:
    for source in sources.values():
        if isinstance(source, FileSecret) and source.generate is not None:
            try:
                if not os.path.lexists(inside_dir(base_dir, source.file)):
                    return True
            except ValueError:
                continue
    return False


def _secrets(sources: dict[str, Any], loaded: LoadedYaml, file: str, base_dir: str, environ: Mapping[str, str],
             problems: list[SpecProblem]) -> dict[str, Sensitive]:
    values = {}
    for name, source in sources.items():
        path = ("secrets", name)
        try:
            if isinstance(source, EnvSecret):
                values[name] = read_env_secret(source.env, environ)
            else:
                generate = source.generate
                values[name] = read_file_secret(base_dir, source.file, generate.length if generate else None,
                                                generate.format if generate else "urlsafe")
        except (SecretUnavailable, ValueError) as exc:
            problems.append(SpecProblem(file, loaded.line_of(path), format_path(path), f"secret {name!r} is unavailable: {exc}"))
    return values


def load_spec(path: str, overrides: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
              read_secrets: bool = True, generate: bool = True) -> Spec:
    """Load and check a spec; raise SpecError listing every problem with file:line: key.path.

    When a secret is to be generated, the whole spec is checked first without secrets, so a
    spec with any defect writes nothing. With `generate` off (destroy), a generated secret whose
    file is missing is unavailable instead of being made anew.
    """
    environ = os.environ if environ is None else environ
    loaded = load_yaml(_read(path), path)
    raw = loaded.data
    if not isinstance(raw, dict):
        raise SpecError([SpecProblem(path, 1, "", "the spec must be a mapping with at least 'version' and 'stack'")])
    base_dir = os.path.dirname(os.path.abspath(path))
    sources = _sources(raw) if read_secrets else {}
    if not generate:
        sources = {name: source.model_copy(update={"generate": None}) if isinstance(source, FileSecret) else source
                   for name, source in sources.items()}
    if _missing_generated(sources, base_dir):
        _build(raw, loaded, path, base_dir, overrides or {}, environ, None)
    return _build(raw, loaded, path, base_dir, overrides or {}, environ, sources if read_secrets else None)


def _build(raw: dict, loaded: LoadedYaml, path: str, base_dir: str, overrides: Mapping[str, str],
           environ: Mapping[str, str], sources: dict[str, Any] | None) -> Spec:
    problems: list[SpecProblem] = []
    variables = _variables(raw, loaded, path, overrides, environ, problems)
    secrets = _secrets(sources, loaded, path, base_dir, environ, problems) if sources is not None else {}
    resolver = Resolver(raw, loaded, path, base_dir, variables, secrets)
    resolved = resolver.resolve_all()
    problems += resolver.problems
    try:
        spec = Spec.model_validate(resolved)
    except ValidationError as exc:
        raise SpecError(problems + problems_from_validation(exc, loaded, path)) from None
    spec._path = path  # before the checks: a template is found (and named) beside the spec
    spec._base_dir = base_dir
    problems += check_spec(spec, loaded, path)
    if problems:
        raise SpecError(problems)
    spec._ref_edges = tuple(sorted(resolver.edges))
    spec._lines = loaded.lines
    spec._secret_values = tuple(secrets.values())
    return spec
