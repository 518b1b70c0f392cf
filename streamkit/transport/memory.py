"""The ``memory://`` driver: the embedded, in-process broker.

``memory://`` is the process's default broker instance and ``memory://NAME``
a separate one (tests use a name each to stay isolated).  It keeps Kafka's
semantics where the runtime can observe them: murmur2 keyed partitioning,
offsets, committed offsets per consumer group, the eager rebalance protocol
(every member first has all its partitions revoked, then gets its new
assignment) with range assignment, end offsets and compacted topics.

What it does not model: replication, retention, transactions that abort
(a transaction commits its offsets atomically; its records are visible at
once) and consumers on several event loops at the same time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Iterable, Mapping

from ..exceptions import TransportError
from .base import TP, Message, RebalanceListener, RecordMetadata
from .memory_broker import Group, MemoryBroker, Topic, get_broker, range_assignment

__all__ = ["MemoryConsumer", "MemoryProducer", "MemoryTransport"]

logger = logging.getLogger(__name__)

_READ_BATCH = 10_000
_member_ids = itertools.count(1)


def _as_bytes(data: object, what: str) -> bytes:
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise TypeError(
        f"record {what} must be bytes or None, got {type(data).__name__}; "
        "encode it with the topic's codec before sending"
    )


class MemoryTransport:
    """A connection to the embedded broker instance ``name``.

    Args:
        name: the broker instance (``""`` is the process default).
        default_partitions: partitions of a topic created implicitly, by a
            send or a subscription to a topic that does not exist.
    """

    def __init__(self, name: str = "", *, default_partitions: int = 8) -> None:
        self.broker: MemoryBroker = get_broker(name)
        self.default_partitions = default_partitions

    def __repr__(self) -> str:
        return f"MemoryTransport(url='memory://{self.broker.name}')"

    async def start(self) -> None:
        logger.debug("connected to memory broker %r", self.broker.name)

    async def stop(self) -> None:
        # The broker outlives its connections: a later App resumes from it.
        logger.debug("disconnected from memory broker %r", self.broker.name)

    async def create_topic(
        self, name: str, partitions: int, *, compacted: bool = False
    ) -> None:
        self.broker.create_topic(name, partitions, compacted=compacted)

    async def partition_count(self, topic: str) -> int | None:
        found = self.broker.topics.get(topic)
        return None if found is None else len(found.logs)

    async def list_topics(self) -> dict[str, int]:
        return {name: len(t.logs) for name, t in self.broker.topics.items()}

    async def end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        """The next offset of each partition.

        Raises:
            TransportError: for a topic or partition that does not exist.
        """
        return {TP(*tp): self.broker.log(tp).next_offset for tp in tps}

    def create_consumer(
        self,
        group_id: str,
        topics: Iterable[str],
        listener: RebalanceListener,
        *,
        read_committed: bool = False,
    ) -> MemoryConsumer:
        # read_committed changes nothing here: no transaction ever aborts.
        return MemoryConsumer(self, group_id, topics, listener)

    def create_producer(self, *, transactional_id: str | None = None) -> MemoryProducer:
        return MemoryProducer(self, transactional_id=transactional_id)

    def _topic(self, name: str) -> Topic:
        """The topic ``name``, created with the default partitions if needed."""
        found = self.broker.topics.get(name)
        if found is None:
            found = self.broker.create_topic(
                name, self.default_partitions, compacted=False
            )
        return found

    async def read_partition(
        self, tp: TP, start: int, end: int
    ) -> AsyncIterator[list[Message]]:
        """Batches of the records of ``tp`` with ``start <= offset < end``.

        Stops at the end offset the partition had when called; records
        appended meanwhile are not waited for.

        Raises:
            TransportError: for a topic or partition that does not exist.
        """
        log = self.broker.log(tp)
        end = min(end, log.next_offset)
        position = start
        while position < end:
            batch = log.read(position, _READ_BATCH)
            while batch and batch[-1].offset >= end:
                batch.pop()
            if not batch:
                return
            position = batch[-1].offset + 1
            yield batch

            # A long changelog must not freeze the loop (notebook kernels).
            await asyncio.sleep(0)


class MemoryProducer:
    """Appends records to the embedded broker as they are sent."""

    def __init__(
        self, transport: MemoryTransport, *, transactional_id: str | None = None
    ) -> None:
        self._transport = transport
        self.transactional_id = transactional_id

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
    ) -> RecordMetadata:
        """Append at once and return where the record landed.

        Raises:
            TransportError: for a partition the topic does not have, or an
                unkeyed record on a compacted topic.
            TypeError: when ``key`` or ``value`` is not bytes or None.
        """
        if key is not None and type(key) is not bytes:
            key = _as_bytes(key, "key")
        if value is not None and type(value) is not bytes:
            value = _as_bytes(value, "value")
        transport = self._transport
        found = transport.broker.topics.get(topic) or transport._topic(topic)
        return transport.broker.append(found, key, value, partition)

    async def send_and_wait(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
    ) -> RecordMetadata:
        return await self.send(topic, key, value, partition)

    async def flush(self) -> None:
        pass

    async def commit_transaction(
        self, offsets: Mapping[TP, int], group_id: str
    ) -> None:
        """Commit ``offsets`` for ``group_id``; atomic in a single process.

        Raises:
            TransportError: when the producer has no ``transactional_id``.
        """
        if self.transactional_id is None:
            raise TransportError(
                "commit_transaction() needs a transactional producer; create it "
                "with create_producer(transactional_id=...)"
            )
        self._transport.broker.group(group_id).committed.update(
            {TP(*tp): offset for tp, offset in offsets.items()}
        )


class MemoryConsumer:
    """A member of a consumer group on the embedded broker."""

    def __init__(
        self,
        transport: MemoryTransport,
        group_id: str,
        topics: Iterable[str],
        listener: RebalanceListener,
    ) -> None:
        self._transport = transport
        self._group: Group = transport.broker.group(group_id)
        self.group_id = group_id
        self.topics = frozenset(topics)
        self.member_id = next(_member_ids)
        self._listener = listener
        self._assignment: frozenset[TP] = frozenset()

        # Fetchable partitions: emptied before a revocation is announced and
        # filled only after the assignment was, as the protocol promises.
        self._positions: dict[TP, int] = {}
        self._rotation = 0
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False

    def __repr__(self) -> str:
        return f"<MemoryConsumer {self.group_id!r}#{self.member_id}>"

    async def start(self) -> None:
        """Join the group; returns with this member's first assignment made."""
        self._loop = asyncio.get_running_loop()
        self._running = True
        for name in self.topics:
            self._transport._topic(name).readers.add(self)
        await _rebalance(self._group, joining=self)

    async def stop(self) -> None:
        """Leave the group; the remaining members rebalance."""
        self._running = False
        for name in self.topics:
            self._transport._topic(name).readers.discard(self)
        self._positions = {}
        self.wake()
        if self in self._group.members:
            await _rebalance(self._group, leaving=self)
        self._assignment = frozenset()

    def assignment(self) -> set[TP]:
        return set(self._assignment)

    def wake(self) -> None:
        """Called by the broker when a subscribed topic got a record."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def getmany(self, timeout: float, max_records: int) -> list[Message]:
        batch = self._fetch(max_records)
        if batch or timeout <= 0:
            return batch

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not batch and self._running:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._wait(loop, remaining)
            batch = self._fetch(max_records)
        return batch

    async def _wait(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _fetch(self, max_records: int) -> list[Message]:
        positions = self._positions
        if not positions:
            return []
        topics = self._transport.broker.topics
        ready = [
            (tp, log)
            for tp, log in (
                (tp, topics[tp.topic].logs[tp.partition]) for tp in positions
            )
            if log.next_offset > positions[tp]
        ]
        if not ready:
            return []

        # Rotate the starting partition and give each an equal share first, so
        # one partition's backlog cannot starve the others.
        self._rotation = start = (self._rotation + 1) % len(ready)
        ready = ready[start:] + ready[:start]
        share = max(1, max_records // len(ready))
        batch: list[Message] = []
        for limit in (share, max_records):
            for tp, log in ready:
                room = min(limit, max_records - len(batch))
                if room <= 0:
                    return batch
                records = log.read(positions[tp], room)
                if records:
                    positions[tp] = records[-1].offset + 1
                    batch.extend(records)
        return batch

    async def commit(self, offsets: Mapping[TP, int]) -> None:
        """Commit offsets of partitions this member holds.

        Offsets of partitions a rebalance moved away are not committed (their
        new owner's commits win); that is logged as a warning, as with Kafka.
        """
        lost = sorted(TP(*tp) for tp in offsets if tp not in self._assignment)
        if lost:
            logger.warning(
                "group %r: not committing %s: no longer assigned to this member "
                "after a rebalance; the new owner resumes from the last commit",
                self.group_id,
                lost,
            )
        self._group.committed.update(
            {TP(*tp): o for tp, o in offsets.items() if tp in self._assignment}
        )

    async def committed(self, tp: TP) -> int | None:
        return self._group.committed.get(TP(*tp))

    async def _revoke(self) -> None:
        revoked = set(self._assignment)
        self._positions = {}
        logger.info("group %r: revoking %s from %r", self.group_id, revoked, self)
        try:
            await self._listener.on_partitions_revoked(revoked)
        except Exception:
            logger.exception(
                "group %r: listener of %r failed on_partitions_revoked(%s)",
                self.group_id,
                self,
                revoked,
            )

    async def _assign(self, assigned: frozenset[TP]) -> None:
        self._assignment = assigned
        logger.info("group %r: assigning %s to %r", self.group_id, assigned, self)
        try:
            await self._listener.on_partitions_assigned(set(assigned))
        except Exception:
            logger.exception(
                "group %r: listener of %r failed on_partitions_assigned(%s)",
                self.group_id,
                self,
                assigned,
            )

        # Positions are read after every revocation of this rebalance ran, so
        # they include what the previous owners committed on their way out.
        committed = self._group.committed
        self._positions = {tp: committed.get(tp, 0) for tp in sorted(assigned)}
        self.wake()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _rebalance(
    group: Group,
    *,
    joining: MemoryConsumer | None = None,
    leaving: MemoryConsumer | None = None,
) -> None:
    async with group.lock():
        # Members whose event loop is gone never left properly; like a session
        # timeout in Kafka, they are dropped without callbacks.
        members = [
            m
            for m in group.members
            if m is not leaving and m._loop is not None and not m._loop.is_closed()
        ]
        if joining is not None:
            members.append(joining)
        group.members = members

        for member in members:
            await member._revoke()

        partitions = {
            t: len(m._transport._topic(t).logs)
            for m in members
            for t in sorted(m.topics)
        }
        for member, assigned in range_assignment(members, partitions).items():
            await member._assign(assigned)
