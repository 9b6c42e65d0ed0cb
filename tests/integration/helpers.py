"""Drive the pipeline in-process against the real engine, recording apply events."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from quayform.changes import Action, ApplyEvent
from quayform.pipeline import Options, make_destroy_plan, make_plan, run_apply
from quayform.plan import Plan


class Stack:
    """One spec file in a temp folder, with plan/apply/destroy helpers."""

    def __init__(self, folder: Path, name: str, environ: dict[str, str] | None = None):
        self.folder = folder
        self.name = name
        self.path = folder / "quayform.yaml"
        self.environ = environ or {}
        self.events: list[ApplyEvent] = []

    def write(self, body: str) -> "Stack":
        text = f"version: 1\nstack: {self.name}\n" + textwrap.dedent(body)
        self.path.write_text(text)
        return self

    def options(self, **extra) -> Options:
        return Options(spec_path=str(self.path), environ=self.environ, **extra)

    def plan(self, **extra) -> Plan:
        return make_plan(self.options(**extra))

    def apply(self, **extra) -> Plan:
        plan = self.plan(**extra)
        self.events = []
        result = run_apply(plan, self.options(**extra), self.events.append)
        assert not result.errors, result.errors
        return plan

    def destroy(self, remove_volumes: bool = False) -> Plan:
        options = self.options(release=frozenset({"volumes"}) if remove_volumes else frozenset())
        plan = make_destroy_plan(options)
        result = run_apply(plan, options, self.events.append)
        assert not result.errors, result.errors
        return plan


def actions(plan: Plan) -> dict[str, str]:
    """{address: action symbol} for every change in the plan."""
    return {str(c.address): c.action.value for c in plan.changes}


def converged(plan: Plan) -> bool:
    """The stack matches the spec: nothing to change and no difference held back either."""
    return plan.changes == [] and not plan.differs


def changed_paths(plan: Plan, address: str) -> list[str]:
    change = next(c for c in plan.changes if str(c.address) == address)
    return [a.path for a in change.attributes]


NOOP = Action.NOOP


def wait_until(condition, what: str, tries: int = 600, pause: float = 0.1):
    """Poll `condition` until it is truthy (a count of tries, never a clock); fail naming `what`."""
    for _ in range(tries):
        value = condition()
        if value:
            return value
        time.sleep(pause)
    pytest.fail(f"gave up waiting for {what}")
