"""``@app.crontab``: runs at the wall-clock times a cron expression names."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from behaviour.support import wait_for

from streamkit import ConfigurationError

EVERY_TWO_SECONDS = "* * * * * */2"  # croniter: seconds are the sixth field


async def test_crontab_runs_on_its_schedule(make_app):
    app = make_app()
    runs: list[float] = []

    @app.crontab(EVERY_TWO_SECONDS)
    async def even_seconds():
        runs.append(time.time())

    async with app.running():
        await wait_for(lambda: len(runs) >= 3, timeout=8.0, what="3 runs")

    for at in runs:
        second = int(at)
        assert second % 2 == 0, f"ran at {at:.3f}, not on an even second: {runs}"
        assert at - second < 0.25, f"ran {at - second:.3f}s after its time: {runs}"
    gaps = [round(b - a) for a, b in zip(runs, runs[1:], strict=False)]
    assert gaps == [2] * len(gaps), runs
    assert even_seconds.runs == len(runs) and even_seconds.skipped == 0


async def test_crontab_defaults_to_utc_and_takes_a_zone_name(make_app):
    app = make_app()

    @app.crontab("0 9 * * *")
    async def utc_morning(): ...

    @app.crontab("0 9 * * *", timezone="Asia/Kathmandu")
    async def kathmandu_morning(): ...

    after = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
    (utc,) = utc_morning.next_times(1, after)
    (local,) = kathmandu_morning.next_times(1, after)

    assert utc == dt.datetime(2026, 6, 2, 9, 0, tzinfo=dt.timezone.utc)
    assert local == dt.datetime(2026, 6, 2, 9, 0, tzinfo=ZoneInfo("Asia/Kathmandu"))
    # Kathmandu is UTC+05:45: 09:00 there is 03:15 UTC.
    assert local.astimezone(dt.timezone.utc).time() == dt.time(3, 15)


async def test_crontab_follows_daylight_saving_time(make_app):
    app = make_app()

    @app.crontab("0 12 * * *", timezone=ZoneInfo("Europe/Paris"))
    async def noon(): ...

    after = dt.datetime(2026, 3, 28, 13, 0, tzinfo=ZoneInfo("Europe/Paris"))
    utc_hours = [t.astimezone(dt.timezone.utc).hour for t in noon.next_times(2, after)]

    # Noon in Paris is 11:00 UTC in winter and 10:00 UTC from March 29th.
    assert utc_hours == [10, 10]
    before = dt.datetime(2026, 3, 27, 13, 0, tzinfo=ZoneInfo("Europe/Paris"))
    first = noon.next_times(1, before)[0]
    assert first.astimezone(dt.timezone.utc).hour == 11


async def test_crontab_time_skipped_by_dst_runs_once_after_the_jump(make_app):
    app = make_app()
    paris = ZoneInfo("Europe/Paris")

    @app.crontab("30 2 * * *", timezone=paris)
    async def night(): ...

    # 02:30 does not exist in Paris on 2026-03-29 (02:00 jumps to 03:00).
    after = dt.datetime(2026, 3, 28, 12, 0, tzinfo=paris)
    runs = [t.astimezone(dt.timezone.utc) for t in night.next_times(3, after)]

    assert [r.date().isoformat() for r in runs] == [
        "2026-03-29",
        "2026-03-30",
        "2026-03-31",
    ]
    assert runs[0].time() == dt.time(1, 30)  # 03:30 CEST, right after the jump
    assert runs[1].time() == dt.time(0, 30)  # 02:30 CEST


@pytest.mark.parametrize("spec", ["not cron", "61 * * * *", "* * *", 5])
async def test_bad_cron_expression_is_refused_with_the_format(make_app, spec):
    app = make_app()
    with pytest.raises(ConfigurationError, match="five fields") as error:

        @app.crontab(spec)
        async def job(): ...

    assert repr(spec) in str(error.value)


async def test_bad_timezone_is_refused(make_app):
    app = make_app()
    with pytest.raises(ConfigurationError, match="IANA zone name"):

        @app.crontab("* * * * *", timezone="Mars/Olympus_Mons")
        async def job(): ...


async def test_crontab_redefined_by_name_replaces_the_running_one(make_app):
    app = make_app()
    seen: list[str] = []

    def define(version: str):
        @app.crontab("* * * * * *", name="beat")
        async def beat():
            seen.append(version)

        return beat

    define("v1")
    async with app.running():
        await wait_for(lambda: "v1" in seen, timeout=5.0, what="v1 to run")
        define("v2")
        await wait_for(lambda: seen[-2:] == ["v2", "v2"], timeout=5.0, what="v2")
        switched = seen.index("v2")

    assert "v1" not in seen[switched:], seen
    assert list(app.scheduler.jobs) == ["beat"]
    assert app.scheduler.jobs["beat"].kind == "crontab"


async def test_crontab_body_errors_are_counted_and_it_keeps_running(make_app):
    app = make_app()
    calls: list[int] = []

    @app.crontab("* * * * * *")
    async def flaky():
        calls.append(1)
        raise RuntimeError("boom")

    async with app.running():
        await wait_for(lambda: len(calls) >= 2, timeout=5.0, what="2 runs")
        await asyncio.sleep(0)

    assert flaky.errors >= 2
