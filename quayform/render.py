"""Plans and apply progress as text for people (the JSON document itself is plan_document.py).

The human plan is rendered from the very dict `--json` emits, so the two never disagree.
Secrets are already masked in that dict.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, TextIO

from quayform.changes import UNKNOWN, ApplyEvent, ApplyResult
from quayform.plan import Plan
from quayform.plan_document import ACTION_NAMES
from quayform.sensitive import MASK, Sensitive

_STYLES = {"create": "green", "update": "yellow", "replace": "yellow", "delete": "red", "kept": "cyan"}
_SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "kept": "#"}
_VERBS = {"create": "will be created", "update": "will be updated in-place", "replace": "must be replaced",
          "delete": "will be destroyed"}


def _symbol(change: dict[str, Any]) -> str:
    if change["action"] == "replace" and change.get("actions") == ["create", "delete"]:
        return "+/-"  # create_before_destroy: the new one first
    return _SYMBOLS[change["action"]]


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, default=str)


# The control characters rich drops from printed text (bell, backspace, vertical tab, form feed, carriage
# return), dropped from plain output too: relayed text must not move the cursor or rewrite a line.
UNPRINTED = str.maketrans({code: None for code in (7, 8, 11, 12, 13)})


def _terminal(stream: TextIO) -> bool:
    """Whether rich would treat `stream` as a terminal (TTY_COMPATIBLE, FORCE_COLOR, else isatty)."""
    compatible = os.environ.get("TTY_COMPATIBLE")
    if compatible in ("0", "1"):
        return compatible == "1"
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Printer:
    """Writes styled lines: through rich when there is colour (it follows the terminal, --no-color and
    NO_COLOR), as plain text otherwise, which is the same text without paying rich's import (~15 ms)."""

    def __init__(self, stream: TextIO, color: bool, mask: Callable[[str], str] = lambda text: text):
        self.stream, self.mask, self.console = stream, mask, None
        if color and _terminal(stream):
            from rich.console import Console

            self.console = Console(file=stream, highlight=False, markup=False, emoji=False, soft_wrap=True)
        self.is_terminal = self.console is not None and self.console.is_terminal

    def line(self, text: str = "", style: str | None = None) -> None:
        if self.console is None:
            self.stream.write(self.mask(text).translate(UNPRINTED).expandtabs(8) + "\n")  # rich's tab stops too
            self.stream.flush()  # as rich does: progress lines must show while apply runs, in order with stderr
            return
        self.console.print(self.mask(text), style=style)

    def parts(self, *parts: tuple[str, str | None]) -> None:
        if self.console is None:
            self.line("".join(text for text, _ in parts))
            return
        from rich.text import Text

        out = Text()
        for text, style in parts:
            out.append(self.mask(text), style=style)
        self.console.print(out)


def _attribute_lines(out: Printer, attributes: list[dict[str, Any]], style: str) -> None:
    for attr in attributes:
        mark = ("  # forces replacement" if attr["forces_replacement"] else
                "  # held: not applied" if attr.get("held") else "")
        if attr["before"] is None:
            out.parts(("      + ", "green"), (f"{attr['path']} = {_value(attr['after'])}", None), (mark, "dim"))
        elif attr["after"] is None:
            out.parts(("      - ", "red"), (f"{attr['path']} = {_value(attr['before'])}", None), (mark, "dim"))
        else:
            out.parts(("      ~ ", "yellow"), (f"{attr['path']} = {_value(attr['before'])} -> {_value(attr['after'])}", None),
                      (mark, "dim"))


def _created_lines(out: Printer, after: dict[str, Any], unknown: dict[str, Any]) -> None:
    for key, value in after.items():
        if value is None or value is False or value in ("", [], {}) or value == UNKNOWN and key not in unknown:
            continue
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                out.parts(("      + ", "green"), (f"{key}.{sub} = {_value(subvalue)}", None))
        else:
            out.parts(("      + ", "green"), (f"{key} = {_value(value)}", None))


