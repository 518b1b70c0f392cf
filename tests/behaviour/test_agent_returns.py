"""An agent whose function returns while the App runs ends, and never blocks commits.

Its buffered events are committed without it and counted in ``skipped``, its
topic's messages stop waiting for it, one warning says what to do, and
redefining it starts it again from the next offset.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import mode

from streamkit import Agent, App, Topic

from .support import committed_offsets, end_offsets, group_offsets, wait_for

BUFFER = 10


def looping_agent(app: App, topic: Topic, name: str = "steady") -> tuple[Agent, list]:
    """An agent on ``topic`` that loops, as agents should, and what it saw."""
    seen: list[Any] = []

    async def steady(stream):
        async for value in stream:
            seen.append(value)

    return app.agent(topic, name=name)(steady), seen


async def send_values(topic: Topic, values: range) -> None:
    for value in values:
        await topic.send(key=value, value=value)


async def wait_committed(app: App, topic: Topic) -> None:
    """Wait until the group's offsets on the broker reach the topic's end."""
    end = await end_offsets(app, topic)
    committed: dict = {}

    async def poll() -> None:
        committed.update(await committed_offsets(app, topic))

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15.0
    await poll()
    while committed != end and loop.time() < deadline:
        await asyncio.sleep(0.05)
        await poll()
    assert committed == end, f"committed {committed}, broker end {end}"


def ending_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "streamkit.agents"
        and r.levelno == logging.WARNING
        and "no longer reads" in r.getMessage()
    ]


async def test_returned_agent_skips_its_buffer_and_commits_advance(
    make_app, unique, caplog
):
    caplog.set_level(logging.INFO, logger="streamkit")
    app = make_app(stream_buffer_maxsize=BUFFER)
    topic = app.topic(f"quits-{unique}")
    steady, seen = looping_agent(app, topic)
    gate = asyncio.Event()
    read: list[int] = []

    @app.agent(topic)
    async def quitter(stream):
        async for value in stream:
            read.append(value)
            if len(read) == 3:
                await gate.wait()
                return

    async with app.running():
        await send_values(topic, range(8))
        await wait_for(
            lambda: len(quitter.buffer) == 5 and steady.processed == 8,
            what="3 events read by quitter and 5 in its buffer",
            state=lambda: (len(read), len(quitter.buffer), steady.processed),
        )
        buffered = len(quitter.buffer)
        gate.set()
        await wait_for(lambda: not quitter.running, what="quitter to return")

        # Later records no longer wait for it: the commits follow `steady`.
        await send_values(topic, range(8, 28))
        await wait_for(lambda: steady.processed == 28, what="28 values in steady")
        await wait_committed(app, topic)
        assert app.is_running

        assert quitter.returned and "ended" in repr(quitter)
        assert quitter.state == "ended"
        assert quitter.processed == 3
        assert quitter.skipped == buffered == 8 - 3
        assert len(quitter.buffer) == 0

    assert sorted(seen) == list(range(28))
    [warning] = ending_warnings(caplog)
    assert warning.startswith("agent quitter: its function returned after 3 events")
    assert f"no longer reads topic 'quits-{unique}'" in warning
    assert "the 5 events left in its buffer are committed without it" in warning
    assert "`async for value in stream:`" in warning
    assert "redefine the agent" in warning


async def test_full_buffer_of_a_returned_agent_no_longer_stops_the_consumer(
    make_app, unique, caplog
):
    caplog.set_level(logging.WARNING, logger="streamkit")
    # Produced before the App starts, so one fetch brings all of them: the
    # consumer then waits for room in quitter's buffer with the last 90.
    name = f"backlog-{unique}"
    producer = make_app(app_id=f"producer-{unique}")
    backlog = producer.topic(name, partitions=1)
    async with producer.running():
        await send_values(backlog, range(100))

    app = make_app(stream_buffer_maxsize=BUFFER)
    topic = app.topic(name, partitions=1)
    steady, _ = looping_agent(app, topic)
    gate = asyncio.Event()

    @app.agent(topic)
    async def quitter(stream):
        await gate.wait()

    async with app.running():
        end = await end_offsets(app, topic)
        await wait_for(
            lambda: steady.processed == 100 and len(quitter.buffer) == BUFFER,
            what="steady done and quitter's buffer full",
            state=lambda: (steady.processed, len(quitter.buffer)),
        )
        await asyncio.sleep(0.5)  # commits would have happened by now
        assert app.conductor.committed == {}, "the offsets wait for quitter"

        gate.set()
        await wait_for(lambda: not quitter.running, what="quitter to return")
        await wait_committed(app, topic)

        # All 100 were delivered to it: 10 buffered and 90 being put.
        assert quitter.skipped == sum(end.values()) == 100
        assert quitter.processed == 0

        await send_values(topic, range(100, 150))
        await wait_for(lambda: steady.processed == 150, what="150 values in steady")
        await wait_committed(app, topic)
        assert quitter.skipped == 100

    [warning] = ending_warnings(caplog)
    assert "returned after 0 events" in warning
    assert "the 10 events left in its buffer" in warning


async def test_returned_agent_redefined_reads_again_from_the_next_offset(
    make_app, unique
):
    app = make_app(stream_buffer_maxsize=BUFFER)
    topic = app.topic(f"again-{unique}")
    steady, _ = looping_agent(app, topic)

    @app.agent(topic, name="quitter")
    async def quitter(stream):
        return 42

    async with app.running():
        await wait_for(lambda: not quitter.running, what="quitter to return")
        await send_values(topic, range(10))
        await wait_for(lambda: steady.processed == 10, what="10 values in steady")
        await wait_committed(app, topic)
        assert quitter.returned

        again, seen = looping_agent(app, topic, name="quitter")
        assert again is quitter
        assert not quitter.returned
        await wait_for(lambda: quitter.running, what="quitter to run again")
        await send_values(topic, range(10, 30))
        await wait_for(lambda: len(seen) == 20, what="20 values in quitter")
        await wait_committed(app, topic)
        await asyncio.sleep(0.1)  # anything extra would arrive now

    assert sorted(seen) == list(range(10, 30))
    assert quitter.processed == 20
    assert quitter.skipped == 0


async def test_agent_returning_alone_on_its_topic_loses_no_record(make_app, unique):
    app = make_app(stream_buffer_maxsize=BUFFER)
    topic = app.topic(f"alone-{unique}", partitions=1)
    # Another topic keeps the App in its group, to read the offsets through.
    looping_agent(app, app.topic(f"other-{unique}"))
    first: list[int] = []

    @app.agent(topic, name="alone")
    async def alone(stream):
        async for value in stream:
            first.append(value)
            if len(first) == 3:
                return

    async with app.running():
        await send_values(topic, range(10))
        await wait_for(lambda: not alone.running, what="alone to return")
        await wait_committed(app, topic)
        assert first == [0, 1, 2]
        assert alone.returned

        # The topic went unread; started again, the agent goes on right after
        # what it processed and what it skipped.
        again, seen = looping_agent(app, topic, name="alone")
        assert again is alone
        await send_values(topic, range(10, 20))
        resumed_at = 3 + alone.skipped
        await wait_for(
            lambda: len(seen) >= 20 - resumed_at,
            what="the rest of the values",
            state=seen.copy,
        )
        await wait_committed(app, topic)
        await asyncio.sleep(0.1)

    assert seen == list(range(resumed_at, 20))
    assert alone.processed == 3 + len(seen)


async def test_with_concurrency_the_agent_ends_only_with_its_last_actor(
    make_app, unique, caplog
):
    caplog.set_level(logging.WARNING, logger="streamkit")
    app = make_app(stream_buffer_maxsize=BUFFER)
    topic = app.topic(f"crew-{unique}")
    done: list[int] = []
    quits = 0

    @app.agent(topic, concurrency=3)
    async def crew(stream):
        nonlocal quits
        async for value in stream:
            done.append(value)
            if quits < 2:
                quits += 1
                return

    async with app.running():
        await send_values(topic, range(50))
        await wait_for(lambda: crew.processed == 50, what="50 values in crew")
        await wait_committed(app, topic)
        assert crew.running and not crew.returned

    assert quits == 2
    assert sorted(done) == list(range(50))
    assert crew.skipped == 0
    assert ending_warnings(caplog) == []


async def test_async_generator_agent_that_ends_is_skipped_too(make_app, unique, caplog):
    caplog.set_level(logging.WARNING, logger="streamkit")
    app = make_app(stream_buffer_maxsize=BUFFER)
    topic = app.topic(f"gen-{unique}")
    steady, _ = looping_agent(app, topic)
    gate = asyncio.Event()
    out: list[int] = []

    @app.agent(topic, sink=[out.append])
    async def brief(stream):
        async for value in stream:
            yield value
            if len(out) == 2:
                await gate.wait()
                return

    async with app.running():
        await send_values(topic, range(6))
        await wait_for(
            lambda: len(brief.buffer) == 4 and steady.processed == 6,
            what="2 events read by brief and 4 in its buffer",
            state=lambda: (len(out), len(brief.buffer)),
        )
        gate.set()
        await wait_for(lambda: not brief.running, what="brief to end")
        await wait_committed(app, topic)

    assert brief.processed == 2 and brief.skipped == 4
    [warning] = ending_warnings(caplog)
    assert "its generator ended after 2 events" in warning


async def test_agent_returning_inside_take_counts_its_batch_as_processed(
    make_app, unique
):
    app = make_app(stream_buffer_maxsize=BUFFER)
    topic = app.topic(f"batch-{unique}")
    steady, _ = looping_agent(app, topic)
    gate = asyncio.Event()
    got: list[int] = []

    @app.agent(topic)
    async def batcher(stream):
        async for batch in stream.take(5):
            got.extend(batch)
            await gate.wait()
            return

    async with app.running():
        await send_values(topic, range(8))
        await wait_for(
            lambda: len(got) == 5 and len(batcher.buffer) == 3,
            what="a batch of 5 and 3 buffered",
            state=lambda: (len(got), len(batcher.buffer)),
        )
        gate.set()
        await wait_for(lambda: not batcher.running, what="batcher to return")
        await wait_committed(app, topic)

    assert batcher.processed == 5 and batcher.skipped == 3


async def test_agent_failing_before_its_first_event_ends_the_same_way(
    make_app, unique, caplog
):
    caplog.set_level(logging.WARNING, logger="streamkit")
    app = make_app(stream_buffer_maxsize=BUFFER)
    topic = app.topic(f"broken-{unique}")
    steady, _ = looping_agent(app, topic)
    gate = asyncio.Event()

    @app.agent(topic)
    async def broken(stream):
        await gate.wait()
        raise ValueError("no stream for me")

    async with app.running():
        await send_values(topic, range(7))
        await wait_for(
            lambda: len(broken.buffer) == 7 and steady.processed == 7,
            what="7 events in broken's buffer",
        )
        gate.set()
        await wait_for(lambda: not broken.running, what="broken to fail")
        await send_values(topic, range(7, 20))
        await wait_for(lambda: steady.processed == 20, what="20 values in steady")
        await wait_committed(app, topic)

    assert broken.errors == 1 and broken.processed == 0
    assert broken.skipped == 7
    [warning] = ending_warnings(caplog)
    assert "its function failed before reading an event" in warning
    assert "the 7 events left in its buffer" in warning


class OpensTheGateOnStop(mode.Service):
    """Lets an agent's function return while the App stops (services stop
    before the agents)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def on_stop(self) -> None:
        self.gate.set()
        await asyncio.sleep(0.1)  # the agent's function returns now


async def test_agent_returning_while_the_app_stops_skips_nothing(
    make_app, broker_url, unique, caplog
):
    caplog.set_level(logging.WARNING, logger="streamkit")
    app = make_app(stream_buffer_maxsize=BUFFER)
    topic = app.topic(f"stopping-{unique}")
    steady, _ = looping_agent(app, topic)
    service = OpensTheGateOnStop()
    app.service(service)

    @app.agent(topic)
    async def waiter(stream):
        await service.gate.wait()

    async with app.running():
        await send_values(topic, range(6))
        await wait_for(
            lambda: len(waiter.buffer) == 6 and steady.processed == 6,
            what="6 events in waiter's buffer",
        )

    assert waiter.skipped == 0 and not waiter.returned
    assert ending_warnings(caplog) == []
    # Unprocessed by waiter, so not committed: read again on the next start.
    committed = await group_offsets(broker_url, app.id, topic)
    assert sum(committed.values()) == 0
