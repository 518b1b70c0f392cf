"""The state of the embedded broker: topics, partition logs, group offsets.

One :class:`MemoryBroker` per name lives for the life of the process, so a
second App on ``memory://`` finds the topics and committed offsets the first
one left behind, while ``memory://NAME`` gives tests an isolated instance.
Everything here is synchronous; the driver in :mod:`streamkit.transport.memory`
adds consumers, producers and the group protocol on top.

A broker instance is meant to be used from one event loop at a time (it may
move to a new loop once the old one is gone, as with two ``asyncio.run``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any, Protocol, TypeVar

from ..exceptions import ConfigurationError, TransportError
from .base import TP, Message, RecordMetadata
from .partitioner import partition_for

__all__ = [
    "Group",
    "MemoryBroker",
    "PartitionLog",
    "Topic",
    "discard_broker",
    "get_broker",
    "range_assignment",
]

logger = logging.getLogger(__name__)

_offset_of = itemgetter(0)

# A compacted log is compacted again once it holds this many records more than
# twice what the last compaction kept, so appends stay amortised O(1).
_COMPACTION_SLACK = 1024


class Reader(Protocol):
    """Something waiting for records of a topic (a consumer)."""

    def wake(self) -> None: ...


class Member(Protocol):
    """A group member, as far as assignment is concerned."""

    @property
    def topics(self) -> frozenset[str]: ...


M = TypeVar("M", bound=Member)


class PartitionLog:
    """The records of one partition, in offset order.

    Records are kept as ``(offset, key, value, timestamp)`` tuples: the
    garbage collector stops tracking a tuple of plain values, so a log of
    hundreds of thousands of records does not slow down every collection.
    They become :class:`Message` objects when read.

    A plain log keeps every record, so the record at offset ``o`` is
    ``records[o]``.  A compacted log drops older records of a key, after which
    offsets have gaps and a position is found by bisection.
    """

    __slots__ = ("tp", "records", "next_offset", "compacted", "_dense", "_compact_at")

    def __init__(self, tp: TP, *, compacted: bool) -> None:
        self.tp = tp
        self.records: list[tuple[int, bytes | None, bytes | None, float]] = []
        self.next_offset = 0
        self.compacted = compacted
        self._dense = True
        self._compact_at = _COMPACTION_SLACK

    def __len__(self) -> int:
        return len(self.records)

    def append(self, key: bytes | None, value: bytes | None) -> int:
        """Append one record and return its offset."""
        offset = self.next_offset
        self.records.append((offset, key, value, time.time()))
        self.next_offset = offset + 1

        if self.compacted and len(self.records) >= self._compact_at:
            self.compact()
        return offset

    def read(self, offset: int, max_records: int) -> list[Message]:
        """Up to ``max_records`` records from ``offset`` on."""
        if self._dense:
            index = offset
        else:
            index = bisect_left(self.records, offset, key=_offset_of)
        topic, partition = self.tp
        return [
            Message(topic, partition, *record)
            for record in self.records[index : index + max_records]
        ]

    def compact(self) -> None:
        """Keep only the latest record of each key, tombstones included.

        The last record of the log always survives, so ``next_offset`` and
        every reader position stay valid.
        """
        seen: set[bytes | None] = set()
        kept = []
        for record in reversed(self.records):
            if record[1] not in seen:
                seen.add(record[1])
                kept.append(record)
        kept.reverse()

        dropped = len(self.records) - len(kept)
        self.records = kept
        self._dense = self._dense and dropped == 0
        self._compact_at = 2 * len(kept) + _COMPACTION_SLACK
        logger.debug("compacted %s[%d]: dropped %d records", *self.tp, dropped)


class Topic:
    """A topic of the embedded broker: its partition logs and its readers."""

    __slots__ = ("name", "logs", "compacted", "readers", "_round_robin")

    def __init__(self, name: str, partitions: int, *, compacted: bool) -> None:
        self.name = name
        self.compacted = compacted
        self.logs = [
            PartitionLog(TP(name, p), compacted=compacted) for p in range(partitions)
        ]
        self.readers: set[Reader] = set()
        self._round_robin = itertools.count()

    def choose_partition(self, key: bytes | None) -> int:
        """Kafka's default for a keyed record; round-robin for an unkeyed one."""
        if key is None:
            return next(self._round_robin) % len(self.logs)
        return partition_for(key, len(self.logs))


