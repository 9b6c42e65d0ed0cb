"""`quayform convert`: a docker compose file (its data and line marks) -> a quayform spec (YAML text).

Pure: the compose file comes in as `LoadedYaml` (spec/yaml_loader.py: anchors, aliases and `<<`
merges already resolved), the files it names (env_file, configs) through the `read_text` it is
given; out come the spec's text and a note, with the compose file's line, for every key that
could not be carried as compose means it. Compose's interpolation (`${TAG:-1.5}`, `$$`) becomes
quayform's (`${variables.TAG}` with a default under `variables:`); `x-` extensions are dropped.
Service options the container model knows by compose's own name are carried as they are; the
validation of the written spec decides on their values. May import: spec (models, yaml_loader,
envfile), yaml; never docker, click or a stage. services.py converts the services, resources.py the
top-level sections and the files secrets and configs become.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from quayform.errors import SpecProblem
from quayform.convert.resources import literal
from quayform.convert.services import ServiceConverter
from quayform.spec.envfile import EnvSyntaxError, Var, expand, tokens
from quayform.spec.yaml_loader import _RESOLVERS, LoadedYaml, Path, YamlFloat, YamlInt, format_path

_SECRETISH = re.compile(r"PASS|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|_)KEY($|_)", re.IGNORECASE)
TOP_LEVEL = ("name", "version", "services", "networks", "volumes", "secrets", "configs")


# What could not be carried, at its line in the compose file: located as a spec problem is.
Note = SpecProblem


@dataclass(frozen=True)
class Converted:
    """The spec's YAML text, its stack name, and the notes (sorted by line)."""

    text: str
    stack: str
    notes: tuple[Note, ...]


def convert(compose: LoadedYaml, file: str, project_dir: str, spec_dir: str,
            read_text: Callable[[str], str | None], stack: str | None = None) -> Converted:
    """Convert one compose file. `project_dir`: its folder; `spec_dir`: where the spec will be written
    (relative host paths are rebased onto it); `read_text(absolute path)`: a file's text, or None."""
    state = Conversion(compose, file, project_dir, spec_dir, read_text)
    return state.run(stack)


