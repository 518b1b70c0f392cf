"""What the embedded broker promises beyond the shared transport contract."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from streamkit.exceptions import TransportError
from streamkit.transport import TP, MemoryTransport, create_transport
from streamkit.transport.memory_broker import discard_broker


class Listener:
    def __init__(self, fail: bool = False) -> None:
        self.assigned: list[set[TP]] = []
        self.fail = fail

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TP]) -> None:
        self.assigned.append(assigned)
        if self.fail:
            raise RuntimeError("listener bug")


@pytest.fixture
def url(unique: str) -> str:
    yield f"memory://unit-{unique}"
    discard_broker(f"unit-{unique}")


@pytest.fixture
async def transport(url: str) -> AsyncIterator[MemoryTransport]:
    transport = create_transport(url, default_partitions=4)
    await transport.start()
    yield transport
    await transport.stop()


async def test_unkeyed_records_go_round_robin(transport: MemoryTransport) -> None:
    producer = transport.create_producer()
    sent = [await producer.send("rr", None, b"v") for _ in range(8)]
    assert [m.partition for m in sent] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert [m.offset for m in sent] == [0, 0, 0, 0, 1, 1, 1, 1]


async def test_named_brokers_are_isolated_and_shared_by_name(
    transport: MemoryTransport, url: str, unique: str
) -> None:
    await transport.create_topic("orders", 2)
    consumer = transport.create_consumer("g", ["orders"], Listener())
    await consumer.start()
    await consumer.commit({TP("orders", 1): 0})
    await consumer.stop()

    same = create_transport(url)
    other = create_transport(f"memory://other-{unique}")
    assert await same.list_topics() == {"orders": 2}
    assert await other.list_topics() == {}
    second = same.create_consumer("g", ["orders"], Listener())
    assert await second.committed(TP("orders", 1)) == 0
    discard_broker(f"other-{unique}")


async def test_getmany_wakes_on_a_send_instead_of_polling(
    transport: MemoryTransport,
) -> None:
    consumer = transport.create_consumer("g", ["wake"], Listener())
    await consumer.start()
    producer = transport.create_producer()

    async def send_later() -> None:
        await asyncio.sleep(0.05)
        await producer.send("wake", b"k", b"hello")

    started = time.monotonic()
    sender = asyncio.create_task(send_later())
    batch = await consumer.getmany(timeout=5.0, max_records=10)
    elapsed = time.monotonic() - started
    await sender

    assert [m.value for m in batch] == [b"hello"]
    assert 0.04 < elapsed < 0.5


async def test_getmany_returns_empty_after_the_timeout(
    transport: MemoryTransport,
) -> None:
    consumer = transport.create_consumer("g", ["quiet"], Listener())
    await consumer.start()
    started = time.monotonic()
    assert await consumer.getmany(timeout=0.2, max_records=10) == []
    assert 0.19 < time.monotonic() - started < 0.5


async def test_stopping_a_consumer_ends_its_pending_getmany(
    transport: MemoryTransport,
) -> None:
    consumer = transport.create_consumer("g", ["quiet"], Listener())
    await consumer.start()
    pending = asyncio.create_task(consumer.getmany(timeout=10.0, max_records=10))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await consumer.stop()
    assert await pending == []
    assert time.monotonic() - started < 0.5


async def test_a_batch_shares_max_records_across_partitions(
    transport: MemoryTransport,
) -> None:
    producer = transport.create_producer()
    for partition in (0, 3):
        for i in range(100):
            await producer.send("fair", b"k", str(i).encode(), partition=partition)
    consumer = transport.create_consumer("g", ["fair"], Listener())
    await consumer.start()

    batch = await consumer.getmany(timeout=0, max_records=10)

    assert sorted(m.partition for m in batch) == [0] * 5 + [3] * 5


def test_a_broker_outlives_its_event_loop(url: str) -> None:
    async def first_run() -> None:
        transport = create_transport(url, default_partitions=2)
        producer = transport.create_producer()
        for i in range(6):
            await producer.send("events", None, str(i).encode())
        # Never stopped: its loop ends with this run.
        consumer = transport.create_consumer("g", ["events"], Listener())
        await consumer.start()
        await consumer.commit({TP("events", 0): 2})

    async def second_run() -> list[tuple[int, int]]:
        transport = create_transport(url)
        listener = Listener()
        consumer = transport.create_consumer("g", ["events"], listener)
        await consumer.start()
        assert listener.assigned == [{TP("events", 0), TP("events", 1)}]
        batch = await consumer.getmany(timeout=1.0, max_records=100)
        await consumer.stop()
        return sorted((m.partition, m.offset) for m in batch)

    asyncio.run(first_run())
    assert asyncio.run(second_run()) == [(0, 2), (1, 0), (1, 1), (1, 2)]


async def test_compaction_drops_superseded_records(
    transport: MemoryTransport,
) -> None:
    await transport.create_topic("changelog", 1, compacted=True)
    producer = transport.create_producer()
    for i in range(5000):
        await producer.send("changelog", f"k{i % 10}".encode(), str(i).encode())

    tp = TP("changelog", 0)
    kept = [m async for b in transport.read_partition(tp, 0, 5000) for m in b]

    assert len(kept) < 2500
    assert {m.key: m.value for m in kept} == {
        f"k{k}".encode(): str(4990 + k).encode() for k in range(10)
    }
    assert (await transport.end_offsets([tp]))[tp] == 5000


async def test_a_commit_for_a_partition_lost_in_a_rebalance_is_dropped(
    transport: MemoryTransport, caplog: pytest.LogCaptureFixture
) -> None:
    await transport.create_topic("moves", 2)
    first = transport.create_consumer("g", ["moves"], Listener())
    await first.start()
    second = transport.create_consumer("g", ["moves"], Listener())
    await second.start()
    assert first.assignment() == {TP("moves", 0)}

    with caplog.at_level(logging.WARNING):
        await first.commit({TP("moves", 0): 4, TP("moves", 1): 9})

    assert await second.committed(TP("moves", 0)) == 4
    assert await second.committed(TP("moves", 1)) is None
    assert "not committing [TP(topic='moves', partition=1)]" in caplog.text


async def test_a_failing_listener_is_logged_and_the_member_still_reads(
    transport: MemoryTransport, caplog: pytest.LogCaptureFixture
) -> None:
    producer = transport.create_producer()
    await producer.send("t", b"k", b"v")
    consumer = transport.create_consumer("g", ["t"], Listener(fail=True))

    with caplog.at_level(logging.ERROR):
        await consumer.start()

    assert "failed on_partitions_assigned" in caplog.text
    assert [m.value for m in await consumer.getmany(0.5, 10)] == [b"v"]


async def test_bad_sends_say_what_to_change(transport: MemoryTransport) -> None:
    producer = transport.create_producer()
    await transport.create_topic("two", 2)

    with pytest.raises(
        TransportError, match="partition 5 of topic .two.: it has 2 partitions, 0..1"
    ):
        await producer.send("two", b"k", b"v", partition=5)
    with pytest.raises(TypeError, match="must be bytes or None, got str"):
        await producer.send("two", b"k", "text")
    with pytest.raises(TransportError, match="create_producer.transactional_id"):
        await producer.commit_transaction({TP("two", 0): 1}, "g")
    with pytest.raises(TransportError, match="topic 'nope' does not exist"):
        await transport.end_offsets([TP("nope", 0)])