class Group:
    """A consumer group: its committed offsets and its current members.

    The offsets outlive the members, so a group that comes back resumes where
    it committed.  The lock serialises rebalances; it is created per event
    loop because an asyncio lock cannot move between loops.
    """

    __slots__ = ("group_id", "committed", "members", "_lock", "_lock_loop")

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.committed: dict[TP, int] = {}
        self.members: list[Any] = []  # Any: the driver's consumer class
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def lock(self) -> asyncio.Lock:
        """The rebalance lock for the running event loop."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock


def range_assignment(
    members: Sequence[M], partitions: Mapping[str, int]
) -> dict[M, frozenset[TP]]:
    """Kafka's range assignment: per topic, contiguous runs of partitions.

    ``members`` in their join order; each has the ``topics`` it subscribes
    to.  Topics with equal partition counts give the same member the same
    partition numbers, which keeps co-partitioned topics together.
    """
    assigned: dict[M, set[TP]] = {m: set() for m in members}
    for topic, count in partitions.items():
        subscribers = [m for m in members if topic in m.topics]
        if not subscribers:
            continue
        per_member, extra = divmod(count, len(subscribers))
        first = 0
        for index, member in enumerate(subscribers):
            size = per_member + (1 if index < extra else 0)
            assigned[member].update(TP(topic, p) for p in range(first, first + size))
            first += size
    return {m: frozenset(tps) for m, tps in assigned.items()}


class MemoryBroker:
    """One embedded broker: topics by name and committed offsets by group."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.topics: dict[str, Topic] = {}
        self.groups: dict[str, Group] = {}

    def __repr__(self) -> str:
        return f"<MemoryBroker {self.name!r}: {len(self.topics)} topics>"

    def create_topic(self, name: str, partitions: int, *, compacted: bool) -> Topic:
        """The topic called ``name``, created when it does not exist yet.

        Raises:
            ConfigurationError: when ``partitions`` is below 1.
        """
        topic = self.topics.get(name)
        if topic is not None:
            return topic

        if partitions < 1:
            raise ConfigurationError(
                f"cannot create topic {name!r} with {partitions!r} partitions; "
                "pass partitions=1 or more"
            )
        topic = self.topics[name] = Topic(name, partitions, compacted=compacted)
        logger.info(
            "memory broker %r: created topic %r with %d partitions%s",
            self.name,
            name,
            partitions,
            " (compacted)" if compacted else "",
        )
        return topic

    def topic(self, name: str) -> Topic:
        """The existing topic ``name``.

        Raises:
            TransportError: when the topic does not exist.
        """
        try:
            return self.topics[name]
        except KeyError:
            raise TransportError(
                f"topic {name!r} does not exist on memory broker {self.name!r}; "
                "create it with create_topic() or send to it first"
            ) from None

    def log(self, tp: TP) -> PartitionLog:
        """The log of ``tp``.

        Raises:
            TransportError: when the topic or the partition does not exist.
        """
        logs = self.topic(tp.topic).logs
        if not 0 <= tp.partition < len(logs):
            raise TransportError(
                f"topic {tp.topic!r} has partitions 0..{len(logs) - 1}, "
                f"not {tp.partition!r}"
            )
        return logs[tp.partition]

    def append(
        self,
        topic: Topic,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
    ) -> RecordMetadata:
        """Append one record to ``topic`` and wake its readers.

        Raises:
            TransportError: for a partition the topic does not have, or an
                unkeyed record on a compacted topic (Kafka refuses those too).
        """
        if partition is None:
            partition = topic.choose_partition(key)
        elif not 0 <= partition < len(topic.logs):
            raise TransportError(
                f"cannot send to partition {partition!r} of topic {topic.name!r}: "
                f"it has {len(topic.logs)} partitions, 0..{len(topic.logs) - 1}"
            )
        if key is None and topic.compacted:
            raise TransportError(
                f"topic {topic.name!r} is compacted and needs a key on every "
                "record; send with a key"
            )

        offset = topic.logs[partition].append(key, value)
        for reader in topic.readers:
            reader.wake()
        return RecordMetadata(topic.name, partition, offset)

    def group(self, group_id: str) -> Group:
        """The consumer group ``group_id``, created on first use."""
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = Group(group_id)
        return group


_brokers: dict[str, MemoryBroker] = {}


def get_broker(name: str = "") -> MemoryBroker:
    """The broker instance called ``name`` in this process (``""``: the default).

    Created on first use; ``memory://NAME`` URLs resolve through here.
    """
    broker = _brokers.get(name)
    if broker is None:
        broker = _brokers[name] = MemoryBroker(name)
    return broker


def discard_broker(name: str = "") -> None:
    """Forget the broker instance ``name`` and everything it holds.

    Transports already connected to it keep the old instance; new ones start
    from an empty broker.
    """
    _brokers.pop(name, None)
