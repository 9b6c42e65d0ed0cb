"""The `quayform` command: flags in, pipeline called, results rendered, exit codes out.

Exit codes: 0 success (or no changes), 1 error, 2 changes present (plan --detailed-exitcode),
3 internal error (a bug in quayform), 130 interrupted. Every QuayformError becomes one
`Error: ...` message here and nowhere else; everything printed passes through the command's
Masker, so a secret echoed by a container, a health check or a server never reaches the screen.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import click

from quayform import __version__
from quayform.sensitive import Masker

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass
class Context:
    spec_path: str
    variables: dict[str, str]
    color: bool
    debug: bool
    masker: Masker = field(default_factory=Masker)
    var_files: tuple[str, ...] = ()  # --var-file, read by _context beneath the --var values

    def options(self, **extra: Any):
        from quayform.pipeline import Options

        return Options(spec_path=self.spec_path, variables=self.variables, masker=self.masker, **extra)

    def printer(self, stream=None):
        from quayform.render import Printer

        return Printer(stream or sys.stdout, self.color, self.masker)

    def echo(self, text: str, err: bool = False) -> None:
        click.echo(self.masker(text), err=err)


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
        from quayform.errors import QuayformError, StopNow

        try:
            return super().invoke(ctx)
        except QuayformError as exc:
            from quayform.errors import SpecError

            mask = _masker(ctx)
            lines = [str(p) for p in exc.problems] if isinstance(exc, SpecError) else [str(exc)]
            for line in lines:
                click.secho(mask(f"Error: {line}"), fg="red", err=True, color=_color_wanted(ctx))
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except StopNow:
            # The lock is released already (the command's `with` has exited); changes in flight are cut off.
            sys.stderr.write("\nTwo interrupts received: stopping at once. Changes that were in progress may be "
                             "half-done; the next plan shows them and the next apply repairs them.\n")
            sys.stderr.flush()
            sys.stdout.flush()
            os._exit(EXIT_INTERRUPTED)


def _masker(ctx: click.Context) -> Masker:
    obj = ctx.find_object(Context)
    return obj.masker if obj is not None else MASKER


def _color_wanted(ctx: click.Context) -> bool | None:
    obj = ctx.find_object(Context)
    return None if obj is None or obj.color else False


def _keep_var_files(ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> None:
    obj = ctx.find_object(Context)
    if obj is not None and values:
        obj.var_files = (*obj.var_files, *values)


def _one_file(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> str | None:
    """-f may be given once: quayform reads one spec and does not merge several (a later one winning
    silently would apply another stack than the one you read)."""
    if len(values) > 1:
        raise click.UsageError(f"-f was given {len(values)} times ({', '.join(values)}): quayform reads one spec "
                               "file and does not merge several; put everything in one file")
    return values[0] if values else None


def common_options(func: Callable, short_file: bool = True) -> Callable:
    func = click.option(*(("-f",) if short_file else ()), "--file", "spec_path", multiple=True, callback=_one_file,
                        envvar="QUAYFORM_FILE", help="Spec file (default: quayform.yaml).")(func)
    func = click.option("--no-color", "no_color", is_flag=True, expose_value=True,
                        help="Plain output (NO_COLOR is honoured too).")(func)
    func = click.option("--var", "variables", multiple=True, callback=_parse_vars, metavar="NAME=VALUE",
                        help="Set a spec variable (repeatable); QUAYFORM_VAR_NAME also works.")(func)
    func = click.option("--var-file", "var_files", multiple=True, callback=_keep_var_files, expose_value=False,
                        metavar="FILE", help="Read variables from FILE: NAME: value (YAML) or NAME=value lines "
                                             "(.env); repeatable, later files win, --var wins over them.")(func)
    return func


def _context(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool) -> Context:
    obj: Context = ctx.find_object(Context)
    obj.color = obj.color and not no_color
    obj.spec_path = spec_path or obj.spec_path
    obj.variables = {**obj.variables, **variables}
    if obj.var_files:
        from quayform.spec.load import read_var_files

        obj.variables = read_var_files(obj.var_files, obj.variables)
    return obj


@click.group(cls=QuayformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quayform")
@click.option("-f", "--file", "spec_path", multiple=True, callback=_one_file, envvar="QUAYFORM_FILE",
              help="Spec file (default: quayform.yaml).")
@click.option("--no-color", is_flag=True, help="Plain output (NO_COLOR is honoured too).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, spec_path: str | None, no_color: bool, debug: bool) -> None:
    """Plan and apply container stacks declared in a YAML spec."""
    color = not no_color and not os.environ.get("NO_COLOR")
    ctx.obj = Context(spec_path or "quayform.yaml", {}, color, debug, MASKER)


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (valid, error_count, diagnostics).")
@click.pass_context
def validate(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool,
             as_json: bool) -> None:
    """Check the spec (syntax, references, cycles, clashes) without touching the engine."""
    from quayform.errors import SpecError
    from quayform.pipeline import validate as validate_spec

    obj = _context(ctx, spec_path, variables, no_color)
    if not as_json:
        spec, graph = validate_spec(obj.options())
        click.echo(f"The spec is valid: stack {spec.stack!r}, {len(graph.nodes)} resources.")
        return
    from quayform.plan_document import validation_json, dumps

    try:
        spec, graph = validate_spec(obj.options())
        document = validation_json([], spec.stack, len(graph.nodes))
    except SpecError as exc:
        document = validation_json(exc.problems)
    obj.echo(dumps(document))
    if not document["valid"]:
        ctx.exit(EXIT_ERROR)


@cli.command()
@common_options
@click.option("--replace", multiple=True, metavar="ADDRESS", help="Plan to recreate this resource (repeatable).")
@click.option("--target", multiple=True, metavar="ADDRESS",
              help="Only this resource and what it depends on (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("-out", "--out", "out", metavar="FILE", help="Save the plan (no secrets in it) for `apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 with no changes, 2 with changes, 1 on error.")
@click.option("--refresh-only", is_flag=True, help="Only show where the live stack differs from the spec; plan no fix.")
@click.pass_context
def plan(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool, replace: tuple[str, ...],
         target: tuple[str, ...], as_json: bool, out: str | None, detailed_exitcode: bool, refresh_only: bool) -> None:
    """Show what apply would change."""
    from quayform.pipeline import make_plan, save_plan_file
    from quayform.plan_document import dumps, plan_to_json
    from quayform.render import render_plan

    obj = _context(ctx, spec_path, variables, no_color)
    if refresh_only and (out or replace):
        raise click.UsageError("-refresh-only shows drift and plans nothing, so it takes neither -out nor -replace")
    options = obj.options(replace=replace, target=target)
    the_plan = make_plan(options)
    document = plan_to_json(the_plan)
    if refresh_only:
        from quayform.plan_document import drift_json
        from quayform.render import render_drift

        drift = drift_json(document)
        if as_json:
            obj.echo(dumps(drift))
        else:
            render_drift(drift, obj.printer())
        if detailed_exitcode and drift["differs"]:
            ctx.exit(EXIT_CHANGES)
        return
    if as_json:
        obj.echo(dumps(document))
    else:
        render_plan(document, obj.printer())
    if out:
        save_plan_file(out, the_plan, document, options)
        if not as_json:
            click.echo(f"\nSaved the plan to {out}. To perform exactly these actions, run: quayform apply {out}")
    if detailed_exitcode and the_plan.has_changes:
        ctx.exit(EXIT_CHANGES)


def _confirm(question: str) -> bool:
    """Ask on the terminal; an answer piped in (`echo yes | quayform apply`) counts as Terraform's does, but
    with no terminal and nothing piped in, say how to approve without one instead of a bare "Cancelled"."""
    click.echo(f"\n{question}\n  Only 'yes' will be accepted to approve.\n")
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            click.echo("There is no terminal to answer on and nothing on standard input: run it again with "
                       "-auto-approve (or --auto-approve) to approve without asking.", err=True)
            return False
        return line.strip() == "yes"
    try:
        answer = click.prompt("  Enter a value", default="", show_default=False)
    except click.Abort:
        return False
    return answer.strip() == "yes"


def _run(ctx: click.Context, obj: Context, the_plan: Any, options: Any, auto_approve: bool, question: str) -> None:
    from quayform.pipeline import run_apply
    from quayform.plan_document import plan_to_json
    from quayform.render import ProgressView, render_apply_result, render_outputs, render_plan

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
    _collect_again()
    with ProgressView(out) as progress:
        result = run_apply(the_plan, options, progress)
    render_apply_result(result, the_plan.destroy, out, obj.printer(sys.stderr))
    if result.interrupted:
        ctx.exit(EXIT_INTERRUPTED)
    if result.errors:
        ctx.exit(EXIT_ERROR)
    if not the_plan.destroy:
        render_outputs(_known_now(the_plan.outputs), out)


def _known_now(outputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs after a successful apply: what the plan could not know yet (a new robot's token) exists
    now, and such values are all secrets (`output NAME -raw` prints one)."""
    from quayform.changes import UNKNOWN
    from quayform.sensitive import Sensitive

    return {name: Sensitive("") if value == UNKNOWN else value for name, value in outputs.items()}


