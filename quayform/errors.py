"""The one exception tree of quayform; cli.py turns each into a message and an exit code.

Leaf module: imports the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass


class QuayformError(Exception):
    """Base of every error quayform reports to the user (exit code 1)."""


@dataclass(frozen=True)
class SpecProblem:
    """One defect in a spec, located as file:line: key.path."""

    file: str
    line: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} {self.message}"


class SpecError(QuayformError):
    """The spec is malformed or inconsistent; carries every problem found, not just the first."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.key_path))
        super().__init__("\n".join(str(p) for p in self.problems))


class CycleError(SpecError):
    """The dependency graph has a cycle; the message lists it."""


class EngineError(QuayformError):
    """The Docker engine could not be reached or refused a request."""


class PlanError(QuayformError):
    """A plan cannot be made safely (e.g. a name clash with an unmanaged object)."""


class ApplyError(QuayformError):
    """One or more changes failed during apply; the stack may be partly changed."""


class ReadinessError(ApplyError):
    """A container did not become running/healthy in time."""


class LockHeldError(QuayformError):
    """Another quayform process holds the stack's lock."""


class PlanStaleError(QuayformError):
    """A saved plan no longer matches the spec, its secrets or the live state."""


class TargetUnavailable(QuayformError):
    """Where a resource lives cannot be read right now (e.g. its server container is stopped).

    `quiet`: nothing to explain (the target does not exist yet and is in this plan).
    """

    def __init__(self, reason: str, quiet: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.quiet = quiet


class Interrupted(ApplyError):
    """A wait was cut short by Ctrl-C; what it waited for may still come right (the next run checks)."""


class StopNow(BaseException):
    """A second Ctrl-C: stop at once, leaving what is half-done for the next run to repair."""
