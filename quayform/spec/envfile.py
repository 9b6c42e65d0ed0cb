"""`.env` files as docker compose reads them, and compose's `$VAR` / `${VAR:-default}` interpolation.

Pure: text in, entries or tokens out. load.py reads a spec's `.env` and `--var-file` files with
`parse_env`; convert.py reads a compose file's `env_file`s with it and translates compose's
interpolation (`tokens`) into quayform's `${variables.NAME}`. Messages name lines and variable
names, never values: a `.env` file often holds passwords.

The syntax (compose's documented rules): `#` comment lines and blank lines are skipped; a line is
`[export ]NAME=VALUE` (or `NAME: VALUE`); spaces around the name and the value are dropped; an
unquoted value ends at a ` #` comment; a single-quoted value is literal (`\\'` is a quote); a
double-quoted value knows `\\n`, `\\r`, `\\t`, `\\\\` and `\\"`; quoted values may span lines; a
comment may follow the closing quote; unquoted and double-quoted values are interpolated; a bare
`NAME` takes its value from the environment when it is set there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Union

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[A-Za-z0-9_.]+")
_OPS = (":-", ":?", ":+", "-", "?", "+")
_SPACE = re.compile(r"\s*")
_BLANKS = re.compile(r"[ \t]*")
_EXPORT = re.compile(r"export[ \t]+(?=[A-Za-z0-9_.])")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}


class EnvSyntaxError(ValueError):
    """A line of a `.env` file, or an interpolation, that cannot be read; `line` is 1-based."""

    def __init__(self, message: str, line: int | None = None, name: str = ""):
        super().__init__(message)
        self.message, self.line, self.name = message, line, name


@dataclass(frozen=True)
class Var:
    """One compose interpolation: `$NAME`, `${NAME}` or `${NAME<op><arg>}`."""

    name: str
    op: str  # "" or one of _OPS
    arg: tuple["Token", ...]
    text: str  # as written, for messages


Token = Union[str, Var]


@dataclass(frozen=True)
class Entry:
    """NAME=VALUE as read from a `.env` file, with the line the statement starts on."""

    name: str
    value: str
    line: int
    from_environ: tuple[str, ...] = ()  # the environment variables its value was read from


# --------------------------------------------------------------------------- interpolation

def tokens(text: str) -> list[Token]:
    """Literal text and `Var`s, in order (`$$` is a literal `$`); EnvSyntaxError on a malformed `${`."""
    out, _ = _tokens(text, 0, nested=False)
    return out


def _tokens(text: str, pos: int, nested: bool) -> tuple[list[Token], int]:
    out: list[Token] = []
    literal = ""
    while pos < len(text):
        char = text[pos]
        if nested and char == "}":
            break
        if char != "$":
            literal, pos = literal + char, pos + 1
            continue
        if text.startswith("$$", pos):
            literal, pos = literal + "$", pos + 2
            continue
        name = _NAME.match(text, pos + 1)
        if name:
            out += [literal] if literal else []
            out.append(Var(name.group(), "", (), "$" + name.group()))
            literal, pos = "", name.end()
            continue
        if not text.startswith("${", pos):
            literal, pos = literal + char, pos + 1
            continue
        var, pos = _braced(text, pos)
        out += [literal] if literal else []
        out.append(var)
        literal = ""
    out += [literal] if literal else []
    return out, pos


def _braced(text: str, start: int) -> tuple[Var, int]:
    name = _NAME.match(text, start + 2)
    end = text.find("}", start)
    shown = text[start:end + 1] if end >= 0 else text[start:]
    if not name:
        raise EnvSyntaxError(f"{shown} is not a valid interpolation (expected ${{NAME}} or ${{NAME:-default}})")
    pos = name.end()
    if text.startswith("}", pos):
        return Var(name.group(), "", (), text[start:pos + 1]), pos + 1
    op = next((o for o in _OPS if text.startswith(o, pos)), None)
    if op is None:
        raise EnvSyntaxError(f"{shown} is not a valid interpolation (expected ${{NAME}} or ${{NAME:-default}})")
    arg, pos = _tokens(text, pos + len(op), nested=True)
    if not text.startswith("}", pos):
        raise EnvSyntaxError(f"unterminated '${{' in {text[start:]!r}")
    return Var(name.group(), op, tuple(arg), text[start:pos + 1]), pos + 1


def expand(items: list[Token] | tuple[Token, ...], lookup: Callable[[str], str | None]) -> str:
    """Compose's meaning of the tokens, names read with `lookup` (None: not set)."""
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
            continue
        value = lookup(item.name)
        given = value is not None and (value != "" or ":" not in item.op)
        if item.op == "":
            out.append(value or "")
        elif item.op in (":-", "-"):
            out.append(value if given else expand(item.arg, lookup))
        elif item.op in (":+", "+"):
            out.append(expand(item.arg, lookup) if given else "")
        elif not given:
            message = expand(item.arg, lookup) or "not set"
            raise EnvSyntaxError(f"{item.name} is required ({message})")
        else:
            out.append(value)
    return "".join(out)


