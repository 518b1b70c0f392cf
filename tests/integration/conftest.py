"""Fixtures of the integration suite: a Kafka-protocol broker per test.

The flights pipeline reads and writes topics with fixed names (``flights``,
``delay-alerts``), and an app id that is new to a broker reads a topic from
its first record.  So each test here gets a noida broker of its own (it
starts in well under a second): the 336,776 flights one test sends never
reach another test, or the topics the rest of the suite reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from brokers import start_noida


@pytest.fixture
def kafka_bootstrap(tmp_path: Path) -> Iterator[str]:
    """``host:port`` of a broker that only this test uses."""
    broker = start_noida(tmp_path / "noida")
    try:
        yield broker.bootstrap
    finally:
        broker.stop(grace=2.0)  # its data is thrown away: no need to wait
