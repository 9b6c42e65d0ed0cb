"""Substitute `${...}` references throughout a raw spec and collect the edges they imply.

Runs on the plain data from the YAML loader, before pydantic, so a reference can fill
any string (a port, an image tag). Secrets become Sensitive and are allowed only where
a secret can live: env values, file contents and outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from quayform.errors import SpecProblem
from quayform.kinds import REGISTRY, TARGET_SECTIONS
from quayform.later import join
from quayform.sensitive import Sensitive
from quayform.spec.refs import Ref, RefSyntaxError, substitute
from quayform.spec.secrets import inside_dir, read_regular_file
from quayform.spec.yaml_loader import LoadedYaml, Path, format_path

def _secret_allowed(path: Path) -> bool:
    """Secrets may appear in outputs and where the resource's kind says they may."""
    if path[:1] == ("outputs",):
        return True
    if len(path) >= 3 and path[0] in TARGET_SECTIONS:
        return TARGET_SECTIONS[path[0]].secret_allowed(path[2:])
    return len(path) >= 3 and path[0] in REGISTRY and REGISTRY[path[0]].secret_allowed(path[2:])


@dataclass
class Resolver:
    """Everything a reference can resolve to, plus the problems and edges found so far."""

    raw: dict[str, Any]
    loaded: LoadedYaml
    file: str
    base_dir: str
    variables: Mapping[str, str]
    secrets: Mapping[str, Sensitive]
    problems: list[SpecProblem] = field(default_factory=list)
    edges: set[tuple[str, str]] = field(default_factory=set)
    edge_paths: dict[tuple[str, str], Path] = field(default_factory=dict)  # where each edge was first written
    edge_attrs: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # the attributes each edge uses
    _resolving: set[str] = field(default_factory=set)

    def problem(self, path: Path, message: str, line: int | None = None, file: str | None = None) -> None:
        line = line if line is not None else self.loaded.line_of(path)
        self.problems.append(SpecProblem(file or self.file, line, format_path(path), message))

    def _section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        return value if isinstance(value, dict) else {}

    def resource_name(self, section: str, key: str) -> str:
        return REGISTRY[section].raw_name(key, self._section(section).get(key), self)

    def nested(self, what: str, value: str) -> str | Sensitive:
        """Resolve a value that another reference points at (a name with ${variables...}); no loops."""
        if what in self._resolving:
            raise LookupError(f"${{{what}}} refers back to itself")
        self._resolving.add(what)
        try:
            return substitute(value, self.lookup)
        finally:
            self._resolving.discard(what)

    def lookup(self, ref: Ref) -> str | Sensitive:
        if ref.section == "variables":
            if ref.key not in self.variables:
                raise LookupError(f"{ref} names no variable {ref.key!r}")
            return self.variables[ref.key]
        if ref.section == "secrets":
            if ref.key not in self._section("secrets"):
                raise LookupError(f"{ref} names no secret {ref.key!r}")
            return self.secrets.get(ref.key, Sensitive(""))
        if ref.key not in self._section(ref.section):
            raise LookupError(f"{ref} names no resource {ref.section}.{ref.key}")
        if ref.attr != "name":
            entry = self._section(ref.section).get(ref.key)
            return REGISTRY[ref.section].resolve_reference(ref.attr, ref.key, entry, self)
        return self.resource_name(ref.section, ref.key)

    def text(self, value: str, path: Path, line: int | None = None, file: str | None = None) -> Any:
        """Substitute one string; report problems at `path` and record the edges."""
        owner = f"{path[0]}.{path[1]}" if len(path) >= 2 and path[0] in REGISTRY else None

        def resolve(ref: Ref) -> str | Sensitive:
            result = self.lookup(ref)
            if owner and ref.section in REGISTRY and f"{ref.section}.{ref.key}" != owner:
                self.edges.add((f"{ref.section}.{ref.key}", owner))
                self.edge_paths.setdefault((f"{ref.section}.{ref.key}", owner), tuple(path))
                self.edge_attrs.setdefault((f"{ref.section}.{ref.key}", owner), set()).add(ref.attr or "name")
            return result

        try:
            result = substitute(value, resolve)
        except (RefSyntaxError, LookupError) as exc:
            self.problem(path, str(exc.args[0]), line, file)
            return value
        if isinstance(result, Sensitive) and not _secret_allowed(path):
            self.problem(path, "secrets can only be used in env values, file contents and outputs", line, file)
            return value
        return result

    def walk(self, value: Any, path: Path) -> Any:
        if isinstance(value, str):
            return self.text(value, path)
        if isinstance(value, dict):
            return {k: self.walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, path + (i,)) for i, v in enumerate(value)]
        return value

    def render_template(self, relative: str, path: Path) -> Any:
        """Read a template next to the spec and substitute its references (errors give its own lines)."""
        try:
            full = inside_dir(self.base_dir, relative)
            if not os.path.lexists(full):
                raise ValueError(f"cannot read template {relative}: No such file or directory")
            lines = read_regular_file(full, f"template {relative}").splitlines(keepends=True)
        except ValueError as exc:  # outside the folder, missing, not a regular file, unreadable
            self.problem(path + ("template",), str(exc).replace("file template ", "template "))
            return None
        template_file = os.path.join(os.path.dirname(self.file), relative)
        rendered = [self.text(line, path + ("content",), number, template_file) for number, line in enumerate(lines, 1)]
        return join(rendered)

    def files(self, files: Any, path: Path) -> Any:
        if not isinstance(files, dict):
            return files
        out = {}
        for target, entry in files.items():
            entry_path = path + (target,)
            if isinstance(entry, dict) and "template" in entry:
                if "content" in entry:
                    self.problem(entry_path, "give either content or template, not both")
                    out[target] = entry
                    continue
                template = entry["template"]
                rendered = self.render_template(template, entry_path) if isinstance(template, str) else None
                out[target] = {**self.walk({k: v for k, v in entry.items() if k != "template"}, entry_path),
                               "template": template, "content": rendered if rendered is not None else ""}
            else:
                out[target] = self.walk(entry, entry_path)
        return out

    def resolve_all(self) -> dict[str, Any]:
        """The raw spec with every reference in resources and outputs substituted."""
        result = dict(self.raw)
        for kind in REGISTRY:
            body = self.raw.get(kind.section)
            if isinstance(body, dict):
                result[kind.section] = {key: kind.resolve_entry(entry, (kind.section, key), self)
                                        for key, entry in body.items()}
        for name, section in TARGET_SECTIONS.items():
            if section.references and isinstance(self.raw.get(name), dict):
                result[name] = {key: self.walk(entry, (name, key)) for key, entry in self.raw[name].items()}
        if isinstance(self.raw.get("outputs"), dict):
            result["outputs"] = {key: self.walk(entry, ("outputs", key)) for key, entry in self.raw["outputs"].items()}
        return result