LOCK_TIMEOUT = click.option("--lock-timeout", default="0s", show_default=True, metavar="DURATION",
                            help="How long to wait for another apply/destroy of this stack to finish.")


def _seconds(text: str) -> float:
    from quayform.spec.values import parse_duration

    try:
        return parse_duration(text) / 1e9
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--lock-timeout") from None


@cli.command()
@common_options
@click.argument("plan_file", required=False, metavar="[FILE]")
@click.option("--replace", multiple=True, metavar="ADDRESS", help="Recreate this resource (repeatable).")
@click.option("--target", multiple=True, metavar="ADDRESS",
              help="Only this resource and what it depends on (repeatable).")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 64),
              help="How many changes run at once.")
@LOCK_TIMEOUT
@click.pass_context
def apply(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool, plan_file: str | None,
          replace: tuple[str, ...], target: tuple[str, ...], auto_approve: bool, parallelism: int,
          lock_timeout: str) -> None:
    """Make the engine match the spec (or carry out a saved plan FILE exactly)."""
    from quayform.pipeline import locked, make_plan, plan_from_file

    obj = _context(ctx, spec_path, variables, no_color)
    options = obj.options(replace=replace, target=target, parallelism=parallelism, lock_timeout=_seconds(lock_timeout))
    if plan_file:
        from quayform.pipeline import load_plan_file

        given = [flag for flag, value in (("--target", target), ("--replace", replace), ("--var", variables),
                                          ("--var-file", obj.var_files)) if value]
        if given:
            raise click.UsageError(f"a saved plan is applied exactly as it was made; {', '.join(given)} cannot be "
                                   "combined with FILE (make a new plan with them instead)")
        options.spec_path = load_plan_file(plan_file)["options"]["spec_path"]
    with locked(options, "apply", _warn):
        if plan_file:
            _run(ctx, obj, plan_from_file(plan_file, options), options, True, "")
        else:
            _run(ctx, obj, make_plan(options), options, auto_approve, "Do you want to perform these actions?")


