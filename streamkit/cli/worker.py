"""``streamkit worker``: run the App until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from ..app import App
from ..exceptions import ConfigurationError
from ..transport import redact_url
from ..wording import counted
from .discovery import check_broker_url
from .output import LOGLEVELS, run, setup_logging

logger = logging.getLogger(__name__)


async def serve(app: App) -> None:
    """Start the App, wait for a stop signal or a crash, stop it cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    await app.start()
    logger.info(
        "worker for app %s on %s: %s, %s; SIGINT or SIGTERM stops it",
        app.id,
        redact_url(app.conf.broker),
        counted(len(app.agents), "agent"),
        counted(len(app.tables), "table"),
    )
    signalled = asyncio.ensure_future(stop.wait())
    failed = asyncio.ensure_future(app.wait_failed())
    try:
        await asyncio.wait([signalled, failed], return_when=asyncio.FIRST_COMPLETED)
    finally:
        signalled.cancel()
        failed.cancel()
        logger.info("worker for app %s: stopping (commit, flush, close)", app.id)
        await app.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if app.failure is not None:
        raise click.ClickException(f"worker for app {app.id} failed: {app.failure}")


@click.command()
@click.option(
    "-l",
    "--loglevel",
    type=click.Choice(LOGLEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="Logging level.",
)
@click.option(
    "-b",
    "--broker",
    metavar="URL",
    callback=check_broker_url,
    help="Broker URL (memory:// or kafka://host:port); overrides the App.",
)
@click.option(
    "--web-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Port of the web server (app.conf.web_port, default 6066; 0: any free).",
)
@click.option(
    "--web-bind",
    metavar="ADDRESS",
    help="Address the web server listens on (app.conf.web_bind, default "
    "127.0.0.1; 0.0.0.0 accepts remote clients).",
)
@click.option(
    "--without-web",
    is_flag=True,
    help="Do not start the web server (app.conf.web_enabled = False).",
)
@click.pass_context
def worker(
    ctx: click.Context,
    loglevel: str,
    broker: str | None,
    web_port: int | None,
    web_bind: str | None,
    without_web: bool,
) -> None:
    """Start a worker: consume, process and commit until stopped."""
    app: App = ctx.obj["get_app"](broker)
    configure_web(app, web_port, web_bind, without_web)
    setup_logging(loglevel)
    run(serve(app))


def configure_web(
    app: App, port: int | None, bind: str | None, without_web: bool
) -> None:
    """Apply the web options to ``app.conf``; options not given leave it as is.

    Raises:
        click.BadParameter: a value the setting refuses.
    """
    for option, setting, value in (
        ("--web-port", "web_port", port),
        ("--web-bind", "web_bind", bind),
        ("--without-web", "web_enabled", False if without_web else None),
    ):
        if value is None:
            continue
        try:
            setattr(app.conf, setting, value)
        except ConfigurationError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from None
