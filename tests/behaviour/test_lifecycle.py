"""Lifecycle: start and stop on the test's loop, restart, and settings checks."""

from __future__ import annotations

import asyncio
from typing import Any

import mode
import pytest
from brokers import free_port, start_noida

from streamkit import Agent, App, ConfigurationError, Topic, TransportError
from streamkit.embedding import active_apps
from streamkit.jupyter.status import AppStatus

from .support import wait_for


def collecting_agent(app: App, topic: Topic) -> tuple[Agent, list[Any]]:
    """An agent on ``topic`` and the list it appends each value to."""
    seen: list[Any] = []

    async def collect(stream):
        async for value in stream:
            seen.append(value)

    return app.agent(topic)(collect), seen


async def processes(topic: Topic, seen: list[Any], value: Any) -> None:
    """Send ``value`` and wait until the collecting agent has it."""
    await topic.send(key=value, value=value)
    await wait_for(lambda: value in seen, what=f"value {value}", state=seen.copy)


async def test_app_starts_stops_and_restarts_in_the_same_loop(make_app, unique):
    app = make_app()
    topic = app.topic(f"pings-{unique}")
    _, seen = collecting_agent(app, topic)

    assert not app.is_running
    await app.start()
    assert app.is_running
    await processes(topic, seen, 0)
    await app.stop()
    assert not app.is_running

    await app.start()
    assert app.is_running
    await processes(topic, seen, 1)
    await app.stop()
    assert not app.is_running

    async with app.running() as running:
        assert running is app
        assert app.is_running
        await processes(topic, seen, 2)
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
    app = make_app()
    events = app.topic(f"fail-{unique}")
    collect, seen = collecting_agent(app, events)

    await app.start()
    await events.send(value=1)
    await wait_for(lambda: seen == [1], what="the first value")

    app.fail(TransportError("topic 'x': the broker never stored a record"))
    failure = await asyncio.wait_for(app.wait_failed(), 30)
    assert not app.is_running

    assert "never stored" in str(failure)
    assert app.failure is failure
    # What the notebook shows (%streamkit status, the text version) says why.
    status = str(AppStatus.of(app))
    assert status.splitlines()[0].startswith(f"app {app.id!r}: stopped")
    assert "TransportError: topic 'x': the broker never stored a record" in status
    assert "never stored" in AppStatus.of(app)._repr_html_()
    assert "stopped" in repr(app) and "never stored" in repr(app)

    await app.start()  # a fresh start forgets the failure
    assert app.failure is None and app.is_running
    assert "never stored" not in str(AppStatus.of(app))
    await app.stop()


class FailsOnFirstStart(mode.Service):
    """A user service whose first start fails, as a missing resource would."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def on_start(self) -> None:
        self.attempts += 1
        if self.attempts == 1:
            raise RuntimeError("the resource is not there yet")


def leftovers(before: set[asyncio.Task]) -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t not in before and not t.done()]


async def test_a_start_that_failed_releases_everything_and_can_be_retried(
    make_app, unique
):
    app = make_app()
    topic = app.topic(f"retry-{unique}")
    service = FailsOnFirstStart()
    app.service(service)
    collect, seen = collecting_agent(app, topic)

    before = set(asyncio.all_tasks())
    with pytest.raises(RuntimeError, match="not there yet"):
        await app.start()

    # Nothing of the failed attempt is left running: no actor, consumer,
    # producer, connection or background task.
    assert not app.is_running and not app.is_starting
    assert app not in active_apps()
    assert app.transport is None and app.producer is None
    assert app.conductor.consumer is None
    assert not collect.running
    assert leftovers(before) == []

    await app.start()
    assert app.is_running and service.attempts == 2
    await processes(topic, seen, 1)
    await app.stop()
    assert seen == [1]
    assert leftovers(before) == []


@pytest.mark.kafka
async def test_a_start_against_a_silent_broker_is_retried_once_it_answers(
    tmp_path, unique
):
    port = free_port()
    app = App(f"late-{unique}", broker=f"kafka://127.0.0.1:{port}")
    topic = app.topic(f"late-{unique}")
    _, seen = collecting_agent(app, topic)

    before = set(asyncio.all_tasks())
    for _attempt in range(2):
        with pytest.raises(TransportError, match=f"127.0.0.1:{port} does not answer"):
            await app.start()
        assert not app.is_running and app.transport is None
        assert leftovers(before) == []

    # start_noida waits for the broker with asyncio.run: not on this loop.
    broker = await asyncio.to_thread(start_noida, tmp_path / "noida", port)
    try:
        await app.start()
        assert app.is_running
        await processes(topic, seen, 1)
        await app.stop()
        assert seen == [1]
    finally:
        broker.stop(grace=2.0)
