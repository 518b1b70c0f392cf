"""Timers and tasks: how often they run, and that a slow body does not drift."""

from __future__ import annotations

import asyncio

from .support import wait_for

INTERVAL = 0.1


async def test_timer_fires_about_ten_times_a_second(make_app):
    app = make_app()
    ticks: list[float] = []

    @app.timer(INTERVAL)
    async def heartbeat():
        ticks.append(asyncio.get_running_loop().time())

    async with app.running():
        ticks.clear()  # count one second of a running app, nothing before
        await asyncio.sleep(1.0)
        fired = len(ticks)

    assert 7 <= fired <= 11, f"a 0.1s timer fired {fired} times in 1s"


async def test_timer_with_slow_body_keeps_its_schedule(make_app):
    app = make_app()
    loop = asyncio.get_running_loop()
    ticks: list[float] = []

    @app.timer(INTERVAL)
    async def slow_heartbeat():
        ticks.append(loop.time())
        await asyncio.sleep(0.05)

    async with app.running():
        await wait_for(lambda: len(ticks) >= 11, what="11 ticks", state=ticks.copy)

    start = ticks[0]
    offsets = [round(t - start, 3) for t in ticks]
    for k, offset in enumerate(offsets):
        assert abs(offset - k * INTERVAL) <= 0.06, (
            f"tick {k} came {offset}s after the first, expected {k * INTERVAL:.1f}s "
            f"(a body of 0.05s must not push the schedule): {offsets}"
        )


async def test_task_runs_once_after_start(make_app, unique):
    app = make_app()
    runs: list[bool] = []

    @app.agent(app.topic(f"idle-{unique}"))
    async def idle(stream):
        async for _ in stream:
            pass

    @app.task
    async def announce():
        runs.append(app.is_running)

    async with app.running():
        await wait_for(lambda: runs, timeout=5.0, what="the task to run")
        await asyncio.sleep(0.3)

    assert runs == [True]
