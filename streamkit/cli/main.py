"""The command group, its global options, and where App commands come from.

The App's own commands (``@app.command()``) are defined in the user's
module, so the group imports that module (``-A``) before click looks a
command up: :class:`AppGroup` answers ``get_command`` and ``list_commands``
from the built-in commands first and then from the App, loading it on first
need.  ``-A`` is read from the arguments before the options are processed,
so ``streamkit --help -A module`` lists the App's commands too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import click

from ..app import App
from ..exceptions import ConfigurationError
from .agents import agents
from .discovery import check_broker_url, load_app
from .export import export
from .reset import reset
from .send import send
from .tables import tables
from .topics import topics
from .worker import worker

_ARGS = "streamkit.args"
_APP = "streamkit.app"


def _app_spec_in(args: Sequence[str]) -> str | None:
    """The ``-A`` value among the group's own options, before the command."""
    tokens = iter(args)
    for token in tokens:
        if token in ("-A", "--app"):
            return next(tokens, None)
        if token.startswith("--app="):
            return token.removeprefix("--app=")
        if token.startswith("-A") and not token.startswith("--"):
            return token[2:]
        if token in ("-b", "--broker"):
            next(tokens, None)
        elif token == "--" or not token.startswith("-"):
            return None
    return None


def find_app(ctx: click.Context) -> App | None:
    """The App the command line names, imported once; None without ``-A``.

    Raises:
        click.UsageError: ``-A`` names no importable module or no App.
    """
    root = ctx.find_root()
    preset: App | None = (root.obj or {}).get("app")
    if preset is not None:
        return preset
    if _APP not in root.meta:
        spec = (
            root.params.get("app_spec")
            or _app_spec_in(root.meta.get(_ARGS, ()))
            or os.environ.get("STREAMKIT_APP")
        )
        root.meta[_APP] = load_app(spec) if spec else None
    return root.meta[_APP]


class AppGroup(click.Group):
    """A group whose commands are the built-in ones plus the App's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Kept for find_app: --help is handled while the options are parsed,
        # before ctx.params holds -A.
        ctx.meta[_ARGS] = list(args)
        return super().parse_args(ctx, args)

    def _app_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        app = find_app(ctx)
        return {} if app is None else dict(app.commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        own = sorted(self.commands)
        return own + sorted(set(self._app_commands(ctx)) - set(own))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        builtin = super().get_command(ctx, cmd_name)
        if builtin is not None or ctx.resilient_parsing:
            return builtin
        if cmd_name.startswith("-"):
            return None  # click reports the unknown option

        app = find_app(ctx)
        if app is None:
            raise click.UsageError(
                f"no command {cmd_name!r}. Commands an App defines with "
                "@app.command() need the App: streamkit -A MODULE "
                f"{cmd_name} (or STREAMKIT_APP=MODULE)",
                ctx,
            )
        found = app.commands.get(cmd_name)
        if found is None:
            raise click.exceptions.NoSuchCommand(
                cmd_name, possibilities=[*self.commands, *app.commands], ctx=ctx
            )
        return found

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter):
        # Built-in commands and the App's in two sections, so a user sees
        # which commands their module added.
        sections = [("Commands", {n: self.commands[n] for n in self.commands})]
        app = find_app(ctx)
        if app is not None and app.commands:
            extra = {n: c for n, c in app.commands.items() if n not in self.commands}
            sections.append((f"Commands of app {app.id}", extra))

        for title, commands in sections:
            shown = sorted((n, c) for n, c in commands.items() if not c.hidden)
            if not shown:
                continue
            limit = formatter.width - 6 - max(len(n) for n, _ in shown)
            with formatter.section(title):
                formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in shown])


@click.group(cls=AppGroup)
@click.option(
    "-A",
    "--app",
    "app_spec",
    metavar="MODULE[:APP]",
    envvar="STREAMKIT_APP",
    help="The module holding the App (env STREAMKIT_APP).",
)
@click.option(
    "-b",
    "--broker",
    metavar="URL",
    callback=check_broker_url,
    help="Broker URL (memory:// or kafka://host:port); overrides the App "
    "and STREAMKIT_BROKER.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Commands that report print JSON instead of tables.",
)
@click.pass_context
def cli(
    ctx: click.Context, app_spec: str | None, broker: str | None, as_json: bool
) -> None:
    """streamkit: Kafka stream processing, live in a notebook and as a worker."""
    preset: App | None = (ctx.obj or {}).get("app")

    def get_app(broker_override: str | None = None) -> App:
        app = find_app(ctx)
        if app is None:
            raise click.UsageError("name the App with -A MODULE[:APP]")
        url = broker_override or broker
        if url:
            try:
                app.conf.broker = url
            except ConfigurationError as exc:
                raise click.BadParameter(str(exc), param_hint="--broker") from exc
        return app

    ctx.obj = {"get_app": get_app, "app": preset, "json": as_json}


for _command in (worker, send, agents, tables, topics, reset, export):
    cli.add_command(_command)


def main(argv: list[str] | None = None, *, app: App | None = None) -> None:
    """Entry point of the ``streamkit`` console script and of ``App.main()``."""
    command: Callable[..., None] = cli
    command(args=argv, obj={"app": app}, prog_name="streamkit")
