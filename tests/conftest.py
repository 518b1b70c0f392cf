"""Fixtures shared by every test: broker URLs for both drivers, unique names.

Tests that take ``broker_url`` run twice: on the embedded broker and on a
real Kafka-protocol broker (marked ``kafka``; deselect with ``-m "not kafka"``).
The real broker is started once per session, or taken from the
``STREAMKIT_TEST_BOOTSTRAP`` environment variable (``host:port``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from brokers import start_noida

from streamkit.transport.memory_broker import discard_broker


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of the session's Kafka-protocol broker."""
    external = os.environ.get("STREAMKIT_TEST_BOOTSTRAP")
    if external:
        yield external
        return

    broker = start_noida(tmp_path_factory.mktemp("noida"))
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def private_kafka_bootstrap(tmp_path) -> Iterator[str]:
    """``host:port`` of a broker that only this test uses.

    For tests that write topics with fixed names (the flights pipeline's
    ``flights``): a new group reads a topic from its first record, so a
    shared broker would mix their data.  noida starts in well under a second.
    """
    broker = start_noida(tmp_path / "noida")
    try:
        yield broker.bootstrap
    finally:
        broker.stop(grace=2.0)  # its data is thrown away: no need to wait


@pytest.fixture
def unique() -> str:
    """A fresh suffix for topic and group names, so tests never share state."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("kafka", id="kafka", marks=pytest.mark.kafka),
    ]
)
def broker_url(request: pytest.FixtureRequest, unique: str) -> Iterator[str]:
    """A broker URL: a private embedded broker, or the session's Kafka."""
    if request.param == "kafka":
        yield f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
        return

    name = f"test-{unique}"
    yield f"memory://{name}"
    discard_broker(name)
