"""``streamkit ... worker`` as a real process: work done, clean stops, clear errors.

The flights workers run against a real Kafka-protocol broker; their results
are read back from the tables' changelog topics and compared with pandas.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from integration.flights_oracle import (
    Expected,
    carrier_figures,
    expected_for,
    first_scheduled,
    wait_for_changelogs,
)

from streamkit import App
from streamkit.demo.flights import Flight, flight_rows

from .conftest import STREAMKIT, Worker, worker_env

SLICE = 20_000
PASSWORD = "pw-9f3c1e-never-logged"
READY = "SIGINT or SIGTERM stops it"  # the worker's banner, logged once started

WORKER_MODULE = '''
"""A flights worker for one test: the demo pipeline under its own app id."""

import json
import os

from streamkit.demo.flights import build

pipeline = build({app_id!r})
app = pipeline.app


@app.timer(0.25)
async def report_progress():
    # What this worker processed and owns, for the test to read.
    progress = {{
        "processed": {{n: a.processed for n, a in app.agents.items()}},
        "assigned": sorted(list(tp) for tp in app.conductor.assigned),
    }}
    path = f"progress-{{os.getpid()}}.json"
    with open(path + ".tmp", "w") as f:
        json.dump(progress, f)
    os.replace(path + ".tmp", path)
'''


def write_flights_worker(directory: Path, app_id: str) -> str:
    """A module in ``directory`` whose ``app`` is the flights App ``app_id``."""
    name = f"flights_worker_{app_id.replace('-', '_')}"
    (directory / f"{name}.py").write_text(WORKER_MODULE.format(app_id=app_id))
    return name


def progress(directory: Path, worker: Worker) -> dict | None:
    path = directory / f"progress-{worker.process.pid}.json"
    return json.loads(path.read_text()) if path.exists() else None


async def wait_until(condition, what: str, timeout: float, workers=()) -> None:
    """Poll ``condition``; fail naming ``what``, or early if a worker died."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        for worker in workers:
            if worker.exited():
                raise AssertionError(
                    f"worker exited with {worker.process.returncode} while waiting "
                    f"for {what}:\n{worker.log()[-3000:]}"
                )
        if loop.time() > deadline:
            logs = "\n".join(w.log()[-2000:] for w in workers)
            raise AssertionError(f"timed out after {timeout:.0f}s: {what}\n{logs}")
        await asyncio.sleep(0.2)


async def replay(broker_url: str, frame: pd.DataFrame, app_id: str) -> int:
    """Send ``frame``'s flights to ``flights`` from an App with no agents."""
    producer = App(app_id, broker=broker_url)
    flights = producer.topic("flights", value_type=Flight)
    async with producer.running():
        rows = flight_rows(frame)
        for row in rows:
            await flights.send(value=Flight.from_data(row))
    return len(rows)


def assert_clean_log(worker: Worker, app_id: str) -> None:
    log = worker.log()
    assert "Traceback" not in log, log[-3000:]
    assert PASSWORD not in log
    assert "partitions assigned" in log
    assert f"app {app_id}: stopped" in log


async def assert_changelogs_hold(
    url: str, app_id: str, expected: Expected, workers: list[Worker]
) -> None:
    state = await wait_for_changelogs(url, app_id, expected, timeout=180)
    logs = "\n".join(w.log()[-3000:] for w in workers)
    assert state.origins == expected.origins, logs
    assert carrier_figures(state.carriers) == expected.carriers, logs


@pytest.mark.kafka
async def test_worker_process_fills_tables_and_stops_cleanly_on_sigterm(
    private_kafka_bootstrap, unique, tmp_path, spawn
):
    # The flights topic has a fixed name: a broker of its own keeps other
    # tests' flights (and their load) out.
    kafka_bootstrap = private_kafka_bootstrap
    app_id = f"cli-{unique}"
    url = f"kafka://{kafka_bootstrap}"
    module = write_flights_worker(tmp_path, app_id)
    worker = spawn(
        [
            *STREAMKIT,
            *("-A", module, "worker"),
            *("--broker", f"kafka://tester:{PASSWORD}@{kafka_bootstrap}"),
            *("-l", "info", "--without-web"),
        ]
    )
    await wait_until(lambda: READY in worker.log(), "the worker", 60, [worker])

    frame = first_scheduled(SLICE)
    expected = expected_for(frame)
    await replay(url, frame, f"{app_id}-replayer")
    await assert_changelogs_hold(url, app_id, expected, [worker])

    assert worker.stop(signal.SIGTERM, timeout=60) == 0
    assert worker.stop_seconds < 30
    assert_clean_log(worker, app_id)
    await assert_changelogs_hold(url, app_id, expected, [worker])


