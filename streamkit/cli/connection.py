"""The broker connection of the commands that talk to the broker directly.

``send``, ``tables NAME`` and ``topics`` do not start the App (that would
join its consumer group and run its agents); they open a transport to the
App's broker with the App's credentials, do their one job and close it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import click

from ..app import App
from ..transport import Transport, create_transport, redact_url

#: How long connecting may take before the command gives up.
CONNECT_TIMEOUT = 30.0

MEMORY_EXPLAINED = (
    "memory:// is the embedded broker of one process: a command run in its own "
    "process cannot see what a worker or notebook holds there"
)


def is_memory(app: App) -> bool:
    """True when the App is on the embedded, in-process broker."""
    return app.conf.broker.partition("://")[0].lower() == "memory"


def require_kafka(app: App, command: str, what: str) -> None:
    """Refuse a command that would do pretend work on ``memory://``.

    Raises:
        click.UsageError: naming the option that points it at Kafka.
    """
    if is_memory(app):
        raise click.UsageError(
            f"{command} needs a Kafka broker, but app {app.id!r} uses "
            f"{app.conf.broker}: {MEMORY_EXPLAINED}, so {what}. Pass "
            "-b kafka://HOST:PORT (or set STREAMKIT_BROKER)."
        )


@asynccontextmanager
async def connected(app: App) -> AsyncIterator[Transport]:
    """A started transport to the App's broker, stopped on exit.

    Raises:
        click.ClickException: the broker did not answer within
            :data:`CONNECT_TIMEOUT` seconds.
        TransportError: the broker refused the connection or the login.
    """
    conf = app.conf
    transport = create_transport(
        conf.broker,
        credentials=conf.broker_credentials,
        default_partitions=conf.topic_partitions,
        client_id=f"{app.id}-cli",
    )
    try:
        try:
            await asyncio.wait_for(transport.start(), CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            raise click.ClickException(
                f"the broker at {redact_url(conf.broker)} did not answer within "
                f"{CONNECT_TIMEOUT:.0f}s; check -b/--broker and that it is running"
            ) from None
        yield transport
    finally:
        await transport.stop()
