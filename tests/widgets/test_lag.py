"""Consumer lag as the agent widgets show it: every record on the broker the
App has not finished with, fetched or not."""

from __future__ import annotations

import asyncio

import streamkit
from streamkit.jupyter.widgets import AgentView, refresher


def stuck_agent(
    name: str, partitions: int, **settings: object
) -> tuple[streamkit.App, streamkit.Topic, streamkit.Agent, asyncio.Event]:
    """An App whose agent holds its first event until the event is set."""
    app = streamkit.App(
        name,
        broker=f"memory://{name}",
        broker_commit_interval=600,  # lag must not wait for a commit
        web_enabled=False,
        **settings,
    )
    topic = app.topic("numbers", value_type=int, partitions=partitions)
    release = asyncio.Event()

    @app.agent(topic)
    async def slow(stream):
        async for _value in stream:
            await release.wait()

    return app, topic, slow, release


async def test_lag_counts_what_the_agent_still_has_to_do(unique):
    app, topic, slow, release = stuck_agent(f"lag-{unique}", partitions=2)

    async with app.running():
        view = AgentView(slow)
        for value in range(40):
            await topic.send(value=value, key=str(value))
        for _ in range(200):
            if len(slow.buffer) == 39:
                break
            await asyncio.sleep(0.01)

        # All fetched: 39 waiting in the buffer and 1 in the agent's hands.
        lag = await app.conductor.lag()
        assert sum(lag.values()) == 40
        assert {tp.topic for tp in lag} == {"numbers"}
        await refresher.probe(app).update(now=float("inf"))
        view.refresh()
        assert 'data-figure="lag" data-value="40"' in view.figures.value

        release.set()
        for _ in range(500):
            if slow.processed == 40:
                break
            await asyncio.sleep(0.01)
        await refresher.probe(app).update(now=float("inf"))
        view.refresh()
        assert 'data-figure="lag" data-value="0"' in view.figures.value


async def test_lag_counts_records_fetched_while_the_buffer_is_full(unique):
    # A small buffer and a slow agent: most fetched records wait for room,
    # in no buffer yet, and are still the agent's work to do.
    app, topic, slow, release = stuck_agent(
        f"lag-full-{unique}", partitions=1, stream_buffer_maxsize=10
    )

    async with app.running():
        sent = 200
        for value in range(sent):
            await topic.send(value=value)
        for _ in range(200):
            if slow.buffer.full_waits:
                break
            await asyncio.sleep(0.01)
        assert len(slow.buffer) == 10 and slow.processed == 0

        lag = await app.conductor.lag()
        assert sum(lag.values()) == sent - slow.processed
        release.set()
