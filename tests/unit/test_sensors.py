"""The Monitor's figures, with real events: rates over a sliding window,
sampled runtimes, buffer-full waits per partition, table reads and writes,
latencies."""

from __future__ import annotations

import asyncio
import json

import pytest
from behaviour.support import wait_for

from streamkit import App
from streamkit.sensors import RUNTIME_SAMPLE_EVERY, Monitor, Rate, Timing
from streamkit.transport import TP


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_app(unique: str):
    def make(**settings) -> App:
        options = {
            "broker": f"memory://sensors-{unique}",
            "topic_partitions": 2,
            "web_enabled": False,
            **settings,
        }
        return App(f"sensors-{unique}", **options)

    return make


def test_rate_averages_over_the_window_and_slides():
    rate = Rate(window=10.0, interval=1.0)
    assert rate.per_second(0.0, 0) is None

    # 50 events a second for 10 s, then nothing; read half a second after
    # each one-second sample.
    seen = {}
    for t in range(0, 31):
        count = 50 * min(t, 10)
        rate.sample(float(t), count)
        seen[t] = rate.per_second(t + 0.5, count)

    assert seen[0] == 0.0
    assert seen[5] == pytest.approx(250 / 5.5)
    assert seen[10] == pytest.approx((500 - 50) / 9.5)  # t=1 is the oldest inside
    assert seen[15] == pytest.approx((500 - 300) / 9.5)
    assert seen[30] == 0.0
    # Long idle, no fresh samples: the newest sample is the base.
    assert rate.per_second(100.0, 500) == 0.0
    assert rate.per_second(100.0, 560) == pytest.approx(60 / 70)


def test_rate_right_after_a_sample_uses_the_interval_before_it():
    rate = Rate(window=10.0, interval=1.0)
    rate.sample(1.0, 10)
    assert rate.per_second(1.0, 10) is None
    rate.sample(2.0, 40)
    assert rate.per_second(2.0, 40) == 30.0


def test_timing_keeps_count_mean_last_and_max():
    timing = Timing()
    for seconds in (0.5, 0.1, 0.3):
        timing.add(seconds)

    assert timing.as_dict() == {
        "count": 3,
        "mean_s": pytest.approx(0.3),
        "last_s": 0.3,
        "max_s": 0.5,
    }
    assert Timing().as_dict()["mean_s"] is None


async def test_events_per_second_is_computed_from_samples(make_app, unique):
    app = make_app()
    orders = app.topic(f"orders-{unique}")

    @app.agent(orders)
    async def process(stream):
        async for _ in stream:
            pass

    clock = FakeClock()
    monitor = Monitor(app, clock=clock, window=10.0)
    async with app.running():
        monitor.sample()  # t=100: nothing processed yet
        for i in range(200):
            await orders.send(value=i)
        await wait_for(lambda: process.processed == 200, what="200 events")
        app_monitor = app.monitor

        clock.now = 104.0
        assert monitor.events_per_second("process") == 50.0
        monitor.sample()

        clock.now = 120.0  # idle for longer than the window
        assert monitor.events_per_second("process") == 0.0
        monitor.sample()

        for i in range(30):
            await orders.send(value=i)
        await wait_for(lambda: process.processed == 230, what="30 more events")
        clock.now = 125.0
        assert monitor.events_per_second("process") == 6.0
        assert monitor.agents_as_dict()["process"]["events_per_s"] == 6.0

    # The App's own monitor counted the messages of the topic.
    assert app_monitor.topics_as_dict()[orders.name]["received"] == 230
    assert app_monitor.topics_as_dict()[orders.name]["sent"] == 230
    assert monitor.events_per_second("no-such-agent") is None


async def test_runtime_times_the_first_event_and_one_in_sample_every(make_app, unique):
    app = make_app()
    topic = app.topic(f"slow-{unique}")
    body_seconds = 0.003

    @app.agent(topic)
    async def slow(stream):
        async for _ in stream:
            await asyncio.sleep(body_seconds)

    count = 2 * RUNTIME_SAMPLE_EVERY + 2
    async with app.running():
        for i in range(count):
            await topic.send(value=i)
        await wait_for(lambda: slow.processed == count, what="every event")

    runtime = app.monitor.agents_as_dict()["slow"]["runtime"]
    assert runtime["count"] == 3  # events 1, 65 and 129
    assert body_seconds <= runtime["mean_s"] < 0.1
    assert body_seconds <= runtime["last_s"] <= runtime["max_s"]


