"""Load a spec: YAML file -> validated, reference-substituted `Spec`.

`load_spec` is the only entry point. It reads the spec file, its templates, the `.env` file
beside it (for variables) and (when asked) its secrets, and touches nothing else: no Docker,
no network. `read_var_files` reads the `--var-file` files the command line names.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

from pydantic import TypeAdapter, ValidationError

from quayform.errors import SpecError, SpecProblem
from quayform.kinds import REGISTRY
from quayform.sensitive import Sensitive
from quayform.spec.checks import check_spec
from quayform.spec.envfile import EnvSyntaxError, parse_env
from quayform.spec.locate import problems_from_validation
from quayform.spec.models import EnvSecret, FileSecret, SecretSource, Spec
from quayform.spec.resolve import Resolver
from quayform.spec.secrets import SecretUnavailable, inside_dir, read_env_secret, read_file_secret, read_regular_file
from quayform.spec.yaml_loader import LoadedYaml, format_path, load_yaml



VAR_ENV_PREFIX = "QUAYFORM_VAR_"
DOTENV = ".env"
_YAML_EXTENSIONS = (".yaml", ".yml", ".json")
_ENV_STATEMENT = re.compile(r"^[ \t]*(?:export[ \t]+)?[A-Za-z0-9_.]+[ \t]*=", re.MULTILINE)


def _read(path: str) -> str:
    if not os.path.lexists(path):
        raise SpecError([SpecProblem(path, None, "", "spec file not found (use -f PATH to name another)")])
    try:
        return read_regular_file(path, path)
    except SecretUnavailable as exc:
        raise SpecError([SpecProblem(path, None, "", f"cannot read the spec: {exc}")]) from None


@dataclass(frozen=True)
class FileValue:
    """A variable's value as a variables file (a `--var-file`, or the `.env` beside the spec) gives it."""

    value: str
    file: str
    line: int
    from_environ: tuple[str, ...] = ()  # environment variables a `.env`-style value was interpolated from


class Overrides(dict):
    """The `--var` values, and beneath them the `--var-file` values (later files winning).

    To everything but load_spec it is the plain {name: value} that the command line sets (a saved
    plan stores it as one): the `--var` values over the file values that no QUAYFORM_VAR_NAME
    overrides. load_spec reads the layers apart, so that QUAYFORM_VAR_NAME wins over a file and
    an undeclared name is reported at its file's line.
    """

    def __init__(self, given: Mapping[str, str], files: Mapping[str, FileValue], environ: Mapping[str, str]):
        super().__init__({**{n: v.value for n, v in files.items() if VAR_ENV_PREFIX + n not in environ}, **given})
        self.given = dict(given)
        self.files = dict(files)


def read_var_files(paths: tuple[str, ...] | list[str], given: Mapping[str, str],
                   environ: Mapping[str, str] | None = None) -> Overrides:
    """Read `--var-file` files (YAML mappings or `.env`-style lines) into Overrides; SpecError on a defect."""
    environ = os.environ if environ is None else environ
    values: dict[str, FileValue] = {}
    problems: list[SpecProblem] = []
    for path in paths:
        try:
            text = read_regular_file(path, path)
        except SecretUnavailable as exc:
            problems.append(SpecProblem(path, None, "", f"cannot read the variables file: {exc}"))
            continue
        values.update(_var_file(path, text, environ, problems))
    if problems:
        raise SpecError(problems)
    return Overrides(given, values, environ)


def is_env_style(path: str, text: str) -> bool:
    """`.env`-style NAME=value lines, or a YAML mapping? By extension (.yaml/.yml/.json, .env), else by content."""
    name = os.path.basename(path).lower()
    if name.endswith(_YAML_EXTENSIONS):
        return False
    if name.startswith(".env") or name.endswith(".env"):
        return True
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return bool(_ENV_STATEMENT.match(line))
    return False


def _var_file(path: str, text: str, environ: Mapping[str, str], problems: list[SpecProblem]) -> dict[str, FileValue]:
    if is_env_style(path, text):
        return _env_values(path, text, environ, problems)
    try:
        loaded = load_yaml(text, path)
    except SpecError as exc:
        problems.extend(exc.problems)
        return {}
    if loaded.data is None:
        return {}
    if not isinstance(loaded.data, dict):
        problems.append(SpecProblem(path, 1, "", "a variables file is a mapping of NAME: value (or NAME=value lines)"))
        return {}
    values = {}
    for name, value in loaded.data.items():
        line = loaded.line_of((name,)) or 1
        if isinstance(value, (dict, list)) or value is None:
            problems.append(SpecProblem(path, line, format_path((name,)),
                                        "a variable's value is a string, number or boolean"))
            continue
        values[name] = FileValue(_scalar_text(value), path, line)
    return values


def _env_values(path: str, text: str, environ: Mapping[str, str], problems: list[SpecProblem]) -> dict[str, FileValue]:
    try:
        entries = parse_env(text, environ.get)
    except EnvSyntaxError as exc:
        problems.append(SpecProblem(path, exc.line, exc.name, exc.message))
        return {}
    return {e.name: FileValue(e.value, path, e.line, e.from_environ) for e in entries}


def _scalar_text(value: Any) -> str:
    return "true" if value is True else "false" if value is False else (getattr(value, "text", None) or str(value))