@pytest.mark.kafka
async def test_two_worker_processes_share_the_work_of_one_app(
    private_kafka_bootstrap, unique, tmp_path, spawn
):
    # The flights topic has a fixed name: a broker of its own keeps other
    # tests' flights (and their load) out.
    kafka_bootstrap = private_kafka_bootstrap
    app_id = f"cli-pair-{unique}"
    url = f"kafka://{kafka_bootstrap}"
    module = write_flights_worker(tmp_path, app_id)
    args = [*STREAMKIT, "-A", module, "worker", "--broker", url, "--without-web"]
    workers = [spawn(args, "first"), spawn(args, "second")]

    topics = ["flights", f"{app_id}-flights-by-origin", f"{app_id}-flights-by-carrier"]
    every_partition = {(topic, p) for topic in topics for p in range(8)}

    def settled() -> bool:
        # One group of two: each owns some partitions, together all of them.
        seen = [progress(tmp_path, w) for w in workers]
        if None in seen:
            return False
        owned = [{tuple(tp) for tp in p["assigned"]} for p in seen]
        return (
            all(owned)
            and not owned[0] & owned[1]
            and every_partition <= owned[0] | owned[1]
        )

    await wait_until(settled, "both workers to own partitions", 90, workers)

    frame = first_scheduled(SLICE)
    sent = await replay(url, frame, f"{app_id}-replayer")
    await assert_changelogs_hold(url, app_id, expected_for(frame), workers)

    def routed() -> list[int]:
        return [progress(tmp_path, w)["processed"]["route"] for w in workers]

    await wait_until(lambda: sum(routed()) >= sent, "every flight routed", 30, workers)
    assert sum(routed()) == sent
    for worker in workers:
        assert sum(progress(tmp_path, worker)["processed"].values()) > 0

    for worker in workers:
        assert worker.stop(signal.SIGTERM, timeout=60) == 0
        assert_clean_log(worker, app_id)
    # Stopped, both committed and flushed: the changelogs still hold the result.
    await assert_changelogs_hold(url, app_id, expected_for(frame), workers)


MAIN_MODULE = '''
"""An App that runs its own command line."""

import streamkit

app = streamkit.App({app_id!r}, broker="memory://")
greetings = app.topic("greetings")
counts = app.Table("counts", default=int)


@app.agent(greetings)
async def count(stream):
    async for name in stream:
        counts[name] += 1


@app.task
async def greet():
    await greetings.send(key="world", value="world")


if __name__ == "__main__":
    app.main()
'''


async def test_app_main_runs_a_worker_that_stops_on_sigint(unique, tmp_path, spawn):
    app_id = f"main-{unique}"
    (tmp_path / "greeter.py").write_text(MAIN_MODULE.format(app_id=app_id))
    worker = spawn(
        [sys.executable, "greeter.py", "worker", "-l", "info", "--without-web"]
    )
    await wait_until(lambda: READY in worker.log(), "the worker", 60, [worker])

    assert worker.stop(signal.SIGINT, timeout=60) == 0
    log = worker.log()
    assert "Traceback" not in log, log[-3000:]
    # The module defines one agent (count) and one table (counts).
    assert f"worker for app {app_id} on memory://: 1 agent, 1 table;" in log
    assert f"app {app_id}: stopped" in log


def run_cli(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STREAMKIT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=worker_env(),
        cwd=directory,
    )


def test_worker_with_a_missing_module_says_which_and_fails(tmp_path):
    result = run_cli(tmp_path, "-A", "nosuchmodule", "worker")

    assert result.returncode != 0
    assert "no module named 'nosuchmodule'" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_with_an_unknown_broker_scheme_names_it_and_fails(tmp_path):
    result = run_cli(tmp_path, "worker", "--broker", "bogus://x")

    assert result.returncode != 0
    assert "'bogus://x'" in result.stderr
    assert "memory:// or kafka://" in result.stderr
    assert "Traceback" not in result.stderr
