"""Kafka's default partitioner: murmur2 of the key, modulo the partition count.

The embedded broker uses it so that a key lands on the same partition in
``memory://`` as it would in Kafka; tables and joins rely on that when an App
moves from one broker to the other.  The hash is the one in the Java client
(``org.apache.kafka.common.utils.Utils.murmur2``), computed in 32-bit
arithmetic with the seed ``0x9747b28c``.
"""

from __future__ import annotations

import struct
from functools import lru_cache

__all__ = ["murmur2", "partition_for"]

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """The murmur2 hash of ``data`` as an unsigned 32-bit integer.

    Java returns the same bits as a signed ``int``; the partition computed
    from either is equal because :func:`partition_for` keeps the low 31 bits.
    """
    length = len(data)
    h = (_SEED ^ length) & _MASK

    blocks = length // 4
    for k in struct.unpack_from(f"<{blocks}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k

    # The Java switch falls through: three trailing bytes mix in all three.
    tail = length & ~3
    extra = length & 3
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK

    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


@lru_cache(maxsize=8192)
def _positive_hash(key: bytes) -> int:
    # Streams repeat a small set of keys, so caching the hash pays off on the
    # send path of the embedded broker.
    return murmur2(key) & 0x7FFFFFFF


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``.

    Raises:
        ValueError: when ``partitions`` is not a positive number.
    """
    if partitions < 1:
        raise ValueError(
            f"partitions must be at least 1, got {partitions!r}; "
            "a topic always has one partition or more"
        )
    if type(key) is not bytes:
        key = bytes(key)  # the hash cache needs a hashable key
    return _positive_hash(key) % partitions
