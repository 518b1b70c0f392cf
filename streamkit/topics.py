"""Topics: a named channel with a codec for its keys and values."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from .codecs import Codec
from .exceptions import ConfigurationError
from .transport import RecordMetadata

if TYPE_CHECKING:
    from .app import App

logger = logging.getLogger(__name__)


class Topic:
    """A Kafka topic as an App sees it: name, partitions and codec.

    Several Topic objects may name the same topic (with different types);
    the App creates the topic on the broker once.
    """

    def __init__(
        self,
        app: App,
        name: str,
        *,
        key_type: Any = None,
        value_type: Any = None,
        partitions: int | None = None,
        compacted: bool = False,
        key_serializer: str | None = None,
        value_serializer: str | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise ConfigurationError(
                f"topic name must be a non-empty string, got {name!r}"
            )
        if partitions is not None and (
            not isinstance(partitions, int) or partitions < 1
        ):
            raise ConfigurationError(
                f"topic {name!r}: partitions must be a positive int, got {partitions!r}"
            )
        self.app = app
        self.name = name
        self.partitions = partitions
        self.compacted = compacted
        self.codec = Codec(
            key_type=key_type,
            value_type=value_type,
            key_serializer=key_serializer or app.conf.key_serializer,
            value_serializer=value_serializer or app.conf.value_serializer,
        )

    @property
    def key_type(self) -> Any:
        return self.codec.key_type

    @property
    def value_type(self) -> Any:
        return self.codec.value_type

    @property
    def partition_count(self) -> int:
        return self.partitions or self.app.conf.topic_partitions

    def __repr__(self) -> str:
        return f"<Topic {self.name!r} partitions={self.partition_count}>"

    async def send(
        self,
        *,
        key: Any = None,
        value: Any = None,
        partition: int | None = None,
    ) -> RecordMetadata | None:
        """Encode and send one record; returns where it landed when known.

        Raises :class:`~streamkit.exceptions.StreamkitError` when the App is
        not running (start it with ``await app.start()``).
        """
        app = self.app
        producer = app.producer if app.is_running else await app.ready_producer(self)
        key_bytes = self.codec.dumps_key(key)
        value_bytes = self.codec.dumps_value(value)
        self.app.monitor.on_send(self.name)
        return await producer.send(self.name, key_bytes, value_bytes, partition)

    async def send_and_wait(
        self,
        *,
        key: Any = None,
        value: Any = None,
        partition: int | None = None,
    ) -> RecordMetadata:
        """Send one record and wait until the broker has stored it."""
        producer = await self.app.ready_producer(self)
        monitor = self.app.monitor
        monitor.on_send(self.name)
        key_bytes = self.codec.dumps_key(key)
        value_bytes = self.codec.dumps_value(value)
        started = time.perf_counter()
        metadata = await producer.send_and_wait(
            self.name, key_bytes, value_bytes, partition
        )
        monitor.on_send_latency(time.perf_counter() - started)
        return metadata
