"""The murmur2 partitioner agrees with aiokafka's, an independent implementation."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from streamkit.transport.partitioner import murmur2, partition_for


def _keys() -> list[bytes]:
    rng = random.Random(20130101)
    keys = [b"", b"a", b"ab", b"abc", b"abcd", b"abcde", b"\x00", b"\xff" * 7]
    keys += [f"key-{i}".encode() for i in range(500)]
    keys += [rng.randbytes(rng.randrange(0, 64)) for _ in range(2000)]
    return keys


@pytest.mark.parametrize("length", range(0, 9))
def test_murmur2_matches_aiokafka_for_every_tail_length(length: int) -> None:
    rng = random.Random(length)
    for _ in range(200):
        data = rng.randbytes(length)
        assert murmur2(data) == aiokafka_murmur2(data)


def test_murmur2_matches_aiokafka_for_many_keys() -> None:
    for key in _keys():
        assert murmur2(key) == aiokafka_murmur2(key), key


@pytest.mark.parametrize(
    ("data", "java_int"),
    [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_matches_the_java_clients_pinned_values(
    data: bytes, java_int: int
) -> None:
    # The values Kafka's Java test suite pins, as signed 32-bit ints.
    assert murmur2(data) == java_int & 0xFFFFFFFF


@pytest.mark.parametrize("partitions", [1, 2, 3, 8, 12, 100])
def test_partition_for_matches_kafka_default_partitioner(partitions: int) -> None:
    all_partitions = list(range(partitions))
    for key in _keys():
        expected = DefaultPartitioner()(key, all_partitions, all_partitions)
        assert partition_for(key, partitions) == expected, key


def test_partition_for_spreads_keys_over_every_partition() -> None:
    counts = [0] * 8
    for i in range(8000):
        counts[partition_for(f"user-{i}".encode(), 8)] += 1
    assert all(800 < c < 1200 for c in counts), counts


def test_partition_for_rejects_a_topic_without_partitions() -> None:
    with pytest.raises(ValueError, match="partitions must be at least 1, got 0"):
        partition_for(b"key", 0)
