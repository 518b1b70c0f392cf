"""``streamkit worker``: run the App until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

import click
from rich.console import Console
from rich.logging import RichHandler

from ..app import App
from ..transport import redact_url
from .discovery import check_broker_url

logger = logging.getLogger(__name__)

LOGLEVELS = ["debug", "info", "warning", "error", "critical"]


def setup_logging(loglevel: str) -> None:
    """Send log records to stderr through rich (the library installs none)."""
    logging.basicConfig(
        level=loglevel.upper(),
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
        force=True,
    )


async def serve(app: App) -> None:
    """Start the App, wait for a stop signal or a crash, stop it cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    await app.start()
    logger.info(
        "worker for app %s on %s: %d agents, %d tables; SIGINT or SIGTERM stops it",
        app.id,
        redact_url(app.conf.broker),
        len(app.agents),
        len(app.tables),
    )
    try:
        await stop.wait()
    finally:
        logger.info("worker for app %s: stopping (commit, flush, close)", app.id)
        await app.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


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
@click.pass_context
def worker(ctx: click.Context, loglevel: str, broker: str | None) -> None:
    """Start a worker: consume, process and commit until stopped."""
    app: App = ctx.obj["get_app"](broker)
    setup_logging(loglevel)
    asyncio.run(serve(app))
