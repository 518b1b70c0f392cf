"""The transport protocol: what the runtime needs from a broker.

Two drivers implement it: :mod:`streamkit.transport.memory` (the embedded,
in-process broker) and :mod:`streamkit.transport.kafka` (aiokafka).  The
runtime only talks to these protocols, so the behavioural tests can run the
same App on both drivers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class TP(NamedTuple):
    """A topic partition."""

    topic: str
    partition: int


@dataclass(slots=True)
class Message:
    """One record as fetched from the broker, still encoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # seconds since the epoch

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


class RecordMetadata(NamedTuple):
    """Where a sent record landed."""

    topic: str
    partition: int
    offset: int


class RebalanceListener(Protocol):
    """Told by a consumer when its group moves partitions to or from it.

    ``on_partitions_revoked`` is awaited before the partitions leave, so the
    runtime can commit what it processed; ``on_partitions_assigned`` is awaited
    before the first message of a newly assigned partition is returned.
    """

    async def on_partitions_revoked(self, revoked: set[TP]) -> None: ...

    async def on_partitions_assigned(self, assigned: set[TP]) -> None: ...


class Consumer(Protocol):
    """A group member reading a set of topics."""

    async def start(self) -> None:
        """Join the group; returns once the first assignment is known."""

    async def stop(self) -> None:
        """Leave the group (does not commit)."""

    def assignment(self) -> set[TP]:
        """The partitions currently assigned to this member."""

    async def getmany(self, timeout: float, max_records: int) -> list[Message]:
        """Up to ``max_records`` messages, in offset order per partition.

        Waits at most ``timeout`` seconds when nothing is available and then
        returns an empty list.  Positions start at the group's committed
        offset, or at the earliest offset when the group has none.
        """

    async def commit(self, offsets: Mapping[TP, int]) -> None:
        """Commit, per partition, the offset of the next message to read."""

    async def committed(self, tp: TP) -> int | None:
        """The group's committed offset for ``tp``, or None."""


class Producer(Protocol):
    """Sends records; ``send`` enqueues, ``flush`` waits for delivery."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Flush and close."""

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
    ) -> RecordMetadata | None:
        """Enqueue one record.

        With ``partition=None`` a keyed record goes to
        ``murmur2(key) % partitions`` (Kafka's default partitioner) and an
        unkeyed one to any partition.  Returns the metadata when the driver
        knows it at once (memory), else None; ``flush`` raises on failures.
        """

    async def send_and_wait(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
    ) -> RecordMetadata:
        """Send one record and wait until the broker has it."""

    async def flush(self) -> None:
        """Wait until every enqueued record is delivered; raise if one failed."""

    async def commit_transaction(
        self, offsets: Mapping[TP, int], group_id: str
    ) -> None:
        """Exactly-once: commit the open transaction with the group offsets.

        Only called on producers created with ``transactional_id``.  Opens the
        next transaction before returning, so sends can continue.
        """


class Transport(Protocol):
    """A broker connection: topics, producers, consumers."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def create_topic(
        self, name: str, partitions: int, *, compacted: bool = False
    ) -> None:
        """Create the topic; does nothing when it exists already."""

    async def partition_count(self, topic: str) -> int | None:
        """Number of partitions, or None when the topic does not exist."""

    async def list_topics(self) -> dict[str, int]:
        """Every topic with its partition count."""

    async def end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        """The offset the next record of each partition will get."""

    def create_consumer(
        self,
        group_id: str,
        topics: Iterable[str],
        listener: RebalanceListener,
        *,
        read_committed: bool = False,
    ) -> Consumer: ...

    def create_producer(self, *, transactional_id: str | None = None) -> Producer: ...

    def read_partition(
        self, tp: TP, start: int, end: int
    ) -> AsyncIterator[list[Message]]:
        """Batches of the records of ``tp`` with ``start <= offset < end``.

        Used to recover tables from their changelog; no group is joined.
        """
