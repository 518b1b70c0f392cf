"""processing_guarantee and stream_buffer_maxsize, as documented."""

from __future__ import annotations

import asyncio
from collections import Counter

from .support import end_offsets, group_offsets, wait_for


async def test_exactly_once_commits_offsets_and_changelog_together(
    make_app, broker_url, unique
):
    app = make_app(processing_guarantee="exactly_once")
    events = app.topic(f"eo-{unique}")
    counts = app.Table("counts", default=int)

    @app.agent(events)
    async def count(stream):
        async for key, _value in stream.items():
            counts[key] += 1

    keys = [f"k{i % 5}" for i in range(300)]
    async with app.running():
        for key in keys:
            await events.send(key=key, value=1)
        await wait_for(lambda: count.processed >= len(keys), what="all counted")
        await app.commit()
        assert counts.as_dict() == dict(Counter(keys))

    # Committed in the same transaction as the changelog: the group's offsets
    # cover every message, and a new App recovers exactly the counts.
    committed = await group_offsets(broker_url, app.id, events)
    assert sum(committed.values()) == len(keys)

    restarted = make_app(processing_guarantee="exactly_once")
    recovered = restarted.Table("counts", default=int)
    async with restarted.running():
        assert recovered.as_dict() == dict(Counter(keys))
        ends = await end_offsets(restarted, recovered.changelog)
    # Transaction markers take offsets too, so the changelog end offsets are
    # at least the number of coalesced records, and far below one per update.
    assert 5 <= sum(ends.values()) < len(keys)


async def test_stream_buffer_never_holds_more_than_its_maxsize(make_app, unique):
    maxsize = 16
    app = make_app(stream_buffer_maxsize=maxsize)
    events = app.topic(f"bp-{unique}", partitions=1)
    seen: list[int] = []
    high_water = 0

    @app.agent(events)
    async def slow(stream):
        nonlocal high_water
        async for value in stream:
            high_water = max(high_water, len(slow.buffer))
            seen.append(value)
            await asyncio.sleep(0.001)

    async with app.running():
        for value in range(400):
            await events.send(value=value)
        await wait_for(lambda: len(seen) >= 400, what="all processed", timeout=60)

    assert seen == list(range(400))
    assert 0 < high_water <= maxsize
    assert sum(slow.buffer.full_waits_by_tp.values()) > 0
