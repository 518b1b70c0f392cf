"""Fixtures of the behavioural suite: Apps on both brokers, stopped after each test.

Every test here takes ``broker_url`` (through ``make_app``), so it runs on
the embedded ``memory://`` broker and on the real Kafka-protocol broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from streamkit import App

#: Short commits so offsets and changelogs reach the broker within a test.
COMMIT_INTERVAL = 0.2


@pytest.fixture
async def make_app(broker_url: str, unique: str) -> AsyncIterator[Callable[..., App]]:
    """Build Apps on the test's broker; each is stopped when the test ends.

    Apps built without an ``app_id`` share ``behaviour-{unique}``, so a second
    one joins the first one's consumer group and reads its changelogs.
    """
    apps: list[App] = []

    def make(app_id: str | None = None, **settings: Any) -> App:
        options = {
            "broker": broker_url,
            "broker_commit_interval": COMMIT_INTERVAL,
            "topic_partitions": 4,
            **settings,
        }
        app = App(app_id or f"behaviour-{unique}", **options)
        apps.append(app)
        return app

    yield make

    for app in reversed(apps):
        if app.is_running:
            await app.stop()
