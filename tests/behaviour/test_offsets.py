"""Offsets: resuming from the committed offset, and skipping undecodable input."""

from __future__ import annotations

import asyncio
import logging
import re

from streamkit import Record

from .support import committed_offsets, end_offsets, wait_for


class Reading(Record):
    sensor: str
    celsius: int


async def test_new_app_resumes_from_committed_offset(make_app, unique):
    first = make_app()
    first_topic = first.topic(f"ticks-{unique}")
    first_seen: list[int] = []

    @first.agent(first_topic, name="ticker")
    async def tick(stream):
        async for value in stream:
            first_seen.append(value)

    before = 120
    async with first.running():
        for value in range(before):
            await first_topic.send(key=value, value=value)
        await wait_for(
            lambda: len(first_seen) >= before,
            what="the first batch",
            state=lambda: len(first_seen),
        )

    # Same id, fresh counter: only what is sent from now on is new to it.
    second = make_app()
    second_topic = second.topic(f"ticks-{unique}")
    second_seen: list[int] = []

    @second.agent(second_topic, name="ticker")
    async def tick_again(stream):
        async for value in stream:
            second_seen.append(value)

    after = 80
    async with second.running():
        committed = await committed_offsets(second, second_topic)
        assert sum(committed.values()) == before
        assert committed == await end_offsets(second, second_topic)

        for value in range(before, before + after):
            await second_topic.send(key=value, value=value)
        await wait_for(
            lambda: len(second_seen) >= after,
            what="the second batch",
            state=lambda: len(second_seen),
        )
        await asyncio.sleep(0.3)  # a replay of the first batch would land now
        await second.commit()
        committed = await committed_offsets(second, second_topic)

    assert sorted(first_seen) == list(range(before))
    assert sorted(second_seen) == list(range(before, before + after))
    assert sum(committed.values()) == before + after


async def test_undecodable_message_is_skipped_counted_and_logged(
    make_app, unique, caplog
):
    caplog.set_level(logging.WARNING, logger="streamkit")
    app = make_app()
    name = f"readings-{unique}"
    readings = app.topic(name, value_type=Reading, partitions=1)
    raw = app.topic(name, value_serializer="raw", partitions=1)
    received: list[Reading] = []

    @app.agent(readings)
    async def record(stream):
        async for reading in stream:
            received.append(reading)

    # Offsets 0-4 good, 5 not JSON, 6-8 good, 9 JSON of the wrong shape, 10-11 good.
    plan: list[Reading | bytes] = [Reading(sensor="s", celsius=c) for c in range(5)]
    plan.append(b"\xff\xfe this is not json")
    plan += [Reading(sensor="s", celsius=c) for c in range(5, 8)]
    plan.append(b'{"sensor": "s", "celsius": "very hot"}')
    plan += [Reading(sensor="s", celsius=c) for c in range(8, 10)]
    bad_offsets = [5, 9]
    good = [item.celsius for item in plan if isinstance(item, Reading)]

    async with app.running():
        for item in plan:
            if isinstance(item, bytes):
                await raw.send(value=item, partition=0)
            else:
                await readings.send(value=item, partition=0)
        await wait_for(
            lambda: len(received) >= len(good),
            what="every good reading",
            state=lambda: [r.celsius for r in received],
        )
        await asyncio.sleep(0.1)
        await app.commit()
        committed = await committed_offsets(app, readings)

    assert [r.celsius for r in received] == good
    assert app.monitor.decode_errors[(name, 0)] == len(bad_offsets)
    assert sum(app.monitor.decode_errors.values()) == len(bad_offsets)
    assert sum(committed.values()) == len(plan), "commit did not move past bad input"

    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
    ]
    for offset in bad_offsets:
        assert any(
            name in text
            and re.search(r"\b0\b", text.replace(name, ""))
            and re.search(rf"\b{offset}\b", text.replace(name, ""))
            for text in warnings
        ), f"no warning names {name}, partition 0 and offset {offset}: {warnings}"
