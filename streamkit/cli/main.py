"""The command group and its global options."""

from __future__ import annotations

from collections.abc import Callable

import click

from ..app import App
from ..exceptions import ConfigurationError
from .discovery import check_broker_url, load_app
from .worker import worker


@click.group()
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
@click.pass_context
def cli(ctx: click.Context, app_spec: str | None, broker: str | None) -> None:
    """streamkit: Kafka stream processing, live in a notebook and as a worker."""
    preset: App | None = (ctx.obj or {}).get("app")

    def get_app(broker_override: str | None = None) -> App:
        if preset is not None:
            app = preset
        elif app_spec:
            app = load_app(app_spec)
        else:
            raise click.UsageError("name the App with -A MODULE[:APP]")
        url = broker_override or broker
        if url:
            try:
                app.conf.broker = url
            except ConfigurationError as exc:
                raise click.BadParameter(str(exc), param_hint="--broker") from exc
        return app

    ctx.obj = {"get_app": get_app, "app": preset}


cli.add_command(worker)


def main(argv: list[str] | None = None, *, app: App | None = None) -> None:
    """Entry point of the ``streamkit`` console script and of ``App.main()``."""
    command: Callable[..., None] = cli
    command(args=argv, obj={"app": app}, prog_name="streamkit")
