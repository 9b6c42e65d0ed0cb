"""The io.quayform.* labels that make Docker objects carry their own state."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from quayform.sensitive import Sensitive

PREFIX = "io.quayform."
STACK = PREFIX + "stack"
ADDRESS = PREFIX + "address"
CONFIG_HASH = PREFIX + "config-hash"
FILES = PREFIX + "files"
PREVENT_DESTROY = PREFIX + "prevent-destroy"
SENSITIVE_ENV = PREFIX + "sensitive-env"  # names (never values) of env vars that hold secrets


def _canonical(value: Any) -> Any:
    if isinstance(value, Sensitive):
        return {"sensitive": value.digest()}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def config_hash(desired: dict[str, Any]) -> str:
    """A fingerprint of a desired configuration; secrets enter only as salted digests."""
    text = json.dumps(_canonical(desired), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def content_digest(address: str, path: str, content: str) -> str:
    """Digest of a file's content, salted with where it goes, so equal secrets do not look equal."""
    return hashlib.sha256(f"{address}\0{path}\0{content}".encode()).hexdigest()[:32]


def lifecycle_labels(desired: dict[str, Any]) -> dict[str, str]:
    """Labels that make a resource's guards survive its removal from the spec."""
    return {PREVENT_DESTROY: "true"} if desired.get("_prevent_destroy") else {}


def ours(labels: dict[str, str] | None) -> dict[str, str]:
    """Labels with quayform's own removed (what the user declared)."""
    return {k: v for k, v in (labels or {}).items() if not k.startswith(PREFIX)}
