"""Consumer lag as the agent widgets show it: records not fetched yet plus
those waiting in the agent's buffer."""

from __future__ import annotations

import asyncio

import streamkit
from streamkit.jupyter.widgets import AgentView, refresher


async def test_lag_counts_what_the_agent_still_has_to_do(unique):
    app = streamkit.App(
        f"lag-{unique}",
        broker=f"memory://lag-{unique}",
        broker_commit_interval=600,  # lag must not wait for a commit
        web_enabled=False,
    )
    topic = app.topic("numbers", value_type=int, partitions=2)
    release = asyncio.Event()

    @app.agent(topic)
    async def slow(stream):
        async for _value in stream:
            await release.wait()

    async with app.running():
        view = AgentView(slow)
        for value in range(40):
            await topic.send(value=value, key=str(value))
        for _ in range(200):
            if len(slow.buffer) == 39:
                break
            await asyncio.sleep(0.01)

        # All fetched: nothing left on the broker, 39 waiting in the buffer
        # (the 40th is in the agent's hands).
        unfetched = await app.conductor.lag()
        assert sum(unfetched.values()) == 0
        assert {tp.topic for tp in unfetched} == {"numbers"}
        await refresher.probe(app).update(now=float("inf"))
        view.refresh()
        assert 'data-figure="lag" data-value="39"' in view.figures.value

        release.set()
        for _ in range(500):
            if slow.processed == 40:
                break
            await asyncio.sleep(0.01)
        await refresher.probe(app).update(now=float("inf"))
        view.refresh()
        assert 'data-figure="lag" data-value="0"' in view.figures.value
