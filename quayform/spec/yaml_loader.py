"""Load YAML the way YAML 1.2 reads it, keeping the line of every key.

PyYAML implements YAML 1.1, where `22:22` is the number 1342, `no` is False and
`0600` is 384. Specs are written by people who mean what they typed, so this loader
resolves plain scalars with the YAML 1.2 core schema instead, reads numbers with a
leading zero as strings (`mode: 0600` stays "0600"), rejects duplicate keys (naming
both lines) and any tag that is not a plain YAML type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from quayform.errors import SpecProblem

Path = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
# Bounds against hostile input: a spec is read whole, and aliases expand into copies.
MAX_BYTES = 8 * 1024 * 1024
MAX_VALUES = 250_000


class _TooLarge(Exception):
    pass
_ALLOWED_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


def _keeping_text(base: type) -> type:
    """A subclass of int or float whose values remember the text they were written as."""

    class Number(base):  # type: ignore[valid-type, misc]
        text: str

        def __new__(cls, value: Any, text: str) -> Any:
            obj = super().__new__(cls, value)
            obj.text = text
            return obj

    return Number


class YamlInt(_keeping_text(int)):  # type: ignore[misc]
    """An int that remembers how it was written (so `mode: 600` can be told from `0o600`)."""


class YamlFloat(_keeping_text(float)):  # type: ignore[misc]
    """A float that remembers how it was written (so `tag: 15.10` stays "15.10" as text)."""


class _Core12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema implicit resolvers (and PyYAML's own error messages)."""


class _FastCore12Loader(getattr(yaml, "CSafeLoader", _Core12Loader)):  # type: ignore[misc]
    """The same resolvers on libyaml's parser, about 7x faster; used until a spec fails to parse."""


_Core12Loader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("merge", r"^(?:<<)$", "<"),
]
_FastCore12Loader.yaml_implicit_resolvers = {}
for _name, _regex, _first in _RESOLVERS:
    for _loader in {_Core12Loader, _FastCore12Loader}:
        _loader.add_implicit_resolver(_TAG + _name, re.compile(_regex), list(_first))


@dataclass
class LoadedYaml:
    """Plain Python data plus the 1-based line of every key path."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.lines: dict[Path, int] = {}
        self.problems: list[SpecProblem] = []
        self.values = 0

    def problem(self, node: yaml.Node, path: Path, message: str) -> None:
        self.problems.append(SpecProblem(self.file, node.start_mark.line + 1, format_path(path), message))

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooLarge(node.start_mark.line + 1)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _TAG + "seq":
                self.problem(node, path, f"YAML tag {node.tag!r} is not allowed here")
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            self.problem(node, path, f"YAML tag {node.tag!r} is not allowed here")
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                explicit_lines = dict(self.lines)
                merged.update(self._merge_sources(value_node, path))
                self.lines.update(explicit_lines)  # keys written out keep their own lines
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, path, "a key must be a plain scalar")
                continue
            key = str(self._scalar(key_node, path))
            line = key_node.start_mark.line + 1
            if key in seen:
                self.problem(key_node, path + (key,), f"duplicate key {key!r} (first defined on line {seen[key]})")
                continue
            seen[key] = line
            self.lines[path + (key,)] = line
            result[key] = self.build(value_node, path + (key,))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_sources(self, node: yaml.Node, path: Path) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self.problem(source, path, "'<<' merges only mappings")
                continue
            merged.update(self._mapping(source, path))
        return merged

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if node.tag not in _ALLOWED_SCALAR_TAGS:
            self.problem(node, path, f"YAML tag {node.tag!r} is not allowed (only plain strings, numbers, booleans, null)")
            return None
        text = node.value
        kind = node.tag[len(_TAG):]
        try:
            if kind == "int":
                return YamlInt(int(text, 0) if text[:2] in ("0o", "0x") else int(text, 10), text)
            if kind == "float":
                return YamlFloat(float(text.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf")
                             .replace(".nan", "nan").replace(".NaN", "nan").replace(".NAN", "nan")), text)
            if kind == "bool":
                return text.lower() == "true"
            if kind == "null":
                return None
        except ValueError:
            self.problem(node, path, f"{text!r} is not a valid {kind}")
            return None
        return text


def format_path(path: Path) -> str:
    """('containers', 'quay', 'ports', 1) -> 'containers.quay.ports[1]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
            out += f"[{str(part)!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_yaml(text: str, file: str) -> LoadedYaml:
    """Parse one YAML document; raise SpecError naming file and line on any defect."""
    from quayform.errors import SpecError

    if len(text) > MAX_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecError([SpecProblem(file, None, "", f"the spec is larger than {MAX_BYTES // (1024 * 1024)} MiB; "
                                                     "quayform reads specs of at most that size")])
    try:
        node = yaml.compose(text, Loader=_FastCore12Loader)
    except yaml.YAMLError:
        node = None  # parse again below with the pure-Python parser, whose messages are clearer
    else:
        return _built(node, file)
    try:
        node = yaml.compose(text, Loader=_Core12Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(filter(None, [exc.context, exc.problem]))
        raise SpecError([SpecProblem(file, line, "", f"invalid YAML: {message}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(file, None, "", f"invalid YAML: {exc}")]) from None
    return _built(node, file)


def _built(node: yaml.Node | None, file: str) -> LoadedYaml:
    from quayform.errors import SpecError

    if node is None:
        return LoadedYaml(None)
    builder = _Builder(file)
    try:
        data = builder.build(node, ())
    except _TooLarge as exc:
        raise SpecError([SpecProblem(file, exc.args[0], "", f"the spec expands to more than {MAX_VALUES} values "
                                                            "(aliases of aliases?); refusing to read it")]) from None
    if builder.problems:
        raise SpecError(builder.problems)
    return LoadedYaml(data, builder.lines)