def render_plan(document: dict[str, Any], out: Printer) -> None:
    """Terraform-style plan text from plan_to_json()'s dict."""
    changes, kept = document["changes"], document["kept"]
    if changes:
        out.line("quayform will perform the following actions:")
        out.line()
    several = len(document.get("engine_names") or []) > 1
    for change in changes:
        action = change["action"]
        style = _STYLES[action]
        where = f" (engine {change['engine']})" if several and change.get("engine") else ""
        out.parts(("  # ", None), (change["address"], "bold"), (where, None), (f" {_VERBS[action]}", None),
                  (f" ({change['reason']})" if change["reason"] else "", "dim"))
        out.parts((f"{_symbol(change):>3} ", style), (f"{change['type']} {json.dumps(change['name'])} {{", None))
        if action == "create":
            _created_lines(out, change["after"] or {}, change.get("after_unknown") or {})
        else:
            _attribute_lines(out, change["attributes"], style)
        out.line("    }")
        out.line()
    for item in kept:
        out.parts(("  # ", None), (item["address"], "bold"), (f" is kept: {item['reason']}", "cyan"))
        _attribute_lines(out, item["attributes"], "cyan")
    if kept:
        out.line()
    for ref in document["images_to_pull"]:
        out.line(f"Image {ref} is not on the engine; apply will pull it first.", style="dim")
    for note in document.get("notes") or []:
        out.line(f"Note: {note}", style="yellow")
    summary = document["summary"]
    if not changes:
        held = [k for k in kept if k["attributes"]]
        if held:
            out.line(f"No changes to apply, but the stack differs from the spec: {len(held)} resource(s) hold "
                     "differences back (see above).", style="bold yellow")
            return
        done = "No objects need to be destroyed." if document["destroy"] else "Your stack matches the spec."
        out.line(f"No changes. {done}", style="bold green")
        return
    out.parts(("Plan: ", "bold"), (f"{summary['add']} to add, {summary['change']} to change, "
                                   f"{summary['replace']} to replace, {summary['destroy']} to destroy.", None))


_DRIFT_WORDS = {"missing": "is missing", "changed": "has changed", "not_in_spec": "is not in the spec",
                "held": "differs, held back"}


def render_drift(document: dict[str, Any], out: Printer) -> None:
    """`plan -refresh-only` from drift_json()'s dict: differences only, no actions."""
    drift = document["drift"]
    if not drift:
        out.line("No drift. Your stack matches the spec.", style="bold green")
        return
    out.line("The live stack differs from the spec (live -> spec). Nothing is planned and nothing will change.")
    out.line()
    for item in drift:
        out.parts(("  # ", None), (item["address"], "bold"), (f" {_DRIFT_WORDS[item['state']]}", None),
                  (f" ({item['reason']})" if item["reason"] else "", "dim"))
        _attribute_lines(out, [{"path": a["path"], "before": a["live"], "after": a["spec"],
                                "forces_replacement": False} for a in item["attributes"]], "yellow")
    out.line()
    out.parts(("Drift: ", "bold"), (f"{len(drift)} resource(s) differ. Run `quayform plan` to see how apply would "
                                    "make them match.", None))


