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
DYING_ID = PREFIX + "dying-id"  # on a marker volume: the container an apply was deleting (see container delete)
PREVENT_DESTROY = PREFIX + "prevent-destroy"
SENSITIVE_ENV = PREFIX + "sensitive-env"  # names (never values) of env vars that hold secrets


def slow_digest(secret: str, salt: bytes) -> str:
    """A deliberately slow, salted digest of a secret (scrypt): what a saved plan may hold of it.

    The salt sits in the plan file beside the digest, so a fast hash would let anyone holding
    the file test guesses of the secret offline at speed; scrypt makes each guess cost.
    """
    return hashlib.scrypt(secret.encode("utf-8", "surrogatepass"), salt=salt, n=2 ** 14, r=8, p=1, dklen=32).hex()


def _canonical(value: Any, salt: bytes, seen: dict[str, str]) -> Any:
    if isinstance(value, Sensitive):
        secret = value.reveal()
        if secret not in seen:
            seen[secret] = slow_digest(secret, salt)
        return {"sensitive": seen[secret]}
    if isinstance(value, dict):
        return {str(k): _canonical(v, salt, seen) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, salt, seen) for v in value]
    return value


def fingerprint(value: Any, salt: bytes, seen: dict[str, str] | None = None) -> str:
    """A keyed digest of a form for saved plans: equal forms, equal digests; secrets enter only slowly
    digested (`seen` shares those digests between the forms of one plan)."""
    text = json.dumps(_canonical(value, salt, seen if seen is not None else {}), sort_keys=True, default=str)
    return hmac.new(salt, text.encode(), hashlib.sha256).hexdigest()


def content_digest(address: str, path: str, content: str) -> str:
    """Digest of a file's content, salted with where it goes, so equal secrets do not look equal."""
    return hashlib.sha256(f"{address}\0{path}\0{content}".encode()).hexdigest()[:32]


def ours(labels: dict[str, str] | None) -> dict[str, str]:
    """Labels with quayform's own removed (what the user declared)."""
    return {k: v for k, v in (labels or {}).items() if not k.startswith(PREFIX)}
