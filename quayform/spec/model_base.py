"""What every spec model shares: the strict base model, keys, text that may hold secrets, lifecycles."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from quayform.sensitive import Sensitive
from quayform.spec import values

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
STACK_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
DOCKER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

Key = Annotated[str, Field(pattern=KEY_PATTERN)]
DockerName = Annotated[str, Field(pattern=DOCKER_NAME_PATTERN)]


def _to_text(value: Any) -> Any:
    """Scalars a user writes unquoted (numbers, booleans) become the text they meant."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return getattr(value, "text", None) or str(value)
    return value


def _check_text(value: Any) -> Any:
    value = _to_text(value)
    if value is None:
        raise ValueError("a value is required (write \"\" for an empty string)")
    if not isinstance(value, (str, Sensitive)):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


Text = Annotated[str, BeforeValidator(_to_text)]
SecretText = Annotated[Any, BeforeValidator(_check_text)]  # str or Sensitive
Duration = Annotated[int, BeforeValidator(values.parse_duration)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Lifecycle(Model):
    """Terraform-style guards: refuse to delete, ignore some drift, or replace without downtime."""

    prevent_destroy: bool = False
    ignore_changes: list[str] = Field(default_factory=list)
    create_before_destroy: bool = False
