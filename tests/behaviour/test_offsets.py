"""Offsets: resuming from the committed offset, and skipping undecodable input."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter

from streamkit import App, Record
from streamkit.transport import create_transport

from .support import committed_offsets, end_offsets, group_offsets, wait_for


class Reading(Record):
    sensor: str
    celsius: int


async def send_while_no_app_runs(broker_url: str, topic: str, values: range) -> None:
    """Produce JSON values with a bare producer, as another service would."""
    transport = create_transport(broker_url)
    await transport.start()
    producer = transport.create_producer()
    await producer.start()
    try:
        for value in values:
            encoded = json.dumps(value).encode()
            await producer.send(topic, encoded, encoded)
        await producer.flush()
    finally:
        await producer.stop()
        await transport.stop()


async def test_new_app_resumes_from_committed_offset(make_app, broker_url, unique):
    first = make_app()
    first_topic = first.topic(f"ticks-{unique}")
    first_seen: list[int] = []

    @first.agent(first_topic, name="ticker")
    async def tick(stream):
        async for value in stream:
            first_seen.append(value)

    processed, backlog, live = 120, 40, 40
    async with first.running():
        for value in range(processed):
            await first_topic.send(key=value, value=value)
        await wait_for(
            lambda: len(first_seen) >= processed,
            what="the first batch",
            state=lambda: len(first_seen),
        )
    stopped_at = await group_offsets(broker_url, first.id, first_topic)
    assert sum(stopped_at.values()) == processed
    await send_while_no_app_runs(
        broker_url, first_topic.name, range(processed, processed + backlog)
    )

    # Same id, fresh counter: only what was sent after the stop is new to it.
    second = make_app()
    second_topic = second.topic(f"ticks-{unique}")
    second_seen: list[int] = []

    @second.agent(second_topic, name="ticker")
    async def tick_again(stream):
        async for value in stream:
            second_seen.append(value)

    total = processed + backlog + live
    async with second.running():
        ends = await end_offsets(second, second_topic)
        assert sum(ends.values()) == processed + backlog
        for value in range(processed + backlog, total):
            await second_topic.send(key=value, value=value)
        await wait_for(
            lambda: len(second_seen) >= backlog + live,
            what="the backlog and the live batch",
            state=lambda: len(second_seen),
        )
        await asyncio.sleep(0.3)  # a replay of the first batch would land now
        await second.commit()
        committed = await committed_offsets(second, second_topic)
        ends = await end_offsets(second, second_topic)

    assert sorted(first_seen) == list(range(processed))
    assert sorted(second_seen) == list(range(processed, total))
    assert committed == ends
    assert sum(committed.values()) == total


async def test_stop_mid_stream_hands_over_without_loss_or_repeat(make_app, unique):
    first = make_app()
    first_topic = first.topic(f"flow-{unique}")
    first_seen: list[int] = []

    @first.agent(first_topic, name="worker")
    async def slow_work(stream):
        async for value in stream:
            await asyncio.sleep(0.001)
            first_seen.append(value)

    count = 600
    async with first.running():
        for value in range(count):
            await first_topic.send(key=value, value=value)
        await wait_for(lambda: len(first_seen) >= 100, what="100 values")
    assert len(first_seen) < count, "the first app must stop mid-stream"

    second = make_app()
    second_seen: list[int] = []

    @second.agent(second.topic(f"flow-{unique}"), name="worker")
    async def fast_work(stream):
        async for value in stream:
            second_seen.append(value)

    async with second.running():
        await wait_for(
            lambda: len(first_seen) + len(second_seen) >= count,
            what="the rest of the stream",
            state=lambda: (len(first_seen), len(second_seen)),
        )
        await asyncio.sleep(0.3)

    assert sorted(first_seen + second_seen) == list(range(count))


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

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for offset in bad_offsets:
        assert any(
            name in text
            and re.search(r"\b0\b", text.replace(name, ""))
            and re.search(rf"\b{offset}\b", text.replace(name, ""))
            for text in warnings
        ), f"no warning names {name}, partition 0 and offset {offset}: {warnings}"


async def run_tally_cycle(
    app: App, topic_name: str, batch: range, stop_after: float
) -> tuple[dict[int, int], list[int]]:
    """Start ``app`` with a tally agent, count ``batch``, stop ``stop_after``
    seconds later; returns the table as it was at start, and what was seen."""
    topic = app.topic(topic_name)
    totals = app.Table("totals", default=int)
    seen: list[int] = []

    @app.agent(topic, name="tally")
    async def tally(stream):
        async for value in stream:
            totals[value % 5] += 1
            seen.append(value)

    async with app.running():
        at_start = totals.as_dict()
        for value in batch:
            # Keyed by the table key: a table is co-partitioned with its
            # source, as in Faust.
            await topic.send(key=value % 5, value=value)
        await wait_for(
            lambda: len(seen) >= len(batch), what=f"{batch}", state=seen.copy
        )
        await asyncio.sleep(stop_after)
    return at_start, seen


async def test_repeated_restarts_lose_and_repeat_nothing(make_app, unique):
    # Each App stops at a different point of its commit cycle; a stop that
    # lands while a commit is in flight must let it finish, or its offsets
    # and table changes are lost (replayed or missing in the next cycle).
    interval = 0.05
    expected: Counter[int] = Counter()
    for cycle in range(10):
        app = make_app(broker_commit_interval=interval)
        batch = range(cycle * 40, cycle * 40 + 40)
        at_start, seen = await run_tally_cycle(
            app, f"restarts-{unique}", batch, stop_after=cycle * interval / 10
        )

        assert at_start == dict(expected), f"cycle {cycle}: table state lost"
        assert sorted(seen) == list(batch), f"cycle {cycle}: replayed or lost"
        expected.update(value % 5 for value in batch)