@dataclass
class Conversion:
    """The state of one conversion: the notes so far and the variables the interpolations declare."""

    compose: LoadedYaml
    file: str
    project_dir: str
    spec_dir: str
    read_text: Callable[[str], str | None]
    notes: list[Note] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    project: str = ""  # compose's project name (the name of the images it builds)
    _explained: set[object] = field(default_factory=set)

    def note(self, path: Path, message: str) -> None:
        self.notes.append(Note(self.file, self.compose.line_of(path), format_path(path), message))

    def run(self, stack: str | None) -> Converted:
        data = self.compose.data
        if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
            self.note((), "not a compose file: it has no 'services' mapping")
            return Converted("", "", tuple(self.notes))
        for key in data:
            if key not in TOP_LEVEL and not str(key).startswith("x-"):
                self.note((key,), f"not supported ({_TOP_LEVEL_WHY.get(key, 'not a key quayform knows')})")
        self.project, name = self.project_name(data.get("name"), explain=stack is None)
        name = stack or name
        body = ServiceConverter(self, data).spec()
        spec = {"version": 1, "stack": name}
        if self.variables:
            spec["variables"] = dict(self.variables)
        spec.update(body)
        text = HEADER.format(file=os.path.basename(self.file)) + dump(spec)
        return Converted(text, name, tuple(sorted(self.notes, key=lambda n: (n.file, n.line or 0, n.key_path, n.message))))

    # ----------------------------------------------------------------- names

    def project_name(self, given: Any, explain: bool = True) -> tuple[str, str]:
        """Compose's project name (`name:` or the folder's name) normalised as compose does, and that
        as a quayform stack name (no '_', at most 48 characters)."""
        if isinstance(given, str) and given:
            try:
                raw = expand(tokens(given), lambda _name: None)
            except EnvSyntaxError:
                raw = given
            if raw != given:
                self.note(("name",), f"the project name uses variables; the stack is named {raw!r} from their "
                                     "defaults (a stack name takes no references)")
        else:
            raw = os.path.basename(os.path.normpath(self.project_dir))
        compose_name = re.sub(r"[^a-z0-9_-]", "", raw.lower()).lstrip("_-")
        stack = re.sub(r"-+", "-", compose_name.replace("_", "-")).strip("-")[:48].rstrip("-") or "stack"
        if stack != compose_name and explain:
            self.note(("name",) if given else (), f"compose's project name {compose_name!r} is the stack name "
                                                  f"{stack!r} (a stack name is a-z, 0-9 and '-', at most 48)")
        return compose_name, stack

    def key(self, name: Any, path: Path) -> str:
        """A compose name as a quayform key (letters, digits, '_' and '-', starting with a letter or digit)."""
        text = str(name)
        key = re.sub(r"[^A-Za-z0-9_-]", "-", text).lstrip("_-") or "x"
        if key != text and text not in self._explained:
            self._explained.add(text)
            self.note(path, f"{text!r} is the key {key!r} (a key is letters, digits, '_' and '-')")
        return key

    # ----------------------------------------------------------------- paths

    def host_path(self, source: str) -> str:
        """A host path as the spec must write it: relative ones are rebased from the compose file's folder."""
        if source.startswith(("/", "~")):
            return source
        full = os.path.normpath(os.path.join(self.project_dir, source))
        relative = os.path.relpath(full, self.spec_dir)
        return relative if relative == "." or relative.startswith("../") or relative == ".." else "./" + relative

    def inside_spec_dir(self, source: str) -> str | None:
        """`source` relative to the spec's folder (no './'), or None if it is outside it."""
        full = os.path.normpath(os.path.join(self.project_dir, os.path.expanduser(source)))
        relative = os.path.relpath(full, self.spec_dir)
        return None if relative == ".." or relative.startswith("../") or os.path.isabs(relative) else relative

    def absolute(self, source: str) -> str:
        return os.path.normpath(os.path.join(self.project_dir, os.path.expanduser(source)))

    # ----------------------------------------------------------------- interpolation

    def values(self, value: Any, path: Path) -> Any:
        """Compose's interpolation in every string value (not keys) of `value`, in quayform's spelling."""
        if isinstance(value, str):
            return self.text(value, path)
        if isinstance(value, dict):
            return {k: self.values(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.values(v, path + (i,)) for i, v in enumerate(value)]
        return value

    def text(self, value: str, path: Path) -> str:
        """`${TAG:-1}` -> `${variables.TAG}` (declared with default 1); `$$` -> `$`; a literal `${` -> `$${`."""
        try:
            items = tokens(value)
        except EnvSyntaxError as exc:
            self.note(path, f"{exc.message}: written as plain text")
            return value.replace("${", "$${")
        out = ""
        for item in items:
            if isinstance(item, str):
                out += literal(item)
                continue
            piece = self.reference(item, path)
            if out.endswith("$") and piece.startswith("${"):
                self.note(path, f"a '$' right before {item.text} cannot be written in quayform (it would read "
                                "as '$${'): the '$' is left out")
                out = out[:-1]
            out += piece
        return out

    def reference(self, var: Var, path: Path) -> str:
        if var.op in (":+", "+"):
            self.note(path, f"{var.text}: compose's alternative-value form has no quayform spelling; its "
                            "replacement is written as if the variable were set")
            return self.text(_plain(var.arg), path)
        key = self.variable(var, path)
        return f"${{variables.{key}}}"

    def variable(self, var: Var, path: Path) -> str:
        """Declare the variable a compose interpolation reads (its default, if it has one)."""
        key = var.name.lstrip("_")
        if key != var.name:
            self.note(path, f"{var.text}: the variable is named {key!r} (a name starts with a letter or digit)")
        default = ""
        if var.op in (":-", "-"):
            if any(isinstance(item, Var) for item in var.arg):
                self.note(path, f"{var.text}: a default made of other variables cannot be carried (a quayform "
                                "variable's value is plain text): its default is empty")
            else:
                default = _plain(var.arg)
        elif var.op in (":?", "?"):
            self.note(path, f"{var.text}: compose requires this variable; a quayform variable always has a value "
                            f"(empty here): give it one with --var {key}=..., QUAYFORM_VAR_{key}, --var-file or .env")
        if key in self.variables and default and self.variables[key] != default:
            self.note(path, f"{var.text}: variables.{key} already has the default {self.variables[key]!r} "
                            "from an earlier line; quayform keeps one default per variable")
        elif key not in self.variables or (default and not self.variables[key]):
            self.variables[key] = default
        if _SECRETISH.search(key) and ("variables", key) not in self._explained:
            self._explained.add(("variables", key))
            self.note(path, f"{var.text} looks like a secret, but quayform shows variables in plans: declare it "
                            f"under secrets: ({{env: {key}}} or {{file: ...}}) and write ${{secrets.{key}}} in env "
                            "values")
        return key


def _plain(items: tuple) -> str:
    return "".join(item if isinstance(item, str) else item.text for item in items)


_TOP_LEVEL_WHY = {
    "include": "quayform reads one file: convert each included file, or merge them first with "
               "`docker compose config`",
    "models": "quayform runs containers only",
}

HEADER = ("# Written by `quayform convert` from {file}. What it could not carry was listed when it ran;\n"
          "# docs/compose.md explains how compose's concepts map to quayform's.\n")


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors, multi-line text as `|` blocks, numbers as they were written; text that
    either YAML 1.1 or 1.2 would read as something else (`no`, `0o17`, `1e3`) is quoted."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


for _name, _regex, _first in _RESOLVERS:
    _Dumper.add_implicit_resolver("tag:yaml.org,2002:" + _name, re.compile(_regex), list(_first))


def _text_node(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not value.startswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list_node(dumper: yaml.SafeDumper, value: list) -> yaml.Node:
    flat = all(isinstance(item, (str, int, float)) and "\n" not in str(item) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat and bool(value))


_Dumper.add_representer(str, _text_node)
_Dumper.add_representer(list, _list_node)
_Dumper.add_representer(YamlInt, lambda d, v: d.represent_scalar("tag:yaml.org,2002:int", v.text))
_Dumper.add_representer(YamlFloat, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", v.text))


def dump(data: Any) -> str:
    """The spec as YAML that reads back the same under quayform's YAML 1.2 rules."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000,
                     default_flow_style=False)
