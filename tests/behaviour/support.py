"""Helpers of the behavioural suite: bounded waits and offsets read from the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from streamkit import App, Topic
from streamkit.transport import TP, create_transport

POLL_INTERVAL = 0.02


async def wait_for(
    condition: Callable[[], Any],
    *,
    timeout: float = 10.0,
    what: str = "the condition",
    state: Callable[[], Any] | None = None,
) -> None:
    """Poll ``condition`` every 20 ms until it is true.

    Raises AssertionError naming ``what`` (and showing ``state()``) when it is
    still false after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() >= deadline:
            shown = f"; state: {state()!r}" if state is not None else ""
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}{shown}"
            )
        await asyncio.sleep(POLL_INTERVAL)


def partitions_of(topic: Topic) -> list[TP]:
    return [TP(topic.name, p) for p in range(topic.partition_count)]


async def end_offsets(app: App, topic: Topic) -> dict[TP, int]:
    """The broker's end offset of every partition of ``topic``."""
    assert app.transport is not None, "the app must be running"
    return await app.transport.end_offsets(partitions_of(topic))


async def committed_offsets(app: App, topic: Topic) -> dict[TP, int]:
    """The offsets the app's consumer group committed for ``topic`` (0 if none),
    read back from the broker through the running app's consumer."""
    consumer = app.conductor.consumer
    assert consumer is not None, "the app must be running with an agent"
    return {tp: (await consumer.committed(tp)) or 0 for tp in partitions_of(topic)}


class _NoRebalanceHandling:
    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TP]) -> None:
        pass


async def group_offsets(broker_url: str, group: str, topic: Topic) -> dict[TP, int]:
    """The offsets ``group`` committed for ``topic`` (0 if none), read from the
    broker by a short-lived member of the group; call it while no app of the
    group runs, or the join would move the app's partitions."""
    transport = create_transport(broker_url)
    await transport.start()
    consumer = transport.create_consumer(group, [topic.name], _NoRebalanceHandling())
    await consumer.start()
    try:
        return {tp: (await consumer.committed(tp)) or 0 for tp in partitions_of(topic)}
    finally:
        await consumer.stop()
        await transport.stop()