def _warn(message: str) -> None:
    click.secho(f"Warning: {message}", fg="yellow", err=True)


@cli.command()
@common_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--volumes", "remove_volumes", is_flag=True, help="Also delete the stack's named volumes and their data.")
@click.option("--databases", "remove_databases", is_flag=True,
              help="Also drop the stack's PostgreSQL databases and users.")
@click.option("--repositories", "remove_repositories", is_flag=True,
              help="Also delete the stack's Quay repositories that hold images (and organizations left empty).")
@click.option("--target", multiple=True, metavar="ADDRESS",
              help="Only this resource and what depends on it (repeatable).")
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 64),
              help="How many changes run at once.")
@LOCK_TIMEOUT
@click.pass_context
def destroy(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool, auto_approve: bool,
            remove_volumes: bool, remove_databases: bool, remove_repositories: bool, target: tuple[str, ...],
            parallelism: int,
            lock_timeout: str) -> None:
    """Remove the stack's containers and networks (volumes with --volumes, databases with --databases)."""
    from quayform.pipeline import locked, make_destroy_plan

    obj = _context(ctx, spec_path, variables, no_color)
    release = frozenset(flag for flag, given in (("volumes", remove_volumes), ("databases", remove_databases),
                                                 ("repositories", remove_repositories)) if given)
    options = obj.options(parallelism=parallelism, release=release, target=target, lock_timeout=_seconds(lock_timeout))
    with locked(options, "destroy", _warn):
        _run(ctx, obj, make_destroy_plan(options), options, auto_approve, "Do you really want to destroy the stack?")


