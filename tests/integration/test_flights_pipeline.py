"""The flights pipeline end to end: every 2013 flight, checked against pandas.

Runs on the embedded broker and on a real Kafka-protocol broker.  Counts and
means must match pandas exactly: the carrier table keeps an integer-valued
sum of delays, so its mean is the same float pandas computes.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from streamkit.demo.flights import FlightsPipeline, build

from .flights_oracle import (
    FLIGHTS,
    alert_fields,
    carrier_figures,
    expected_for,
    first_scheduled,
    read_topic,
)

#: Upper bound for one pass over all flights; ~80-100 s on an idle 2-core box.
FULL_REPLAY_TIMEOUT = 600.0


async def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


def processed(pipeline: FlightsPipeline) -> dict[str, int]:
    return {name: agent.processed for name, agent in pipeline.app.agents.items()}


def assert_no_errors(pipeline: FlightsPipeline) -> None:
    monitor = pipeline.app.monitor
    assert not monitor.agent_errors, monitor.agent_errors
    assert not monitor.decode_errors, monitor.decode_errors
    assert not monitor.task_errors, monitor.task_errors


@pytest.mark.timeout(FULL_REPLAY_TIMEOUT + 300)
async def test_every_flight_matches_pandas_and_tables_recover(broker_url, unique):
    expected = expected_for(FLIGHTS)
    assert expected.flights == 336_776
    app_id = f"flights-it-{unique}"

    pipeline = build(app_id, broker=broker_url)
    async with pipeline.app.running():
        started = time.perf_counter()
        sent = await pipeline.replay()
        await pipeline.wait_until_done(sent, timeout=FULL_REPLAY_TIMEOUT)
        # The alert of a flight is sent after its re-keyed copies, so wait
        # for the router too before reading delay-alerts back.
        await wait_until(
            lambda: pipeline.app.agents["route"].processed == sent, "the router"
        )
        elapsed = time.perf_counter() - started
        await pipeline.app.commit()
        alert_messages = await read_topic(pipeline.app.transport, "delay-alerts")
        origins = pipeline.flights_per_origin.as_dict()
        carriers = pipeline.carrier_delays.as_dict()
        assert_no_errors(pipeline)
        assert processed(pipeline) == {
            "route": sent,
            "count_origins": sent,
            "carrier_delay": sent,
        }
    print(f"{broker_url}: {sent} flights in {elapsed:.1f}s ({sent / elapsed:.0f}/s)")

    assert sent == expected.flights
    assert origins == expected.origins
    assert carrier_figures(carriers) == expected.carriers
    # Cancelled flights have no delay: they are in no carrier's count.
    assert expected.cancelled == 8255
    assert sum(s.departed for s in carriers.values()) == sent - expected.cancelled

    alerts = [pipeline.alerts.codec.loads_value(m.value) for m in alert_messages]
    keys = [pipeline.alerts.codec.loads_key(m.key) for m in alert_messages]
    assert keys == [flight.carrier for flight in alerts]
    assert Counter(map(alert_fields, alerts)) == expected.alerts
    assert len(alerts) == sum(expected.alerts.values()) == 9888

    # A new worker with the same id recovers both tables from the changelogs,
    # and has nothing left to process: every offset was committed on stop.
    restarted = build(app_id, broker=broker_url)
    async with restarted.app.running():
        assert restarted.flights_per_origin.as_dict() == expected.origins
        assert carrier_figures(restarted.carrier_delays.as_dict()) == (
            expected.carriers
        )
        await asyncio.sleep(1.0)
        assert processed(restarted) == dict.fromkeys(processed(pipeline), 0)
        assert restarted.flights_per_origin.as_dict() == expected.origins
        assert_no_errors(restarted)


async def test_two_pipelines_with_different_ids_share_a_broker(broker_url, unique):
    # Both read the one `flights` topic; each re-keys through topics of its
    # own, so neither counts the other's copies.
    frame = first_scheduled(3000)
    expected = expected_for(frame)
    first = build(f"flights-a-{unique}", broker=broker_url)
    second = build(f"flights-b-{unique}", broker=broker_url)

    async with first.app.running(), second.app.running():
        sent = await first.replay(frame)
        for pipeline in (first, second):
            await wait_until(
                lambda p=pipeline: (
                    sum(p.flights_per_origin.values()) >= sent
                    and p.app.agents["carrier_delay"].processed >= sent
                ),
                f"{pipeline.app.id} to count {sent} flights",
                timeout=120,
            )
        await asyncio.sleep(1.0)  # room for a double count to show

        for pipeline in (first, second):
            assert pipeline.flights_per_origin.as_dict() == expected.origins
            assert (
                carrier_figures(pipeline.carrier_delays.as_dict()) == expected.carriers
            )
            assert_no_errors(pipeline)