def render_status(document: dict[str, Any], out: Printer) -> None:
    """`ps` as aligned columns; a resource no longer in the spec is marked with `*`."""
    heads = ("ADDRESS", "NAME", "STATE", "HEALTH", "PORTS", "IMAGE")
    rows = [(r["address"] + ("" if r["in_spec"] else " *"), r["name"], r["state"], r["health"], r["ports"], r["image"])
            for r in document["resources"]]
    if not rows:
        out.line(f"Stack {document['stack']!r} has no resources.")
        return
    used = [i for i in range(len(heads)) if i < 3 or any(row[i] for row in rows)]
    widths = {i: max(len(heads[i]), *(len(row[i]) for row in rows)) for i in used}
    out.line("  ".join(heads[i].ljust(widths[i]) for i in used).rstrip(), style="bold")
    styles = {"running": "green", "exited": "red", "restarting": "yellow", "not created": "yellow", "dead": "red"}
    for row in rows:
        cells = [(row[i].ljust(widths[i]) + "  " if i != used[-1] else row[i], styles.get(row[i]) if i == 2 else None)
                 for i in used]
        out.parts(*cells)
    if any(not r["in_spec"] for r in document["resources"]):
        out.line("* not in the spec: the next apply removes it, or keeps it as the plan says.", style="dim")
    for note in document.get("notes") or []:
        out.line(f"Note: {note}", style="yellow")


_EVENT_WORDS = {"create": ("Creating...", "Creation complete"), "update": ("Modifying...", "Modifications complete"),
                "delete": ("Destroying...", "Destruction complete"), "pull": ("Pulling image", "Pull complete"),
                "create_before_destroy": ("Replacing (new one first)...", "Replacement complete")}


def render_event(event: ApplyEvent, out: Printer) -> None:
    """One progress line per operation start, finish, failure or skip."""
    starting, finished = _EVENT_WORDS.get(event.operation, (event.operation, event.operation))
    where = str(event.address)
    if event.phase == "notice":
        out.line(event.message or "", style="bold yellow")
    elif event.phase == "start":
        suffix = f" {event.message}" if event.message else ""
        out.parts((f"{where}: ", "bold"), (starting + suffix, None))
    elif event.phase == "done":
        note = f" ({event.message})" if event.message else ""
        out.parts((f"{where}: ", "bold"), (f"{finished} after {event.elapsed:.0f}s{note}", None))
    elif event.phase == "failed":
        out.parts((f"{where}: ", "bold"), (f"{event.operation} failed: {event.message}", "red"))
    elif event.phase == "skipped":
        out.parts((f"{where}: ", "bold"), (f"skipped: {event.message}", "yellow"))
    elif event.message:
        out.parts((f"{where}: ", "dim"), (event.message, "dim"))


def render_apply_result(result: ApplyResult, destroy: bool, out: Printer, err: Printer | None = None) -> None:
    """The closing summary on `out`; each error on `err` (stderr), as Terraform does."""
    err = err or out
    if result.interrupted:
        out.line()
        out.line(f"Interrupted: {result.added} added, {result.changed} changed, {result.replaced} replaced, "
                 f"{result.destroyed} destroyed; {len(result.skipped)} change(s) not started. "
                 "Run the same command again to finish.", style="bold yellow")
        for address, message in result.errors:
            err.line(f"Error: {address}: {message}", style="red")
        return
    if result.errors:
        out.line()
        out.line(f"Apply failed: {len(result.errors)} error(s), {len(result.skipped)} change(s) skipped.", style="bold red")
        for address, message in result.errors:
            err.line(f"Error: {address}: {message}", style="red")
        return
    out.line()
    if destroy:
        out.line(f"Destroy complete! Resources: {result.destroyed} destroyed.", style="bold green")
    else:
        out.line(f"Apply complete! Resources: {result.added} added, {result.changed} changed, "
                 f"{result.replaced} replaced, {result.destroyed} destroyed.", style="bold green")


def render_outputs(outputs: dict[str, Any], out: Printer) -> None:
    if not outputs:
        return
    out.line()
    out.line("Outputs:")
    out.line()
    for name, value in outputs.items():
        out.line(f"{name} = {_value(MASK if isinstance(value, Sensitive) else value)}")