@cli.command()
@common_options
@click.argument("plan_file", required=False, metavar="[FILE]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the same format as plan --json).")
@click.pass_context
def show(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool,
         plan_file: str | None, as_json: bool) -> None:
    """Show a saved plan FILE, or the live stack as the engine has it."""
    from quayform.plan_document import dumps, live_to_json
    from quayform.render import render_live, render_plan

    obj = _context(ctx, spec_path, variables, no_color)
    if plan_file:
        from quayform.pipeline import load_plan_file

        document = load_plan_file(plan_file)["plan"]
        obj.echo(dumps(document)) if as_json else render_plan(document, obj.printer())
        return
    from quayform.pipeline import live_resources

    stack, objects = live_resources(obj.options())
    document = live_to_json(stack, objects)
    obj.echo(dumps(document)) if as_json else render_live(document, obj.printer())


@cli.command()
@common_options
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as JSON.")
@click.option("-raw", "--raw", "raw", is_flag=True,
              help="Print NAME's value alone, as it is: secrets included (for scripts, e.g. a docker login).")
@click.pass_context
def output(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool,
           name: str | None, as_json: bool, raw: bool) -> None:
    """Print the spec's outputs (one by NAME); secret ones show as (sensitive) unless --raw is asked."""
    from quayform.pipeline import spec_outputs
    from quayform.plan_document import dumps
    from quayform.sensitive import Sensitive, redact

    obj = _context(ctx, spec_path, variables, no_color)
    values = spec_outputs(obj.options(), settle=raw)
    if raw:
        if name is None or name not in values:
            raise click.UsageError(f"--raw prints one output: name it (outputs: {', '.join(values) or 'none'})")
        value = values[name]
        # asked for in clear: not masked; no newline added, as Terraform's -raw (for $(...) and files)
        click.echo(value.reveal() if isinstance(value, Sensitive) else value, nl=False)
        return
    outputs = redact(values)
    if name is not None:
        if name not in outputs:
            raise click.UsageError(f"no output named {name!r} (outputs: {', '.join(outputs) or 'none'})")
        obj.echo(dumps(outputs[name]) if as_json else outputs[name])
        return
    if as_json:
        obj.echo(dumps(outputs))
    else:
        for key, value in outputs.items():
            obj.echo(f"{key} = {value}")


@cli.command()
@common_options
@click.pass_context
def graph(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool) -> None:
    """Print the dependency graph in DOT, each resource labelled with its planned action."""
    from quayform.pipeline import make_plan
    from quayform.render import graph_to_dot

    obj = _context(ctx, spec_path, variables, no_color)
    click.echo(graph_to_dot(make_plan(obj.options())))


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the resources as JSON.")
@click.pass_context
def ps(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool, as_json: bool) -> None:
    """List the stack's resources: state, health, published ports and image of each."""
    from quayform.pipeline import stack_status
    from quayform.plan_document import dumps
    from quayform.render import render_status

    obj = _context(ctx, spec_path, variables, no_color)
    document = stack_status(obj.options())
    if as_json:
        obj.echo(dumps(document))
    else:
        render_status(document, obj.printer())


@cli.command()
@click.argument("address")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until interrupted.")
@click.option("-n", "--tail", type=click.IntRange(min=0), metavar="N", help="Only the last N lines.")
@lambda func: common_options(func, short_file=False)
@click.pass_context
def logs(ctx: click.Context, address: str, follow: bool, tail: int | None, spec_path: str | None,
         variables: dict[str, str], no_color: bool) -> None:
    """Print what the container at ADDRESS (or its bare key) has written, secrets masked.

    -f is --follow here, as in docker compose: name the spec with --file, or before the command
    (quayform -f FILE logs -f web)."""
    from quayform.pipeline import running_object

    obj = _context(ctx, spec_path, variables, no_color)
    kind, connection, live = running_object(obj.options(), address)
    _collect_again()
    try:
        for line in kind.logs(connection, live, follow, tail):
            click.echo(obj.masker(line))
    except KeyboardInterrupt:
        pass  # the end of --follow


