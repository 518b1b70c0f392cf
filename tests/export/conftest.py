"""Fixtures of the export tests: notebooks built in the test, and a broker.

The round trip replays the flights into the fixed topic ``flights`` (the
notebook's own name), so it gets a noida broker of its own, as the
integration tests do.
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
