"""Lifecycle: start and stop on the test's loop, restart, and settings checks."""

from __future__ import annotations

import asyncio

import pytest

from streamkit import App, ConfigurationError

from .support import wait_for


async def test_app_starts_stops_and_restarts_in_the_same_loop(make_app, unique):
    app = make_app()
    topic = app.topic(f"pings-{unique}")
    seen: list[int] = []

    @app.agent(topic)
    async def pings(stream):
        async for value in stream:
            seen.append(value)

    async def ping(value: int) -> None:
        await topic.send(key=value, value=value)
        await wait_for(lambda: value in seen, what=f"ping {value}", state=seen.copy)

    assert not app.is_running
    await app.start()
    assert app.is_running
    await ping(0)
    await app.stop()
    assert not app.is_running

    await app.start()
    assert app.is_running
    await ping(1)
    await app.stop()
    assert not app.is_running

    async with app.running() as running:
        assert running is app
        assert app.is_running
        await ping(2)
        await asyncio.sleep(0.2)  # a restart replaying old pings shows here
    assert not app.is_running

    assert seen == [0, 1, 2]


async def test_unknown_setting_suggests_the_right_name(broker_url, unique):
    with pytest.raises(ConfigurationError) as raised:
        App(f"typo-{unique}", broker=broker_url, broker_comit_interval=0.2)

    message = str(raised.value)
    assert "broker_comit_interval" in message
    assert "did you mean 'broker_commit_interval'" in message


async def test_an_unrecoverable_error_stops_the_app_and_says_why(make_app, unique):
    from streamkit import TransportError

    app = make_app()
    events = app.topic(f"fail-{unique}")
    seen: list[int] = []

    @app.agent(events)
    async def collect(stream):
        async for value in stream:
            seen.append(value)

    await app.start()
    await events.send(value=1)
    await wait_for(lambda: seen == [1], what="the first value")

    app.fail(TransportError("topic 'x': the broker never stored a record"))
    failure = await asyncio.wait_for(app.wait_failed(), 30)
    assert not app.is_running

    assert "never stored" in str(failure)
    assert app.failure is failure

    await app.start()  # a fresh start forgets the failure
    assert app.failure is None and app.is_running
    await app.stop()
