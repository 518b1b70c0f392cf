"""The ``kafka://`` driver: topics and metadata through aiokafka's admin client.

The producer and consumer live in :mod:`streamkit.transport.kafka_clients`.
Topics are created explicitly (with the transport's default partition count)
before anything sends to or subscribes to them, because a broker that
auto-creates topics on a metadata request would give them its own default,
and a keyed record would then land on a different partition than in
``memory://``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from ..exceptions import TransportError
from .base import TP, Message, RebalanceListener
from .kafka_clients import KafkaConsumer, KafkaProducer, to_messages
from .kafka_connection import broker_errors, client_kwargs

__all__ = ["KafkaTransport", "client_kwargs"]

logger = logging.getLogger(__name__)

_INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})
_READ_BATCH = 10_000
# A changelog read that makes no progress this long is reported, not waited on.
_READ_STALL_SECONDS = 30.0


class KafkaTransport:
    """A connection to a Kafka cluster.

    Args:
        bootstrap: ``"host:port;host2:port2"`` or a list of ``"host:port"``.
        credentials: SASL or SSL credentials (see :func:`client_kwargs`).
        default_partitions: partitions of a topic created implicitly, by a
            send or a subscription to a topic that does not exist.
        client_id: the client id the broker sees.
        replication_factor: replicas of the topics this transport creates.
    """

    def __init__(
        self,
        bootstrap: str | list[str],
        *,
        credentials: object | None = None,
        default_partitions: int = 8,
        client_id: str = "streamkit",
        replication_factor: int = 1,
    ) -> None:
        self.kwargs: dict[str, Any] = client_kwargs(bootstrap, credentials)
        self.servers: list[str] = self.kwargs["bootstrap_servers"]
        self.default_partitions = default_partitions
        self.client_id = client_id
        self.replication_factor = replication_factor
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets_reader: AIOKafkaConsumer | None = None
        self._known: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"KafkaTransport(servers={self.servers!r})"

    async def start(self) -> None:
        """Connect the admin client.

        Raises:
            AuthenticationError: when the broker rejects the credentials.
            TransportError: when no bootstrap server can be reached.
        """
        if self.kwargs.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
            await self._check_login()
        admin = AIOKafkaAdminClient(**self.kwargs, client_id=self.client_id)
        with broker_errors("connect", self.kwargs):
            await admin.start()
        self._admin = admin
        logger.info("connected to Kafka at %s", ";".join(self.servers))

    async def stop(self) -> None:
        if self._offsets_reader is not None:
            await self._offsets_reader.stop()
            self._offsets_reader = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
            logger.info("disconnected from Kafka at %s", ";".join(self.servers))

    async def _check_login(self) -> None:
        # aiokafka's bootstrap turns a rejected login into "unable to
        # bootstrap"; one direct connection tells the two apart.
        options = {k: v for k, v in self.kwargs.items() if k != "bootstrap_servers"}
        for server in self.servers:
            host, _, port = server.rpartition(":")
            with broker_errors("log in", self.kwargs):
                try:
                    conn = await create_conn(
                        host, int(port), client_id=self.client_id, **options
                    )
                except (OSError, KafkaConnectionError, asyncio.TimeoutError) as exc:
                    logger.warning("cannot reach Kafka at %s: %s", server, exc)
                    continue
            conn.close()
            return

    @property
    def admin(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            raise TransportError(
                f"{self!r} is not started; await transport.start() first"
            )
        return self._admin

    async def create_topic(
        self, name: str, partitions: int, *, compacted: bool = False
    ) -> None:
        """Create the topic unless it exists (then its settings stay as they are).

        Raises:
            TransportError: when the broker refuses to create it.
        """
        configs = {"cleanup.policy": "compact"} if compacted else {}
        topic = NewTopic(
            name, partitions, self.replication_factor, topic_configs=configs
        )
        with broker_errors(f"create topic {name!r}", self.kwargs):
            response = await self.admin.create_topics([topic])

        for error in response.topic_errors:
            error_type = for_code(error[1])
            if error_type.errno not in (0, TopicAlreadyExistsError.errno):
                detail = error[2] if len(error) > 2 else None
                raise TransportError(
                    f"Kafka refused to create topic {name!r} with {partitions} "
                    f"partitions: {error_type.__name__} {detail or ''}".rstrip()
                )
        await self._wait_for_topic(name)

    async def _wait_for_topic(self, name: str) -> None:
        # A new topic reaches every broker's metadata a little later.
        for _ in range(100):
            if name in await self.list_topics():
                return
            await asyncio.sleep(0.1)
        raise TransportError(f"topic {name!r} was created but never became visible")

    async def list_topics(self) -> dict[str, int]:
        # Naming topics in a metadata request makes some brokers create them,
        # so this always asks for all topics.
        with broker_errors("list topics", self.kwargs):
            described = await self.admin.describe_topics(None)
        topics = {
            t["topic"]: len(t["partitions"])
            for t in described
            if t["error_code"] == 0
            and not t.get("is_internal")
            and t["topic"] not in _INTERNAL_TOPICS
        }
        self._known = topics
        return dict(topics)

    async def partition_count(self, topic: str) -> int | None:
        return (await self.list_topics()).get(topic)

    async def ensure_topics(self, names: Iterable[str]) -> None:
        """Create those of ``names`` that do not exist, with default partitions."""
        missing = [n for n in names if n not in self._known]
        if missing:
            await self.list_topics()
        for name in missing:
            if name not in self._known:
                await self.create_topic(name, self.default_partitions)
                self._known[name] = self.default_partitions

    async def _check_partitions(self, tps: Iterable[TP]) -> None:
        tps = list(tps)
        if any(not 0 <= tp[1] < self._known.get(tp[0], 0) for tp in tps):
            await self.list_topics()
        for topic, partition in tps:
            count = self._known.get(topic)
            if count is None:
                raise TransportError(
                    f"topic {topic!r} does not exist on Kafka at "
                    f"{';'.join(self.servers)}; create it with create_topic()"
                )
            if not 0 <= partition < count:
                raise TransportError(
                    f"topic {topic!r} has partitions 0..{count - 1}, not {partition!r}"
                )

    async def end_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        """The next offset of each partition (the high watermark).

        Raises:
            TransportError: for a topic or partition that does not exist.
        """
        tps = [TP(*tp) for tp in tps]
        await self._check_partitions(tps)
        if self._offsets_reader is None:
            reader = AIOKafkaConsumer(**self.kwargs, client_id=self.client_id)
            with broker_errors("start the offsets reader", self.kwargs):
                await reader.start()
            self._offsets_reader = reader

        with broker_errors("read end offsets", self.kwargs):
            found = await self._offsets_reader.end_offsets(
                [TopicPartition(*tp) for tp in tps]
            )
        return {TP(tp.topic, tp.partition): offset for tp, offset in found.items()}

    def create_consumer(
        self,
        group_id: str,
        topics: Iterable[str],
        listener: RebalanceListener,
        *,
        read_committed: bool = False,
    ) -> KafkaConsumer:
        return KafkaConsumer(
            self, group_id, topics, listener, read_committed=read_committed
        )

    def create_producer(self, *, transactional_id: str | None = None) -> KafkaProducer:
        return KafkaProducer(self, transactional_id=transactional_id)

    async def read_partition(
        self, tp: TP, start: int, end: int
    ) -> AsyncIterator[list[Message]]:
        """Batches of the records of ``tp`` with ``start <= offset < end``.

        Reads committed records only, without joining a group, and stops at
        the end offset the partition had when called.

        Raises:
            TransportError: for a missing partition, or when the read stalls
                (a transaction left open on the partition).
        """
        tp = TP(*tp)
        end = min(end, (await self.end_offsets([tp]))[tp])
        if start >= end:
            return

        reader = AIOKafkaConsumer(
            **self.kwargs,
            client_id=self.client_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        with broker_errors(f"read {tp.topic}[{tp.partition}]", self.kwargs):
            await reader.start()
        try:
            async for batch in _read(reader, TopicPartition(*tp), start, end):
                yield batch
        finally:
            await reader.stop()


async def _read(
    reader: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int
) -> AsyncIterator[list[Message]]:
    reader.assign([tp])
    reader.seek(tp, start)
    loop = asyncio.get_running_loop()
    position = start
    progressed_at = loop.time()

    while position < end:
        fetched = await reader.getmany(tp, timeout_ms=1000, max_records=_READ_BATCH)
        batch = [m for m in to_messages(fetched) if m.offset < end]
        # The position also moves past transaction markers and aborted
        # records, which are never returned.
        new_position = await reader.position(tp)
        if new_position > position:
            position = new_position
            progressed_at = loop.time()
        elif loop.time() - progressed_at > _READ_STALL_SECONDS:
            raise TransportError(
                f"reading {tp.topic}[{tp.partition}] stalled at offset {position} "
                f"before end offset {end}; a producer may hold a transaction open"
            )
        if batch:
            yield batch
