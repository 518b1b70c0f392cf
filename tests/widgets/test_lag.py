"""Consumer lag as the agent widgets show it: records not yet processed."""

from __future__ import annotations

import asyncio

import streamkit


async def test_lag_counts_unprocessed_records_and_drops_to_zero(unique):
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
        for value in range(40):
            await topic.send(value=value, key=str(value))
        for _ in range(200):
            if len(slow.buffer) == 39:
                break
            await asyncio.sleep(0.01)

        # One event held by the agent, 39 in its buffer: all 40 unprocessed.
        held = await app.conductor.lag()
        assert sum(held.values()) == 40
        assert {tp.topic for tp in held} == {"numbers"}

        release.set()
        for _ in range(500):
            if slow.processed == 40:
                break
            await asyncio.sleep(0.01)
        assert sum((await app.conductor.lag()).values()) == 0