@cli.command(name="exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@common_options
@click.option("-i", "--interactive", is_flag=True, help="Copy standard input into the command.")
@click.argument("address")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool, interactive: bool,
          address: str, command: tuple[str, ...]) -> None:
    """Run COMMAND in the container at ADDRESS: quayform exec web -- ls /srv. It exits with the command's code.

    Output is relayed line by line with secrets masked, so there is no terminal (no -t): for an
    interactive shell, use docker exec -it on the NAME that quayform ps shows."""
    from quayform.pipeline import running_object

    obj = _context(ctx, spec_path, variables, no_color)
    argv = list(command[1:] if command[:1] == ("--",) else command)
    if not argv:
        raise click.UsageError("give the command to run after the address: quayform exec web -- ls /")
    kind, connection, live = running_object(obj.options(), address)
    _collect_again()
    lines, exit_code = kind.run(connection, live, argv, sys.stdin.buffer if interactive else None)
    for stream, line in lines:
        click.echo(obj.masker(line), err=stream == 2)
    ctx.exit(exit_code())


@cli.command()
@common_options
@click.argument("addresses", nargs=-1, required=True, metavar="ADDRESS...")
@click.pass_context
def restart(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool,
            addresses: tuple[str, ...]) -> None:
    """Restart the containers at ADDRESS... (stop within their stop_grace_period, start again)."""
    from quayform.pipeline import running_object

    obj = _context(ctx, spec_path, variables, no_color)
    for address in addresses:
        kind, connection, live = running_object(obj.options(), address)
        kind.restart(connection, live)
        click.echo(f"Restarted {live.address} ({live.name}).")


@cli.command()
@click.option("-o", "--output", metavar="FILE", help="Write the schema to FILE instead of standard output.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of a spec, for editors (yaml-language-server, VS Code, JetBrains)."""
    from quayform.schema import schema_text

    text = schema_text()
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise click.UsageError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"Wrote the spec's JSON Schema to {output}.")


@cli.command(name="import")
@common_options
@click.argument("address")
@click.argument("name")
@LOCK_TIMEOUT
@click.pass_context
def import_(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool, address: str,
            name: str, lock_timeout: str) -> None:
    """Adopt the existing container, network or volume NAME as ADDRESS (a container is replaced by the next
    apply, keeping its volumes; a network or volume stays as it is)."""
    from quayform.pipeline import import_resource, locked

    obj = _context(ctx, spec_path, variables, no_color)
    options = obj.options(lock_timeout=_seconds(lock_timeout))
    with locked(options, "import", _warn):
        cid = import_resource(options, address, name)
    shown = f" ({cid[:12]})" if cid != name else ""
    if address.startswith("containers."):
        click.echo(f"Imported container {name}{shown} as {address}. Run `quayform plan` to see it replaced "
                   "by a managed container that keeps its volumes.")
    else:
        click.echo(f"Imported {name}{shown} as {address}. It is the stack's as it is: `quayform plan` shows "
                   "no create for it, and a difference from the spec is held, never applied by recreating it.")


COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")  # compose's order


