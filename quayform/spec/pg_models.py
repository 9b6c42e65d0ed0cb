"""The PostgreSQL parts of the spec beyond a role's and a database's flags: schemas, privileges on what
is inside a schema, default privileges, PUBLIC's privileges, settings, extensions and the drop policy.

Privilege lists are parsed here into PostgreSQL's own words, upper case, `ALL` expanded for the class
of object it is given for, sorted and without repeats, so the kinds compare them as they are.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag

from quayform.spec.model_base import Key, Lifecycle, Model, _to_text

# What each class of object can be granted (PostgreSQL 15's words; ALL means all of them).
SCHEMA_PRIVILEGES = ("CREATE", "USAGE")
TABLE_PRIVILEGES = ("DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE")
SEQUENCE_PRIVILEGES = ("SELECT", "UPDATE", "USAGE")
FUNCTION_PRIVILEGES = ("EXECUTE",)
DATABASE_PRIVILEGES = ("CONNECT", "CREATE", "TEMPORARY")
CLASS_PRIVILEGES = {"schema": SCHEMA_PRIVILEGES, "tables": TABLE_PRIVILEGES, "sequences": SEQUENCE_PRIVILEGES,
                    "functions": FUNCTION_PRIVILEGES}
# Settings whose value is a list of names PostgreSQL quotes one by one (GUC_LIST_QUOTE).
LIST_SETTINGS = ("search_path", "temp_tablespaces", "session_preload_libraries", "shared_preload_libraries",
                 "local_preload_libraries")
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*$")


def privilege_list(allowed: tuple[str, ...], what: str) -> Any:
    """A validator: a privilege or a list of them, any case, ALL (and TEMP) expanded, sorted and unique."""

    def parse(value: Any) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValueError(f"give a list of {what} privileges, e.g. [{allowed[0]}]")
        out: set[str] = set()
        for item in value:
            word = item.upper() if isinstance(item, str) else item
            if word == "ALL":
                out |= set(allowed)
            elif word == "TEMP" and "TEMPORARY" in allowed:
                out.add("TEMPORARY")
            elif word in allowed:
                out.add(word)
            else:
                raise ValueError(f"{item!r} is not a privilege on {what} (one of {', '.join(allowed)}, or ALL)")
        return sorted(out)

    return BeforeValidator(parse)


SchemaPrivilegeList = Annotated[list[str], privilege_list(SCHEMA_PRIVILEGES, "a schema")]
TablePrivilegeList = Annotated[list[str], privilege_list(TABLE_PRIVILEGES, "tables")]
SequencePrivilegeList = Annotated[list[str], privilege_list(SEQUENCE_PRIVILEGES, "sequences")]
FunctionPrivilegeList = Annotated[list[str], privilege_list(FUNCTION_PRIVILEGES, "functions")]
DatabasePrivilegeList = Annotated[list[str], privilege_list(DATABASE_PRIVILEGES, "a database")]


def _names(value: Any) -> Any:
    """One role (a users key or a role name) or a list of them."""
    return [value] if isinstance(value, str) else value


RoleNames = Annotated[list[Annotated[str, Field(min_length=1, max_length=63)]], BeforeValidator(_names)]


class SchemaPrivileges(Model):
    """What one role may do in one schema: on the schema itself and on every object of a class in it."""

    schema_: SchemaPrivilegeList = Field(default_factory=list, alias="schema")
    tables: TablePrivilegeList = Field(default_factory=list)
    sequences: SequencePrivilegeList = Field(default_factory=list)
    functions: FunctionPrivilegeList = Field(default_factory=list)

    def by_class(self) -> dict[str, list[str]]:
        return {"schema": self.schema_, "tables": self.tables, "sequences": self.sequences,
                "functions": self.functions}


class DefaultPrivileges(Model):
    """What one role is granted on objects that other roles (`for`) create later in one schema."""

    for_: RoleNames = Field(default_factory=list, alias="for")  # default: the schema's owner
    tables: TablePrivilegeList = Field(default_factory=list)
    sequences: SequencePrivilegeList = Field(default_factory=list)
    functions: FunctionPrivilegeList = Field(default_factory=list)

    def by_class(self) -> dict[str, list[str]]:
        return {"tables": self.tables, "sequences": self.sequences, "functions": self.functions}


class ReassignTo(Model):
    reassign_to: str = Field(min_length=1, max_length=63)  # a users key or a role name


def _on_drop(value: Any) -> Any:
    if value == "refuse" or isinstance(value, dict):
        return value
    raise ValueError("on_drop is `refuse` or {reassign_to: USER}")


OnDrop = Annotated[Literal["refuse"] | ReassignTo, BeforeValidator(_on_drop)]


def _setting_value(value: Any) -> Any:
    if isinstance(value, list):
        items = [_to_text(v) for v in value]
        if not all(isinstance(v, str) for v in items):
            raise ValueError("a setting's list holds plain values")
        return items
    value = _to_text(value)
    if not isinstance(value, str):
        raise ValueError("a setting is a value or a list of values")
    return value


SettingValue = Annotated[str | list[str], BeforeValidator(_setting_value)]


def _settings(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for name, item in value.items():
        if not isinstance(name, str) or not SETTING_NAME.match(name):
            raise ValueError(f"{name!r} is not a PostgreSQL setting name")
        if "\0" in str(item):
            raise ValueError(f"{name}: a setting cannot hold a NUL character")
    return {name.lower(): item for name, item in value.items()}


Settings = Annotated[dict[str, SettingValue], BeforeValidator(_settings)]


def parse_valid_until(value: Any) -> Any:
    """`infinity`, a date or an ISO timestamp (UTC unless it says otherwise) -> `YYYY-MM-DDTHH:MM:SSZ`."""
    if value is None:
        return None
    text = _to_text(value)
    if not isinstance(text, str):
        raise ValueError("valid_until is a date, a timestamp or `infinity`")
    if text.strip().lower() == "infinity":
        return "infinity"
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date or an ISO timestamp (e.g. 2030-01-31 or 2030-01-31T12:00:00+02:00)"
                         ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


ValidUntil = Annotated[str | None, BeforeValidator(parse_valid_until)]


class Extension(Model):
    """An extension's version (ALTER EXTENSION ... UPDATE TO) and schema (ALTER EXTENSION ... SET SCHEMA)."""

    version: Annotated[str | None, BeforeValidator(_to_text)] = Field(default=None, min_length=1)
    schema_: str | None = Field(default=None, alias="schema", min_length=1, max_length=63)