# --------------------------------------------------------------------------- .env files

def parse_env(text: str, lookup: Callable[[str], str | None] | None = None) -> list[Entry]:
    """Every NAME=VALUE of a `.env` text, in order (a name given twice appears twice: the last wins).

    With `lookup`, unquoted and double-quoted values are interpolated, names read from `lookup`
    first and then from the entries above; a bare `NAME` is taken from `lookup`. Without it (a
    compose `env_file`), values are taken literally and a bare `NAME` is left out.
    """
    reader = _Reader(text)
    entries: list[Entry] = []
    earlier: dict[str, str] = {}
    read: list[str] = []

    def resolve(name: str) -> str | None:
        found = lookup(name) if lookup else None
        if found is not None:
            read.append(name)
            return found
        return earlier.get(name)

    while reader.next_statement():
        line = reader.line
        name, inherited = reader.key()
        read.clear()
        if inherited:
            value = resolve(name) if lookup and name not in earlier else None
            if value is None:
                continue
        else:
            raw, quote = reader.value(name)
            try:
                value = expand(tokens(raw), resolve) if lookup and quote != "'" else raw
            except EnvSyntaxError as exc:
                raise EnvSyntaxError(exc.message, line, name) from None
        entries.append(Entry(name, value, line, tuple(dict.fromkeys(read))))
        earlier[name] = value
    return entries


class _Reader:
    """A cursor over `.env` text that keeps count of lines."""

    def __init__(self, text: str):
        self.text = text.replace("\r\n", "\n")
        self.pos = 0
        self.line = 1

    def _advance(self, to: int) -> None:
        self.line += self.text.count("\n", self.pos, to)
        self.pos = to

    def _rest_of_line(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        piece = self.text[self.pos:end]
        self._advance(end)
        return piece

    def next_statement(self) -> bool:
        """Skip blank and comment lines; False at the end of the text."""
        while True:
            match = _SPACE.match(self.text, self.pos)
            self._advance(match.end())
            if self.pos >= len(self.text):
                return False
            if self.text[self.pos] != "#":
                return True
            self._rest_of_line()

    def key(self) -> tuple[str, bool]:
        """The name, and whether the line is a bare name (inherited from the environment)."""
        export = _EXPORT.match(self.text, self.pos)
        if export:
            self._advance(export.end())
        match = _KEY.match(self.text, self.pos)
        if not match:
            raise EnvSyntaxError("expected NAME=VALUE (a name is letters, digits, '_' and '.')", self.line)
        name = match.group()
        self._advance(match.end())
        spaces = _BLANKS.match(self.text, self.pos)
        self._advance(spaces.end())
        if self.pos >= len(self.text) or self.text[self.pos] == "\n":
            return name, True
        if self.text[self.pos] not in "=:":
            raise EnvSyntaxError(f"expected '=' after {name} (a name is letters, digits, '_' and '.')",
                                 self.line, name)
        self._advance(self.pos + 1)
        return name, False

    def value(self, name: str) -> tuple[str, str]:
        """The raw value after the '=' and its quote ('', "'" or '"'); escapes undone in quoted ones."""
        start_line = self.line
        spaces = _BLANKS.match(self.text, self.pos)
        if self.text.startswith("#", spaces.end()) and spaces.end() > self.pos:
            self._rest_of_line()
            return "", ""
        self._advance(spaces.end())
        quote = self.text[self.pos] if self.pos < len(self.text) and self.text[self.pos] in "'\"" else ""
        if not quote:
            raw = re.split(r"[ \t]#", self._rest_of_line(), maxsplit=1)[0]
            return raw.strip(), ""
        value, end = _quoted(self.text, self.pos, quote)
        if end < 0:
            raise EnvSyntaxError(f"the value of {name} has no closing {quote}", start_line, name)
        self._advance(end)
        trailing = self._rest_of_line().strip()
        if trailing and not trailing.startswith("#"):
            raise EnvSyntaxError(f"unexpected text after the closing {quote} of {name}'s value", self.line, name)
        return value, quote


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """The inside of a quoted value starting at `start`, escapes undone; (value, -1) if unterminated."""
    out = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            following = text[pos + 1]
            if following == quote:
                out.append(quote)
            elif quote == '"' and following in _ESCAPES:
                out.append(_ESCAPES[following])
            else:
                out.append(char + following)
            pos += 2
            continue
        if char == quote:
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    return "".join(out), -1
