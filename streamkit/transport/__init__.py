"""Transports: the broker behind an App, chosen by the broker URL.

``memory://`` (or ``memory://NAME``) is the embedded broker of this process;
``kafka://host:port[;host2:port2]`` is a Kafka cluster through aiokafka.  A
Kafka URL may carry SASL/PLAIN credentials as user-info
(``kafka://user:password@host:9092``); explicit ``credentials`` win over them.
"""

from __future__ import annotations

from ..credentials import credentials_from_url, redact_url
from ..exceptions import ConfigurationError
from .base import (
    TP,
    Consumer,
    Message,
    Producer,
    RebalanceListener,
    RecordMetadata,
    Transport,
)
from .memory import MemoryTransport
from .partitioner import partition_for

__all__ = [
    "TP",
    "Consumer",
    "MemoryTransport",
    "Message",
    "Producer",
    "RebalanceListener",
    "RecordMetadata",
    "Transport",
    "create_transport",
    "partition_for",
    "redact_url",
]

SCHEMES = ("memory", "kafka")


def create_transport(
    url: str,
    *,
    credentials: object | None = None,
    default_partitions: int = 8,
    client_id: str = "streamkit",
) -> Transport:
    """The transport for the broker URL ``url`` (not started yet).

    Args:
        url: ``memory://``, ``memory://NAME`` or ``kafka://host:port[;...]``.
        credentials: SASL or SSL credentials for Kafka (ignored by memory).
        default_partitions: partitions of topics created implicitly.
        client_id: the client id Kafka sees.

    Raises:
        ConfigurationError: for a URL with another scheme, or without one.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise ConfigurationError(
            f"broker URL {redact_url(url)!r} has scheme {scheme if sep else ''!r}; "
            "use 'memory://' (the embedded broker) or 'kafka://host:port'"
        )

    if scheme == "memory":
        return MemoryTransport(rest.strip("/"), default_partitions=default_partitions)

    # Imported here so that memory-only use never loads aiokafka.
    from .kafka import KafkaTransport

    clean, from_url = credentials_from_url(url)
    credentials = credentials or from_url
    hosts = clean.partition("://")[2]
    servers = [
        part.strip().removeprefix("kafka://").rstrip("/")
        for part in hosts.replace(",", ";").split(";")
    ]
    return KafkaTransport(
        [s for s in servers if s],
        credentials=credentials,
        default_partitions=default_partitions,
        client_id=client_id,
    )