ExtensionName = Annotated[str, Field(min_length=1, max_length=63)]
# [pg_trgm, "uuid-ossp"], or {postgis: {version: "3.4.0", schema: gis}, pg_trgm: }: either is a map name ->
# Extension once validated. Each shape is validated as itself (no union noise), as networks are.
Extensions = Annotated[
    Union[Annotated[list[ExtensionName], Tag("(list)")],
          Annotated[dict[ExtensionName, Annotated[Extension, BeforeValidator(lambda v: {} if v is None else v)]],
                    Tag("(mapping)")]],
    Discriminator(lambda v: "(list)" if isinstance(v, (list, tuple)) else "(mapping)" if isinstance(v, dict) else None,
                  custom_error_type="extensions",
                  custom_error_message="give a list of extension names, or a map of name -> {version, schema}"),
    AfterValidator(lambda v: {name: Extension() for name in v} if isinstance(v, list) else v)]


class DatabasePublic(Model):
    """What PUBLIC (every role) may do: on the database, and in its schema `public`."""

    database: DatabasePrivilegeList | None = None  # default: PostgreSQL's, CONNECT and TEMPORARY
    public_schema: SchemaPrivilegeList | None = None  # default: the server's (USAGE; before 15 also CREATE)


class Schema(Model):
    """A schema inside one of the spec's databases."""

    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    server: Key | None = None  # the database's server (given or not)
    database: Key
    name: str | None = Field(default=None, min_length=1, max_length=63)
    owner: Key | None = None  # default: the database's owner
