"""The aiokafka producer and consumer behind :class:`KafkaTransport`.

The producer never waits per record: ``send`` hands the record to aiokafka's
batching accumulator and keeps the delivery future, and ``flush`` (or a
transaction commit) checks them all.  It uses ``acks="all"``: the record is
acknowledged once every in-sync replica has it, so a leader failover cannot
lose a record a table or a commit already counted; transactions require it
anyway, and with pipelined batches its cost is latency, not throughput.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka import TopicPartition as KafkaTP
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    ProducerFenced,
)
from aiokafka.structs import ConsumerRecord

from ..exceptions import TransportError
from .base import TP, Message, RebalanceListener, RecordMetadata
from .kafka_connection import broker_errors, translate_error

if TYPE_CHECKING:
    from .kafka import KafkaTransport

__all__ = ["KafkaConsumer", "KafkaProducer", "to_messages"]

logger = logging.getLogger(__name__)

_LINGER_MS = 5
# Delivered futures are dropped this often so a long run does not hoard them.
_PRUNE_EVERY = 20_000
_JOIN_TIMEOUT = 60.0


def to_messages(fetched: Mapping[KafkaTP, list[ConsumerRecord]]) -> list[Message]:
    """aiokafka's fetch result as one list, in offset order per partition."""
    return [
        Message(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp / 1000)
        for records in fetched.values()
        for r in records
    ]


class KafkaProducer:
    """An aiokafka producer; transactional when given a ``transactional_id``."""

    def __init__(
        self, transport: KafkaTransport, *, transactional_id: str | None = None
    ) -> None:
        self._transport = transport
        self.transactional_id = transactional_id
        self._producer: AIOKafkaProducer | None = None
        self._pending: list[tuple[str, asyncio.Future[object]]] = []
        self._failure: tuple[str, BaseException] | None = None
        self._failure_raised = False
        self._ready_topics: set[str] = set()
        self._in_transaction = False

    async def start(self) -> None:
        t = self._transport
        producer = AIOKafkaProducer(
            **t.kwargs,
            client_id=t.client_id,
            acks="all",
            linger_ms=_LINGER_MS,
            transactional_id=self.transactional_id,
        )
        with broker_errors("start the producer", t.kwargs):
            await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        """Flush and close; an open transaction is aborted, not committed."""
        producer = self._producer
        if producer is None:
            return
        try:
            if self._in_transaction:
                logger.info(
                    "aborting the open transaction of %r: it was never committed",
                    self.transactional_id,
                )
                with broker_errors("abort the transaction", self._transport.kwargs):
                    await producer.abort_transaction()
                self._in_transaction = False
                self._pending.clear()
            else:
                raised_before = self._failure_raised
                try:
                    await self.flush()
                except TransportError:
                    if not raised_before:  # news to the caller: say it
                        raise
        finally:
            self._producer = None
            await producer.stop()

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise TransportError("the producer is not started; await start() first")
        return self._producer

    async def _prepare(self, topic: str) -> AIOKafkaProducer:
        producer = self._started()
        if topic not in self._ready_topics:
            await self._transport.ensure_topics([topic])
            self._ready_topics.add(topic)
        if self.transactional_id is not None and not self._in_transaction:
            with broker_errors("begin a transaction", self._transport.kwargs):
                await producer.begin_transaction()
            self._in_transaction = True
        return producer

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
    ) -> None:
        """Enqueue one record; ``flush`` reports whether it was delivered."""
        producer = await self._prepare(topic)
        try:
            future = await producer.send(topic, value, key=key, partition=partition)
        except KafkaError as exc:
            action = f"send to topic {topic!r}"
            raise translate_error(exc, action, self._transport.kwargs) from exc
        self._pending.append((topic, future))
        if len(self._pending) >= _PRUNE_EVERY:
            self._prune()

    async def send_and_wait(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
    ) -> RecordMetadata:
        producer = await self._prepare(topic)
        with broker_errors(f"send to topic {topic!r}", self._transport.kwargs):
            future = await producer.send(topic, value, key=key, partition=partition)
            metadata = await future
        return RecordMetadata(metadata.topic, metadata.partition, metadata.offset)

    def _prune(self) -> None:
        pending = []
        for topic, future in self._pending:
            if not future.done():
                pending.append((topic, future))
            elif not future.cancelled():
                # Retrieve every error, so asyncio does not log each one as
                # "Future exception was never retrieved"; report the first.
                error = future.exception()
                if error is not None and self._failure is None:
                    self._failure = (topic, error)
        self._pending = pending

    async def flush(self) -> None:
        """Wait until every enqueued record is delivered.

        Raises:
            TransportError: naming the topic of the first record that failed;
                every later flush of this producer raises it again.
        """
        if self._producer is not None and self._pending:
            await self._producer.flush()
        for _, future in self._pending:
            if not future.done():
                await asyncio.wait([future])
        self._prune()

        # The failure stays: the caller commits the offsets of the messages
        # whose output was sent only after a flush that did not raise, and a
        # record that was never delivered must not be skipped by a later
        # commit (at-least-once).  A new producer starts afresh.
        failure = self._failure
        if failure is not None:
            self._failure_raised = True
            topic, error = failure
            raise TransportError(
                f"a record sent to topic {topic!r} was not delivered: "
                f"{type(error).__name__}: {error}"
            ) from error

    async def commit_transaction(
        self, offsets: Mapping[TP, int], group_id: str
    ) -> None:
        """Commit the open transaction with ``offsets`` for ``group_id``.

        Raises:
            TransportError: when the producer is not transactional, another
                producer with the same ``transactional_id`` took over, or the
                broker refused the commit (the transaction is then aborted).
        """
        if self.transactional_id is None:
            raise TransportError(
                "commit_transaction() needs a transactional producer; create it "
                "with create_producer(transactional_id=...)"
            )
        producer = self._started()
        if not self._in_transaction:
            await producer.begin_transaction()
            self._in_transaction = True

        try:
            if offsets:
                await producer.send_offsets_to_transaction(
                    {KafkaTP(*tp): offset for tp, offset in offsets.items()}, group_id
                )
            await producer.commit_transaction()
        except ProducerFenced as exc:
            self._in_transaction = False
            raise TransportError(
                f"transactional id {self.transactional_id!r} is used by a newer "
                "producer, so this one was fenced off; stop this worker"
            ) from exc
        except KafkaError as exc:
            await producer.abort_transaction()
            self._in_transaction = False
            raise TransportError(
                f"committing the transaction of {self.transactional_id!r} for group "
                f"{group_id!r} failed and it was aborted: {exc!r}"
            ) from exc
        self._in_transaction = False
        await self.flush()

        await producer.begin_transaction()
        self._in_transaction = True


