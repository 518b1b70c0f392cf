"""Fixtures of the export tests: notebooks built in the test, and a broker.

The round trip replays the flights into the fixed topic ``flights`` (the
notebook's own name), so it gets a noida broker of its own, as the
integration tests do.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def kafka_bootstrap(private_kafka_bootstrap: str) -> str:
    """A broker of this test's own (see tests/conftest.py)."""
    return private_kafka_bootstrap