def _dotenv(spec_path: str, environ: Mapping[str, str], problems: list[SpecProblem]) -> dict[str, FileValue]:
    """The `.env` file beside the spec, read as docker compose reads it (none: no values)."""
    path = os.path.join(os.path.dirname(spec_path), DOTENV)
    if not os.path.lexists(path):
        return {}
    try:
        text = read_regular_file(path, path)
    except SecretUnavailable as exc:
        problems.append(SpecProblem(path, None, "", f"cannot read the variables in {DOTENV}: {exc}"))
        return {}
    return _env_values(path, text, environ, problems)


def _secret_env_names(raw: dict) -> dict[str, str]:
    """Environment variable -> the secret that reads it ({env: NAME} sources)."""
    declared = raw.get("secrets") if isinstance(raw.get("secrets"), dict) else {}
    return {source["env"]: name for name, source in declared.items()
            if isinstance(source, dict) and isinstance(source.get("env"), str)}


def _from_secret_env(value: FileValue, name: str, secret_env: Mapping[str, str]) -> SpecProblem | None:
    """A variables file may not copy a secret's environment variable into a variable (plans show variables)."""
    for env_name in value.from_environ:
        if env_name in secret_env:
            secret = secret_env[env_name]
            return SpecProblem(value.file, value.line, name,
                               f"reads the environment variable {env_name} of secrets.{secret}; a variable is not a "
                               f"secret (plans and outputs show it): use ${{secrets.{secret}}} where it is needed")
    return None


def _variables(raw: dict, loaded: LoadedYaml, file: str, overrides: Mapping[str, str],
               environ: Mapping[str, str], problems: list[SpecProblem]) -> dict[str, str]:
    """Each declared variable's value: --var, then QUAYFORM_VAR_NAME, then --var-file, then .env, then the spec."""
    declared = raw.get("variables") if isinstance(raw.get("variables"), dict) else {}
    given = overrides.given if isinstance(overrides, Overrides) else dict(overrides)
    files = overrides.files if isinstance(overrides, Overrides) else {}
    dotenv = _dotenv(file, environ, problems) if declared else {}
    secret_env = _secret_env_names(raw)
    values = {name: _scalar_text(value) for name, value in declared.items()
              if not (isinstance(value, (dict, list)) or value is None)}  # pydantic reports the others
    for name, value in [*((n, v) for n, v in dotenv.items() if n in declared), *files.items()]:
        problem = _from_secret_env(value, name, secret_env)
        if problem is None and name not in declared:
            problem = SpecProblem(value.file, value.line, name,
                                  f"no variable {name!r} is declared in the spec ({file})")
        if problem is not None:
            problems.append(problem)
        values[name] = value.value
    for name in declared:
        if VAR_ENV_PREFIX + name in environ:
            values[name] = environ[VAR_ENV_PREFIX + name]
    for name, value in given.items():
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


_LAST_PARSED: dict[tuple[str, str], LoadedYaml] = {}


def _parsed(path: str, text: str) -> LoadedYaml:
    """The parsed file, kept for the next load of the same text in this process: apply loads the spec
    once to take the lock and once more to plan (70 ms of parsing at 1,000 containers). Loading never
    changes the parsed data (a spec that generates secrets is already built twice from it)."""
    key = (path, text)
    if key not in _LAST_PARSED:
        loaded = load_yaml(text, path)
        _LAST_PARSED.clear()
        _LAST_PARSED[key] = loaded
    return _LAST_PARSED[key]


def load_spec(path: str, overrides: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
              read_secrets: bool = True, generate: bool = True) -> Spec:
    """Load and check a spec; raise SpecError listing every problem with file:line: key.path.

    When a secret is to be generated, the whole spec is checked first without secrets, so a
    spec with any defect writes nothing. With `generate` off (destroy), a generated secret whose
    file is missing is unavailable instead of being made anew.
    """
    environ = os.environ if environ is None else environ
    overrides = {} if overrides is None else overrides
    loaded = _parsed(path, _read(path))
    raw = loaded.data
    if not isinstance(raw, dict):
        raise SpecError([SpecProblem(path, 1, "", "the spec must be a mapping with at least 'version' and 'stack'")])
    base_dir = os.path.dirname(os.path.abspath(path))
    sources = _sources(raw) if read_secrets else {}
    if not generate:
        sources = {name: source.model_copy(update={"generate": None}) if isinstance(source, FileSecret) else source
                   for name, source in sources.items()}
    if _missing_generated(sources, base_dir):
        _build(raw, loaded, path, base_dir, overrides, environ, None)
    return _build(raw, loaded, path, base_dir, overrides, environ, sources if read_secrets else None)


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
    for kind in REGISTRY:  # what the spec implies without writing it (compose's default network)
        kind.implied(spec)
    spec._ref_edges = tuple(sorted(resolver.edges))  # before the checks too: they look at what crosses engines
    spec._ref_paths = dict(resolver.edge_paths)
    spec._ref_attrs = {edge: frozenset(attrs) for edge, attrs in resolver.edge_attrs.items()}
    problems += check_spec(spec, loaded, path)
    if problems:
        raise SpecError(problems)
    spec._lines = loaded.lines
    spec._secret_values = tuple(secrets.values())
    return spec
