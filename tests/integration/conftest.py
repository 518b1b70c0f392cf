"""Fixtures of the integration suite: a Kafka-protocol broker per test.

The flights pipeline reads and writes topics with fixed names (``flights``,
``delay-alerts``), and an app id that is new to a broker reads a topic from
its first record.  So each test here gets a noida broker of its own (it
starts in well under a second): the 336,776 flights one test sends never
reach another test, or the topics the rest of the suite reads.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def kafka_bootstrap(private_kafka_bootstrap: str) -> str:
    """A broker of this test's own (see tests/conftest.py)."""
    return private_kafka_bootstrap
