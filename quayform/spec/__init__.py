"""Spec loading: YAML file -> validated, reference-substituted `Spec` (see load.py).

`load_spec` is the only entry point. Its names are resolved on first use, so that a kind
module can import `quayform.spec.models` without loading the whole loader (which itself
consults the kind registry).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Spec", "load_spec"]


def __getattr__(name: str) -> Any:
    if name == "load_spec":
        from quayform.spec.load import load_spec

        return load_spec
    if name == "Spec":
        from quayform.spec.models import Spec

        return Spec
    raise AttributeError(f"module 'quayform.spec' has no attribute {name!r}")