async def test_runtime_of_take_is_the_batch_time_per_event(make_app, unique):
    app = make_app()
    topic = app.topic(f"batches-{unique}")

    @app.agent(topic)
    async def batched(stream):
        async for _batch in stream.take(10):
            await asyncio.sleep(0.02)

    async with app.running():
        for i in range(10):
            await topic.send(value=i)
        await wait_for(lambda: batched.processed == 10, what="one full batch")

    assert batched.runtime.count == 1
    assert 0.002 <= batched.runtime.mean < 0.02


async def test_buffer_full_waits_are_attributed_to_the_partition(make_app, unique):
    sender = make_app()
    topic_name = f"busy-{unique}"
    async with sender.running():
        topic = sender.topic(topic_name)
        for i in range(3):
            await topic.send(value=i, partition=0)
        for i in range(10):
            await topic.send(value=i, partition=1)

    # A second App reads the 13 messages in one fetch into a buffer of 4
    # while its only actor is stuck on its first event.
    app = make_app(stream_buffer_maxsize=4)
    gate = asyncio.Event()

    @app.agent(app.topic(topic_name))
    async def stuck(stream):
        async for _ in stream:
            await gate.wait()

    async with app.running():
        await wait_for(lambda: stuck.buffer.full_waits >= 2, what="a full buffer")
        await asyncio.sleep(0.05)
        # 4 buffered + 1 held by the actor; the 6th message waits for room.
        # Messages come grouped by partition, so partition 1's are the ones
        # waiting, whichever partition came first.
        assert app.monitor.buffer_full_waits() == {(topic_name, 1): 2}
        assert app.monitor.as_dict()["buffer_full_waits"] == {f"{topic_name}[1]": 2}

        gate.set()
        await wait_for(lambda: stuck.processed == 13, what="every message")

    waits = stuck.buffer.full_waits_by_tp
    assert set(waits) == {TP(topic_name, 1)}
    assert sum(waits.values()) == stuck.buffer.full_waits


async def test_table_reads_and_writes_are_counted_per_table(make_app):
    app = make_app()
    counts = app.Table("counts", default=int)
    names = app.Table("names")

    async with app.running():
        for word in ["a", "b", "a", "c", "a"]:
            counts[word] += 1  # one read and one write each
        names["x"] = "ex"
        names.get("x")
        names.get("y")
        del names["x"]

    assert app.monitor.tables_as_dict() == {
        "counts": {"keys": 3, "reads": 5, "writes": 5},
        "names": {"keys": 0, "reads": 2, "writes": 2},
    }


async def test_send_latency_flush_latency_and_rebalances(make_app, unique):
    app = make_app()
    topic = app.topic(f"acks-{unique}")

    @app.agent(topic)
    async def sink(stream):
        async for _ in stream:
            pass

    async with app.running():
        for i in range(5):
            await topic.send_and_wait(value=i)
        await topic.send(value=5)
        await app.commit()
        monitor = app.monitor

        assert monitor.send_latency.count == 5
        assert monitor.send_latency.max is not None and monitor.send_latency.max >= 0
        assert monitor.flush_latency.count >= 1
        assert monitor.commits >= 1 and monitor.commit_latency.count == monitor.commits
        # One group join, one assignment of the topic's two partitions.
        figures = monitor.as_dict()
        assert figures["rebalances"] == 1
        assert figures["assigned_partitions"] == 2
        assert figures["topics"][topic.name]["sent"] == 6


async def test_as_dict_is_json_ready(make_app, unique):
    app = make_app()
    topic = app.topic(f"json-{unique}")
    app.Table("t", default=int)

    @app.agent(topic)
    async def one(stream):
        async for _ in stream:
            pass

    async with app.running():
        await topic.send(value=1)
        await wait_for(lambda: one.processed == 1, what="the event")
        app.monitor.sample()
        text = json.dumps(app.monitor.as_dict())

    figures = json.loads(text)
    assert figures["agents"]["one"]["events"] == 1
    assert figures["messages_received_total"] == 1
    assert figures["tables"]["t"] == {"keys": 0, "reads": 0, "writes": 0}
