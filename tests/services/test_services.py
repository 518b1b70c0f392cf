"""``@app.service``: mode services started and stopped with the App, in order."""

from __future__ import annotations

import asyncio
import threading

import pytest
from behaviour.support import wait_for
from mode import Service

from streamkit import App, ConfigurationError


async def test_service_starts_once_the_app_runs_and_stops_before_it(make_app):
    app = make_app()
    events: list[tuple[str, bool, bool]] = []
    topic = app.topic("service-log")

    @app.service
    class Recorder(Service):
        async def on_start(self) -> None:
            # The App is running: a service may send from on_start...
            await topic.send(value=b"hello")
            events.append(("start", app.is_running, app.producer is not None))

        async def on_stop(self) -> None:
            # ...and, since it stops before the producer, from on_stop too.
            await topic.send(value=b"bye")
            events.append(("stop", app.is_running, app.producer is not None))

    await app.start()
    assert events == [("start", True, True)]
    await app.stop()

    assert events == [("start", True, True), ("stop", False, True)]


async def test_service_background_task_runs_until_the_app_stops(make_app):
    app = make_app()
    wakeups: list[float] = []
    loop = asyncio.get_running_loop()

    @app.service
    class Ticker(Service):
        @Service.task
        async def _tick(self) -> None:
            while not self.should_stop:
                wakeups.append(loop.time())
                await self.sleep(0.1)

    async with app.running():
        await wait_for(lambda: len(wakeups) >= 4, what="4 wake-ups")
    stopped_with = len(wakeups)
    await asyncio.sleep(0.3)

    assert len(wakeups) == stopped_with, "the task kept running after stop()"
    gaps = [b - a for a, b in zip(wakeups, wakeups[1:], strict=False)]
    assert all(0.05 < gap < 0.3 for gap in gaps), gaps


async def test_app_restarts_with_its_services(make_app):
    app = make_app()
    calls: list[str] = []

    @app.service
    class Counted(Service):
        async def on_start(self) -> None:
            calls.append("start")

        async def on_stop(self) -> None:
            calls.append("stop")

        @Service.task
        async def _work(self) -> None:
            while not self.should_stop:
                calls.append("tick")
                await self.sleep(10)

    for _ in range(3):
        await app.start()
        await wait_for(lambda: calls[-1] == "tick", what="the background task")
        await app.stop()

    assert calls == ["start", "tick", "stop"] * 3


def test_services_survive_a_new_event_loop(unique: str) -> None:
    # A module-level App started by two asyncio.run() calls (two tests, or a
    # script that runs twice): mode's events must not keep the first loop.
    app = App(f"loops-{unique}", broker=f"memory://loops-{unique}", web_enabled=False)
    ticks: list[int] = []

    @app.service
    class Ticker(Service):
        @Service.task
        async def _tick(self) -> None:
            while not self.should_stop:
                ticks.append(1)
                await self.sleep(0.05)

    async def run_once() -> int:
        before = len(ticks)
        async with app.running():
            await asyncio.sleep(0.3)
        return len(ticks) - before

    def in_thread() -> None:
        counts.append(asyncio.run(run_once()))

    # A thread of its own: the test runner's loop is not in the way.
    counts: list[int] = []
    for _ in range(2):
        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join(20)

    assert len(counts) == 2 and all(n >= 3 for n in counts), counts


async def test_service_takes_an_instance_and_returns_its_class(make_app):
    app = make_app()
    started: list[str] = []

    class Named(Service):
        def __init__(self, greeting: str) -> None:
            self.greeting = greeting
            super().__init__()

        async def on_start(self) -> None:
            started.append(self.greeting)

    returned = app.service(Named("configured"))

    assert returned is Named
    async with app.running():
        assert started == ["configured"]


class NotAService:
    async def on_start(self) -> None: ...


@pytest.mark.parametrize("thing", [NotAService, NotAService(), 42])
async def test_service_rejects_what_is_not_a_mode_service(make_app, thing):
    app = make_app()
    with pytest.raises(ConfigurationError, match="mode.Service subclass or instance"):
        app.service(thing)


async def test_service_defined_while_running_starts_and_replaces(make_app):
    app = make_app()
    log: list[str] = []

    def define(version: str) -> None:
        @app.service
        class Live(Service):
            async def on_start(self) -> None:
                log.append(f"start {version}")

            async def on_stop(self) -> None:
                log.append(f"stop {version}")

    async with app.running():
        define("v1")
        await wait_for(lambda: log == ["start v1"], what="v1 to start")
        define("v2")  # a notebook cell run again
        await wait_for(lambda: len(log) == 3, what="v2 to replace v1")

    assert log == ["start v1", "stop v1", "start v2", "stop v2"]
    assert len(app.services) == 1
