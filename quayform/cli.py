"""The `quayform` command: flags in, pipeline called, results rendered, exit codes out.

Exit codes: 0 success (or no changes), 1 error, 2 changes present (plan --detailed-exitcode).
Every QuayformError becomes one `Error: ...` message here and nowhere else.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import click

from quayform import __version__

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


@dataclass
class Context:
    spec_path: str
    variables: dict[str, str]
    color: bool
    debug: bool

    def options(self, **extra: Any):
        from quayform.pipeline import Options

        return Options(spec_path=self.spec_path, variables=self.variables, **extra)

    def printer(self, stream=None):
        from quayform.render import Printer

        return Printer(stream or sys.stdout, self.color)


def _parse_vars(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for item in values:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--var")
        parsed[name] = value
    return parsed


class QuayformGroup(click.Group):
    """Turns quayform's errors into one message and exit code 1, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        from quayform.errors import QuayformError

        try:
            return super().invoke(ctx)
        except QuayformError as exc:
            from quayform.errors import SpecError

            lines = [str(p) for p in exc.problems] if isinstance(exc, SpecError) else [str(exc)]
            for line in lines:
                click.secho(f"Error: {line}", fg="red", err=True, color=_color_wanted(ctx))
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


def _color_wanted(ctx: click.Context) -> bool | None:
    obj = ctx.find_object(Context)
    return None if obj is None or obj.color else False


def common_options(func: Callable) -> Callable:
    func = click.option("-f", "--file", "spec_path", default=None, envvar="QUAYFORM_FILE",
                        help="Spec file (default: quayform.yaml).")(func)
    func = click.option("--no-color", "no_color", is_flag=True, expose_value=True,
                        help="Plain output (NO_COLOR is honoured too).")(func)
    func = click.option("--var", "variables", multiple=True, callback=_parse_vars, metavar="NAME=VALUE",
                        help="Set a spec variable (repeatable); QUAYFORM_VAR_NAME also works.")(func)
    return func


def _context(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool) -> Context:
    obj: Context = ctx.find_object(Context)
    obj.color = obj.color and not no_color
    obj.spec_path = spec_path or obj.spec_path
    obj.variables = {**obj.variables, **variables}
    return obj


@click.group(cls=QuayformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quayform")
@click.option("-f", "--file", "spec_path", default="quayform.yaml", envvar="QUAYFORM_FILE", show_default=True,
              help="Spec file.")
@click.option("--no-color", is_flag=True, help="Plain output (NO_COLOR is honoured too).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, spec_path: str, no_color: bool, debug: bool) -> None:
    """Plan and apply container stacks declared in a YAML spec."""
    color = not no_color and not os.environ.get("NO_COLOR")
    ctx.obj = Context(spec_path, {}, color, debug)


@cli.command()
@common_options
@click.pass_context
def validate(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool) -> None:
    """Check the spec (syntax, references, cycles, clashes) without touching the engine."""
    from quayform.pipeline import validate as validate_spec

    obj = _context(ctx, spec_path, variables, no_color)
    spec, graph = validate_spec(obj.options())
    click.echo(f"The spec is valid: stack {spec.stack!r}, {len(graph.dag)} resources.")


@cli.command()
@common_options
@click.option("--replace", multiple=True, metavar="ADDRESS", help="Plan to recreate this resource (repeatable).")
@click.option("--target", multiple=True, metavar="ADDRESS",
              help="Only this resource and what it depends on (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 with no changes, 2 with changes, 1 on error.")
@click.pass_context
def plan(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool, replace: tuple[str, ...],
         target: tuple[str, ...], as_json: bool, detailed_exitcode: bool) -> None:
    """Show what apply would change."""
    from quayform.pipeline import make_plan
    from quayform.render import dumps, plan_to_json, render_plan

    obj = _context(ctx, spec_path, variables, no_color)
    the_plan = make_plan(obj.options(replace=replace, target=target))
    document = plan_to_json(the_plan)
    if as_json:
        click.echo(dumps(document))
    else:
        render_plan(document, obj.printer())
    if detailed_exitcode and the_plan.has_changes:
        ctx.exit(EXIT_CHANGES)


def _confirm(question: str) -> bool:
    click.echo(f"\n{question}\n  Only 'yes' will be accepted to approve.\n")
    try:
        answer = click.prompt("  Enter a value", default="", show_default=False)
    except click.Abort:
        return False
    return answer.strip() == "yes"


def _run(ctx: click.Context, obj: Context, the_plan: Any, options: Any, auto_approve: bool, question: str) -> None:
    from quayform.pipeline import run_apply
    from quayform.render import plan_to_json, render_apply_result, render_event, render_outputs, render_plan

    out = obj.printer()
    render_plan(plan_to_json(the_plan), out)
    if not the_plan.has_changes:
        if not the_plan.destroy:
            render_outputs(the_plan.outputs, out)
        return
    if not auto_approve and not _confirm(question):
        click.echo("Cancelled: nothing was changed.", err=True)
        ctx.exit(EXIT_ERROR)
    out.line()
    result = run_apply(the_plan, options, lambda event: render_event(event, out))
    render_apply_result(result, the_plan.destroy, out)
    if result.errors:
        ctx.exit(EXIT_ERROR)
    if not the_plan.destroy:
        render_outputs(the_plan.outputs, out)


@cli.command()
@common_options
@click.option("--replace", multiple=True, metavar="ADDRESS", help="Recreate this resource (repeatable).")
@click.option("--target", multiple=True, metavar="ADDRESS",
              help="Only this resource and what it depends on (repeatable).")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 64),
              help="How many changes run at once.")
@click.pass_context
def apply(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool, replace: tuple[str, ...],
          target: tuple[str, ...], auto_approve: bool, parallelism: int) -> None:
    """Make the engine match the spec."""
    from quayform.pipeline import make_plan

    obj = _context(ctx, spec_path, variables, no_color)
    options = obj.options(replace=replace, target=target, parallelism=parallelism)
    _run(ctx, obj, make_plan(options), options, auto_approve, "Do you want to perform these actions?")


@cli.command()
@common_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--volumes", "remove_volumes", is_flag=True, help="Also delete the stack's named volumes and their data.")
@click.option("--databases", "remove_databases", is_flag=True,
              help="Also drop the stack's PostgreSQL databases and users.")
@click.option("--target", multiple=True, metavar="ADDRESS",
              help="Only this resource and what depends on it (repeatable).")
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 64),
              help="How many changes run at once.")
@click.pass_context
def destroy(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool, auto_approve: bool,
            remove_volumes: bool, remove_databases: bool, target: tuple[str, ...], parallelism: int) -> None:
    """Remove the stack's containers and networks (volumes with --volumes, databases with --databases)."""
    from quayform.pipeline import make_destroy_plan

    obj = _context(ctx, spec_path, variables, no_color)
    options = obj.options(parallelism=parallelism, remove_volumes=remove_volumes, remove_databases=remove_databases,
                          target=target)
    _run(ctx, obj, make_destroy_plan(options), options, auto_approve, "Do you really want to destroy the stack?")


def main() -> None:
    try:
        cli(prog_name="quayform")
    except Exception as exc:  # an unexpected failure: no traceback unless asked, secrets stay masked
        if "--debug" in sys.argv:
            raise
        click.secho(f"Error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)", fg="red", err=True)
        sys.exit(EXIT_ERROR)
