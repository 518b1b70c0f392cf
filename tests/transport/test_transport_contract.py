"""The behaviour the runtime relies on, pinned identically for both drivers.

Every test runs on the embedded broker and on the real Kafka-protocol broker,
so ``memory://`` and ``kafka://`` cannot drift apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiokafka.partitioner import DefaultPartitioner

from streamkit.exceptions import TransportError
from streamkit.transport import (
    TP,
    Consumer,
    Message,
    Producer,
    Transport,
    create_transport,
)


class RecordingListener:
    """Records the rebalance callbacks a consumer makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, set[TP]]] = []

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.calls.append(("revoked", set(revoked)))

    async def on_partitions_assigned(self, assigned: set[TP]) -> None:
        self.calls.append(("assigned", set(assigned)))


class Clients:
    """Starts producers and consumers and stops them after the test."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.started: list[Consumer | Producer] = []

    async def producer(self, transactional_id: str | None = None) -> Producer:
        producer = self.transport.create_producer(transactional_id=transactional_id)
        await producer.start()
        self.started.append(producer)
        return producer

    async def consumer(
        self, group: str, topics: list[str], *, read_committed: bool = False
    ) -> tuple[Consumer, RecordingListener]:
        listener = RecordingListener()
        consumer = self.transport.create_consumer(
            group, topics, listener, read_committed=read_committed
        )
        await consumer.start()
        self.started.append(consumer)
        return consumer, listener

    async def stop(self, client: Consumer | Producer) -> None:
        self.started.remove(client)
        await client.stop()


@pytest.fixture
async def transport(broker_url: str) -> AsyncIterator[Transport]:
    transport = create_transport(broker_url, default_partitions=4)
    await transport.start()
    yield transport
    await transport.stop()


@pytest.fixture
async def clients(transport: Transport) -> AsyncIterator[Clients]:
    clients = Clients(transport)
    yield clients
    for client in reversed(clients.started):
        await client.stop()


async def drain(consumer: Consumer, count: int, timeout: float = 30.0) -> list[Message]:
    """Exactly what the consumer returns until ``count`` records, plus a grace poll."""
    received: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        received += await consumer.getmany(timeout=0.5, max_records=1000)
    received += await consumer.getmany(timeout=0.3, max_records=1000)
    return received


async def eventually(condition, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def kafka_partition(key: bytes, partitions: int) -> int:
    every = list(range(partitions))
    return DefaultPartitioner()(key, every, every)


async def test_created_topic_reports_its_partition_count(
    transport: Transport, unique: str
) -> None:
    topic = f"created-{unique}"
    assert await transport.partition_count(topic) is None

    await transport.create_topic(topic, 5)
    await transport.create_topic(topic, 3)  # exists: left as it is

    assert await transport.partition_count(topic) == 5
    assert (await transport.list_topics())[topic] == 5


async def test_keyed_records_land_on_kafkas_default_partition(
    transport: Transport, clients: Clients, unique: str
) -> None:
    topic = f"keyed-{unique}"
    await transport.create_topic(topic, 6)
    producer = await clients.producer()

    for i in range(60):
        key = f"customer-{i}".encode()
        sent = await producer.send_and_wait(topic, key, b"v")
        assert sent.partition == kafka_partition(key, 6)

    consumer, _ = await clients.consumer(f"g-{unique}", [topic])
    received = await drain(consumer, 60)
    assert len(received) == 60
    assert all(m.partition == kafka_partition(m.key, 6) for m in received)


async def test_getmany_returns_every_record_in_offset_order_per_partition(
    transport: Transport, clients: Clients, unique: str
) -> None:
    topic = f"order-{unique}"
    await transport.create_topic(topic, 3)
    producer = await clients.producer()
    for i in range(900):
        await producer.send(topic, f"k{i % 17}".encode(), str(i).encode())
    await producer.flush()

    consumer, _ = await clients.consumer(f"g-{unique}", [topic])
    received = await drain(consumer, 900)

    assert sorted(int(m.value) for m in received) == list(range(900))
    for partition in range(3):
        offsets = [m.offset for m in received if m.partition == partition]
        assert offsets == list(range(len(offsets)))
    # Records of one key keep the order they were sent in.
    for k in range(17):
        values = [int(m.value) for m in received if m.key == f"k{k}".encode()]
        assert values == list(range(k, 900, 17))


async def test_new_consumer_of_a_group_resumes_from_its_commit(
    transport: Transport, clients: Clients, unique: str
) -> None:
    topic, group = f"resume-{unique}", f"g-{unique}"
    tp = TP(topic, 0)
    await transport.create_topic(topic, 1)
    producer = await clients.producer()
    for i in range(10):
        await producer.send(topic, None, f"v{i}".encode())
    await producer.flush()

    first, _ = await clients.consumer(group, [topic])
    assert [m.offset for m in await drain(first, 10)] == list(range(10))
    await first.commit({tp: 6})
    assert await first.committed(tp) == 6
    await clients.stop(first)

    second, _ = await clients.consumer(group, [topic])
    assert await second.committed(tp) == 6
    resumed = await drain(second, 4)
    assert [(m.offset, m.value) for m in resumed] == [
        (i, f"v{i}".encode()) for i in range(6, 10)
    ]


async def test_two_consumers_of_a_group_split_the_partitions(
    transport: Transport, clients: Clients, unique: str
) -> None:
    topic, group = f"split-{unique}", f"g-{unique}"
    every = {TP(topic, p) for p in range(4)}
    await transport.create_topic(topic, 4)

    first, first_calls = await clients.consumer(group, [topic])
    assert first.assignment() == every
    assert first_calls.calls == [("revoked", set()), ("assigned", every)]

    second, _ = await clients.consumer(group, [topic])
    await eventually(lambda: len(first.assignment()) == 2)
    assert first.assignment() | second.assignment() == every
    assert not first.assignment() & second.assignment()
    # The eager protocol: everything is revoked before the new assignment.
    assert first_calls.calls[-2:] == [
        ("revoked", every),
        ("assigned", first.assignment()),
    ]

    producer = await clients.producer()
    for i in range(400):
        await producer.send(topic, str(i).encode(), str(i).encode())
    await producer.flush()
    got_first: list[Message] = []
    got_second: list[Message] = []
    deadline = time.monotonic() + 30
    while len(got_first) + len(got_second) < 400 and time.monotonic() < deadline:
        got_first += await first.getmany(timeout=0.2, max_records=1000)
        got_second += await second.getmany(timeout=0.2, max_records=1000)
    assert {m.tp for m in got_first} <= first.assignment()
    assert {m.tp for m in got_second} <= second.assignment()
    values = sorted(int(m.value) for m in got_first + got_second)
    assert values == list(range(400))

    await clients.stop(second)
    await eventually(lambda: first.assignment() == every)


async def test_end_offsets_count_the_records_sent(
    transport: Transport, clients: Clients, unique: str
) -> None:
    topic = f"ends-{unique}"
    await transport.create_topic(topic, 3)
    producer = await clients.producer()
    for partition, count in [(0, 5), (2, 7)]:
        for i in range(count):
            await producer.send(topic, b"k", str(i).encode(), partition=partition)
    await producer.flush()

    ends = await transport.end_offsets([TP(topic, p) for p in range(3)])
    assert ends == {TP(topic, 0): 5, TP(topic, 1): 0, TP(topic, 2): 7}


async def test_read_partition_returns_exactly_the_records_asked_for(
    transport: Transport, clients: Clients, unique: str
) -> None:
    topic = f"read-{unique}"
    tp = TP(topic, 1)
    await transport.create_topic(topic, 2)
    producer = await clients.producer()
    for i in range(50):
        await producer.send(topic, f"k{i}".encode(), f"v{i}".encode(), partition=1)
    await producer.flush()

    read = [m async for batch in transport.read_partition(tp, 10, 40) for m in batch]

    assert [(m.offset, m.key, m.value) for m in read] == [
        (i, f"k{i}".encode(), f"v{i}".encode()) for i in range(10, 40)
    ]
    assert all(m.tp == tp for m in read)


async def test_compacted_topic_readers_see_the_latest_value_per_key(
    transport: Transport, clients: Clients, unique: str
) -> None:
    topic = f"changelog-{unique}"
    tp = TP(topic, 0)
    await transport.create_topic(topic, 1, compacted=True)
    producer = await clients.producer()
    expected: dict[bytes, bytes | None] = {}
    for i in range(3000):
        key = f"k{i % 37}".encode()
        value = None if i == 2990 else str(i).encode()  # one tombstone
        await producer.send(topic, key, value)
        expected[key] = value
    await producer.flush()

    end = (await transport.end_offsets([tp]))[tp]
    assert end == 3000

    latest: dict[bytes | None, bytes | None] = {}
    offsets = []
    async for batch in transport.read_partition(tp, 0, end):
        for message in batch:
            latest[message.key] = message.value
            offsets.append(message.offset)
    assert latest == expected
    assert offsets == sorted(offsets) and offsets[-1] == 2999


async def test_transactional_commit_commits_the_group_offsets(
    transport: Transport, clients: Clients, unique: str
) -> None:
    source, sink, group = f"src-{unique}", f"sink-{unique}", f"g-{unique}"
    await transport.create_topic(source, 1)
    await transport.create_topic(sink, 1)
    producer = await clients.producer(transactional_id=f"tx-{unique}")

    await producer.send(sink, b"k", b"inside the transaction")
    await producer.commit_transaction({TP(source, 0): 3}, group)

    consumer, _ = await clients.consumer(group, [source, sink], read_committed=True)
    assert await consumer.committed(TP(source, 0)) == 3
    received = await drain(consumer, 1)
    assert [(m.topic, m.value) for m in received] == [(sink, b"inside the transaction")]


async def test_unkeyed_record_on_a_compacted_topic_is_refused(
    transport: Transport, clients: Clients, unique: str
) -> None:
    topic = f"compacted-{unique}"
    await transport.create_topic(topic, 1, compacted=True)
    producer = await clients.producer()

    # Kafka reports it on delivery, the embedded broker at once.
    with pytest.raises(TransportError, match=topic):
        await producer.send(topic, None, b"no key")
        await producer.flush()