def graph_to_dot(plan: Plan) -> str:
    """The dependency graph in DOT, each node labelled with its planned action."""
    actions = {str(c.address): ACTION_NAMES[c.action] for c in plan.changes}
    nodes = sorted({str(a) for a in (plan.graph.nodes if plan.graph else ())} | set(actions))
    lines = ["digraph quayform {", "  rankdir=LR;", "  node [shape=box];"]
    colors = {"create": "green", "update": "orange", "replace": "orange", "delete": "red"}
    for node in nodes:
        action = actions.get(node, "no-op")
        symbol = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}.get(action, "")
        style = f', color={colors[action]}' if action in colors else ""
        lines.append(f'  "{node}" [label="{node}\\n{(symbol + " " + action).strip()}"{style}];')
    for dependency, dependent in sorted((str(a), str(b)) for a, b in (plan.graph.edges if plan.graph else ())):
        lines.append(f'  "{dependency}" -> "{dependent}";')
    lines.append("}")
    return "\n".join(lines)


def render_live(document: dict[str, Any], out: Printer) -> None:
    if not document["resources"]:
        out.line(f"Stack {document['stack']!r} has no objects on the engine.")
        return
    for resource in document["resources"]:
        out.parts(("# ", None), (resource["address"], "bold"), (f"  ({resource['name']})", "dim"))
        for key, value in resource["attributes"].items():
            if isinstance(value, dict):
                for sub, subvalue in value.items():
                    out.line(f"    {key}.{sub} = {_value(subvalue)}")
            else:
                out.line(f"    {key} = {_value(value)}")
        out.line()


_STILL = {"create": "Still creating...", "update": "Still modifying...", "delete": "Still destroying...",
          "create_before_destroy": "Still replacing...", "pull": "Still pulling..."}


class ProgressView:
    """Apply progress: a line per start and finish; on a terminal, a live footer of what is running.

    Every 10 s an operation still running gets a `Still creating... [20s elapsed]` line, as
    Terraform prints, so a slow healthcheck never looks like a hang in CI logs either.
    """

    TICK = 10.0

    def __init__(self, out: Printer):
        import threading
        import time

        self.out, self._time = out, time.monotonic
        self.running: dict[tuple[str, str], float] = {}
        self.waiting: dict[tuple[str, str], str] = {}  # what each wait awaits now (a "waiting" event's text)
        self.lock = threading.Lock()
        self.live = None
        if out.is_terminal:
            from rich.live import Live

            self.live = Live(self._footer(), console=out.console, refresh_per_second=4, transient=True,
                             get_renderable=self._footer)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> "ProgressView":
        if self.live is not None:
            self.live.start()
        self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self.live is not None:
            self.live.stop()

    def __call__(self, event: ApplyEvent) -> None:
        key = (str(event.address), event.operation)
        with self.lock:
            if event.address is None:
                render_event(event, self.out)
                return
            if event.phase == "waiting":  # shown with the next "Still ..." line and in the footer, not at once
                self.waiting[key] = event.message or ""
                return
            if event.phase == "start":
                self.running[key] = self._time()
            elif event.phase in ("done", "failed"):
                self.running.pop(key, None)
                self.waiting.pop(key, None)
            render_event(event, self.out)

    def _footer(self) -> Any:
        from rich.text import Text

        with self.lock:
            items = sorted(self.running.items())
        now = self._time()
        text = Text()
        for (address, operation), started in items:
            detail = self.waiting.get((address, operation))
            text.append(self.out.mask(f"  … {address}: {operation} [{now - started:.0f}s]"
                                      + (f" {detail}" if detail else "") + "\n"), style="dim")
        return text

    def _tick(self) -> None:
        last: dict[tuple[str, str], int] = {}
        while not self._stop.wait(1.0):
            now = self._time()
            with self.lock:
                for key, started in list(self.running.items()):
                    ticks = int((now - started) // self.TICK)
                    if ticks and last.get(key, 0) < ticks:
                        last[key] = ticks
                        detail = self.waiting.get(key)
                        self.out.parts((f"{key[0]}: ", "bold"),
                                       (f"{_STILL.get(key[1], 'Still working...')} [{ticks * int(self.TICK)}s elapsed]", None),
                                       (f" {detail}" if detail else "", "dim"))