def _read_text(path: str) -> str | None:
    """A file's text for `convert` (the compose file, its env files and configs); None if it cannot be read."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


@cli.command()
@click.argument("compose_file", required=False, metavar="[COMPOSE_FILE]")
@click.option("-o", "--output", default="quayform.yaml", show_default=True, metavar="FILE",
              help="Where to write the spec ('-' for standard output).")
@click.option("--stack", metavar="NAME", help="The stack's name (default: the compose project's name).")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.pass_context
def convert(ctx: click.Context, compose_file: str | None, output: str, stack: str | None, force: bool) -> None:
    """Write a spec from a docker compose file (default: compose.yaml or docker-compose.yml here).

    What it cannot carry is listed on stderr, with its line in the compose file.
    """
    from quayform.convert import convert as convert_compose
    from quayform.errors import SpecError
    from quayform.pipeline import Options, validate as validate_spec
    from quayform.spec.yaml_loader import load_yaml

    source = compose_file or next((name for name in COMPOSE_FILES if os.path.isfile(name)), None)
    text = _read_text(source) if source else None
    if text is None:
        raise click.UsageError(f"cannot read {source}" if source else
                               f"no compose file here ({', '.join(COMPOSE_FILES)}): name one")
    if output != "-" and os.path.exists(output) and not force:
        raise click.UsageError(f"{output} exists: give --force to overwrite it, or -o another file")
    project_dir = os.path.dirname(os.path.abspath(source))
    spec_dir = os.path.dirname(os.path.abspath(output)) if output != "-" else os.getcwd()
    result = convert_compose(load_yaml(text, source), source, project_dir, spec_dir, _read_text, stack)
    for note in result.notes:
        click.echo(str(note), err=True)
    if not result.text:
        ctx.exit(EXIT_ERROR)
    if output == "-":
        click.echo(result.text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(result.text)
    except OSError as exc:
        raise click.UsageError(f"cannot write {output}: {exc.strerror}") from None
    if project_dir != spec_dir and os.path.isfile(os.path.join(project_dir, ".env")):
        _warn(f"{output} reads the .env beside it, not the one beside {source}: copy it there or pass "
              "--var-file")
    click.echo(f"Wrote {output} (stack {result.stack!r}) from {source}.")
    try:
        validate_spec(Options(spec_path=output))
    except SpecError as exc:
        for problem in exc.problems:
            _warn(f"{problem}")
        _warn(f"{output} does not validate yet: edit the lines above, then run `quayform validate`.")


@cli.command(name="force-unlock")
@common_options
@click.pass_context
def force_unlock(ctx: click.Context, spec_path: str | None, variables: dict[str, str], no_color: bool) -> None:
    """Remove the stack's lock, whoever holds it (only when that process is really gone)."""
    from quayform.pipeline import force_unlock as remove_lock

    obj = _context(ctx, spec_path, variables, no_color)
    holder = remove_lock(obj.options())
    click.echo(f"Removed the lock held by {holder}." if holder else "The stack was not locked.")


# The one Masker of this process's command: the pipeline teaches it every secret it meets.
MASKER = Masker()


def terraform_spellings(args: list[str]) -> list[str]:
    """Terraform's one-dash long options (`-auto-approve`, `-target=ADDR`, `-var 'a=b'`) as the two-dash
    ones they are here. Only names quayform knows are rewritten, and nothing after `--`."""
    known = {opt for command in (cli, *cli.commands.values()) for param in command.params
             for opt in getattr(param, "opts", ()) if opt.startswith("--")}
    out = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        name = arg.split("=", 1)[0]
        if arg.startswith("-") and not arg.startswith("--") and len(name) > 2 and "-" + name in known:
            arg = "-" + arg
        out.append(arg)
    return out


def main() -> None:
    """Entry point: errors exit 1 (usage errors too, so 2 only ever means "changes"); a crash exits 3."""
    gc.disable()  # until the work that runs long (_collect_again): start-up makes objects that all live on
    try:
        code = cli.main(args=terraform_spellings(sys.argv[1:]), prog_name="quayform", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        code = EXIT_ERROR
    except click.Abort:
        click.echo("Aborted.", err=True)
        code = EXIT_ERROR
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except Exception as exc:  # a bug in quayform: said so, secrets masked, a traceback only if asked
        code = _internal_error(exc)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _collect_again() -> None:
    """Garbage collection back on, for what may run long (an apply's waits, logs -f, exec). Off until here: the
    imports and the plan make some 60,000 objects that live to the end (modules, spec models, forms),
    which the collector would otherwise scan over and over (20-40 ms of a 100-container plan) to find
    about a thousand in cycles. Those are collected once here; the rest is frozen out of later collections."""
    gc.collect()
    gc.freeze()
    gc.enable()


def _internal_error(exc: Exception) -> int:
    if "--debug" in sys.argv:
        import traceback

        click.echo(MASKER("".join(traceback.format_exception(exc))), err=True)
    click.secho(MASKER(f"Internal error: {type(exc).__name__}: {exc}"), fg="red", err=True)
    click.echo("This is a bug in quayform, not a problem with your spec. Run the same command with --debug for "
               "the traceback (secrets masked) and report it.", err=True)
    return EXIT_INTERNAL