class _ListenerAdapter(ConsumerRebalanceListener):
    """Hands aiokafka's rebalance callbacks to our listener, with our TPs."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Iterable[KafkaTP]) -> None:
        tps = {TP(tp.topic, tp.partition) for tp in revoked}
        logger.info("group %r: revoking %s", self._consumer.group_id, tps)
        await self._consumer.listener.on_partitions_revoked(tps)

    async def on_partitions_assigned(self, assigned: Iterable[KafkaTP]) -> None:
        tps = {TP(tp.topic, tp.partition) for tp in assigned}
        logger.info("group %r: assigned %s", self._consumer.group_id, tps)
        try:
            await self._consumer.listener.on_partitions_assigned(tps)
        finally:
            if self._consumer.joined is not None:
                self._consumer.joined.set()


class KafkaConsumer:
    """A member of a Kafka consumer group; commits only when told to."""

    def __init__(
        self,
        transport: KafkaTransport,
        group_id: str,
        topics: Iterable[str],
        listener: RebalanceListener,
        *,
        read_committed: bool = False,
    ) -> None:
        self._transport = transport
        self.group_id = group_id
        self.topics = sorted(set(topics))
        self.listener = listener
        self.read_committed = read_committed
        self.joined: asyncio.Event | None = None
        self._consumer: AIOKafkaConsumer | None = None

    def __repr__(self) -> str:
        return f"<KafkaConsumer {self.group_id!r} {self.topics}>"

    async def start(self) -> None:
        """Join the group; returns once the first assignment was handed over.

        Raises:
            TransportError: when the group does not settle within a minute.
        """
        t = self._transport
        self.joined = asyncio.Event()
        await t.ensure_topics(self.topics)
        isolation = "read_committed" if self.read_committed else "read_uncommitted"
        consumer = AIOKafkaConsumer(
            **t.kwargs,
            client_id=t.client_id,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level=isolation,
            # Range assignment keeps equal partition numbers of co-partitioned
            # topics on one member, as the embedded broker does.
            partition_assignment_strategy=(RangePartitionAssignor,),
            # Members learn of a rebalance at their next heartbeat; 1s instead
            # of 3s keeps a second worker or a notebook restart snappy.
            heartbeat_interval_ms=1000,
        )
        with broker_errors(f"join group {self.group_id!r}", t.kwargs):
            await consumer.start()
        consumer.subscribe(self.topics, listener=_ListenerAdapter(self))
        self._consumer = consumer

        try:
            await asyncio.wait_for(self.joined.wait(), _JOIN_TIMEOUT)
        except asyncio.TimeoutError:
            await self.stop()
            raise TransportError(
                f"group {self.group_id!r} gave this member no assignment within "
                f"{_JOIN_TIMEOUT:.0f}s; check the broker's group coordinator"
            ) from None

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    def assignment(self) -> set[TP]:
        if self._consumer is None:
            return set()
        return {TP(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    async def getmany(self, timeout: float, max_records: int) -> list[Message]:
        if self._consumer is None:
            return []
        with broker_errors(
            f"fetch for group {self.group_id!r}", self._transport.kwargs
        ):
            fetched = await self._consumer.getmany(
                timeout_ms=int(timeout * 1000), max_records=max_records
            )
        return to_messages(fetched)

    async def commit(self, offsets: Mapping[TP, int]) -> None:
        """Commit offsets of the partitions this member holds.

        A commit that a rebalance overtook is logged as a warning and dropped:
        the partition's new owner resumes from the last successful commit.
        """
        consumer = self._consumer
        if consumer is None or not offsets:
            return
        held = consumer.assignment()
        commit = {KafkaTP(*tp): o for tp, o in offsets.items() if KafkaTP(*tp) in held}
        lost = sorted(TP(*tp) for tp in offsets if KafkaTP(*tp) not in held)
        if lost:
            logger.warning(
                "group %r: not committing %s: no longer assigned to this member "
                "after a rebalance; the new owner resumes from the last commit",
                self.group_id,
                lost,
            )
        if not commit:
            return

        try:
            await consumer.commit(commit)
        except (CommitFailedError, IllegalStateError) as exc:
            logger.warning(
                "group %r: commit of %s failed during a rebalance (%s); the new "
                "owner resumes from the last commit",
                self.group_id,
                sorted(TP(*tp) for tp in commit),
                exc,
            )
        except KafkaError as exc:
            raise TransportError(
                f"group {self.group_id!r} could not commit {sorted(commit)}: {exc!r}"
            ) from exc

    async def committed(self, tp: TP) -> int | None:
        if self._consumer is None:
            raise TransportError("the consumer is not started; await start() first")
        with broker_errors(
            f"read offsets of group {self.group_id!r}", self._transport.kwargs
        ):
            return await self._consumer.committed(KafkaTP(*tp))
