"""The io.quayform.* labels that make Docker objects carry their own state, and keyed digests."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from quayform.sensitive import Sensitive

PREFIX = "io.quayform."
STACK = PREFIX + "stack"
ADDRESS = PREFIX + "address"
FILES = PREFIX + "files"
MARKER = PREFIX + "marker"  # quayform's own bookkeeping objects (import markers)
IMPORT_ID = PREFIX + "import-id"
PREVENT_DESTROY = PREFIX + "prevent-destroy"
SENSITIVE_ENV = PREFIX + "sensitive-env"  # names (never values) of env vars that hold secrets


def _canonical(value: Any, salt: bytes) -> Any:
    if isinstance(value, Sensitive):
        return {"sensitive": hmac.new(salt, value.reveal().encode(), hashlib.sha256).hexdigest()}
    if isinstance(value, dict):
        return {str(k): _canonical(v, salt) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, salt) for v in value]
    return value


def fingerprint(value: Any, salt: bytes) -> str:
    """A keyed digest of a form (secrets included), for saved plans: equal forms, equal digests."""
    text = json.dumps(_canonical(value, salt), sort_keys=True, default=str)
    return hmac.new(salt, text.encode(), hashlib.sha256).hexdigest()


def content_digest(address: str, path: str, content: str) -> str:
    """Digest of a file's content, salted with where it goes, so equal secrets do not look equal."""
    return hashlib.sha256(f"{address}\0{path}\0{content}".encode()).hexdigest()[:32]


def ours(labels: dict[str, str] | None) -> dict[str, str]:
    """Labels with quayform's own removed (what the user declared)."""
    return {k: v for k, v in (labels or {}).items() if not k.startswith(PREFIX)}
