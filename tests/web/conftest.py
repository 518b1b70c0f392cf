"""Fixtures of the web suite: running Apps on a free port, and an HTTP client.

Every test talks real HTTP, through aiohttp's client, to the App's real
server on 127.0.0.1; nothing is mocked.  The Apps run on the embedded
broker: the web server does not depend on the transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from streamkit import App


@pytest.fixture
async def make_app(unique: str) -> AsyncIterator[Callable[..., App]]:
    """Build Apps on a private embedded broker, serving on a free port
    (``web_port=0``); each is stopped when the test ends."""
    apps: list[App] = []

    def make(app_id: str | None = None, **settings: Any) -> App:
        options = {
            "broker": f"memory://web-{unique}",
            "broker_commit_interval": 0.2,
            "topic_partitions": 2,
            "web_port": 0,
            **settings,
        }
        app = App(app_id or f"web-{unique}", **options)
        apps.append(app)
        return app

    yield make

    for app in reversed(apps):
        if app.is_running:
            await app.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def url_of(app: App, path: str) -> str:
    """The absolute URL of ``path`` on the App's running server."""
    assert app.web.url is not None, "the app's web server is not listening"
    return app.web.url.rstrip("/") + path
