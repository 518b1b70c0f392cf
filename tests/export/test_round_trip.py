"""Round trip: the flights notebook, exported, runs as a Kafka worker.

The notebook is copied with an App id of the test's own (the original
hard-codes ``flights-notebook``) and exported with the command line; the
module runs as ``streamkit -A MODULE worker --broker kafka://...``.  Its
replay cell became an ``@app.task``, so the worker replays all 336,776
flights itself.  The tables, read back from their changelog topics, and the
``delay-alerts`` topic must equal what pandas computes, exactly: the same
oracle ``tests/notebooks/test_flights_notebook.py`` holds the notebook to.
Then an ``%%agent`` cell is edited and the notebook exported again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from integration.flights_oracle import (
    FLIGHTS,
    alert_fields,
    carrier_figures,
    expected_for,
    read_changelogs,
    read_topic,
)

from streamkit import App
from streamkit.demo.flights import Flight
from streamkit.transport import create_transport

from .builders import body, decorators
from .flights_cells import REPLAY_TASK

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "flights.ipynb"
ORIGINAL_APP = 'streamkit.App("flights-notebook")'
#: ~130 s on the 2-core machine: worker start, replay, the three agents.
REPLAY_TIMEOUT = 420.0

COUNT_ORIGINS_EDITED = """%%agent flights-by-origin
async def count_origins(stream):
    async for origin, flight in stream.items():
        if flight.distance > 1000:
            flights_per_origin[origin] += 1
"""


def copy_notebook(directory: Path, app_id: str) -> Path:
    """The flights notebook under ``directory``, its App renamed ``app_id``."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    renamed = [c for c in notebook.cells if ORIGINAL_APP in c.source]
    assert len(renamed) == 1, "the notebook no longer creates its App as expected"
    renamed[0].source = renamed[0].source.replace(
        ORIGINAL_APP, f'streamkit.App("{app_id}")'
    )
    path = directory / "flights_copy.ipynb"
    nbformat.write(notebook, path)
    return path


def export(notebook: Path, module: Path) -> str:
    """``streamkit export NOTEBOOK -o MODULE --json``, as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "streamkit", "export", str(notebook)]
        + ["-o", str(module), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tasks"] == [REPLAY_TASK]
    return module.read_text()


def start_worker(module: str, url: str, log: Path) -> subprocess.Popen[bytes]:
    """``streamkit -A module worker`` in the module's directory, logging to ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKIT_")}
    env["COLUMNS"] = "400"  # one log record per line
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streamkit", "-A", module, "worker"]
            + ["--broker", url, "-l", "info", "--without-web"],
            cwd=log.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def wait_for_tables(url, app_id, expected, worker, log: Path):
    """Poll the changelogs until they hold ``expected``; fail if the worker dies."""
    deadline = time.monotonic() + REPLAY_TIMEOUT
    while True:
        state = await read_changelogs(url, app_id)
        done = state.origins == expected.origins and (
            carrier_figures(state.carriers) == expected.carriers
        )
        if done or time.monotonic() > deadline:
            return state
        if worker.poll() is not None:
            pytest.fail(f"worker exited early:\n{tail(log)}")
        await asyncio.sleep(1.0)


async def read_alerts(url: str, expected: int) -> list[Flight]:
    """The flights on ``delay-alerts``, decoded as the worker's topic does."""
    topic = App("alerts-reader", broker=url).topic("delay-alerts", value_type=Flight)
    transport = create_transport(url, client_id="export-test-alerts")
    await transport.start()
    try:
        for _ in range(60):
            messages = await read_topic(transport, "delay-alerts")
            if len(messages) >= expected:
                break
            await asyncio.sleep(0.5)
    finally:
        await transport.stop()
    return [topic.codec.loads_value(m.value) for m in messages]


@pytest.mark.kafka
@pytest.mark.timeout(REPLAY_TIMEOUT + 180)
async def test_exported_flights_notebook_runs_as_a_kafka_worker_and_matches_pandas(
    kafka_bootstrap, unique, tmp_path
):
    app_id = f"flights-export-{unique}"
    url = f"kafka://{kafka_bootstrap}"
    notebook = copy_notebook(tmp_path, app_id)
    code = export(notebook, tmp_path / "flights_export.py")
    assert f'app = streamkit.App("{app_id}")' in code
    expected = expected_for(FLIGHTS)
    assert expected.flights == 336_776

    log = tmp_path / "worker.log"
    worker = start_worker("flights_export", url, log)
    try:
        started = time.monotonic()
        state = await wait_for_tables(url, app_id, expected, worker, log)
        elapsed = time.monotonic() - started
        alerts = await read_alerts(url, sum(expected.alerts.values()))

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    print(f"exported worker: {expected.flights} flights in {elapsed:.0f}s")

    assert state.origins == expected.origins
    assert carrier_figures(state.carriers) == expected.carriers
    assert Counter(map(alert_fields, alerts)) == expected.alerts
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert f"app {app_id}: stopped" in text


def test_reexport_after_editing_an_agent_cell_reflects_the_edit(tmp_path, unique):
    notebook_path = copy_notebook(tmp_path, f"flights-export-{unique}")
    module = tmp_path / "flights_export.py"
    before = export(notebook_path, module)

    notebook = nbformat.read(notebook_path, as_version=4)
    (agent,) = [c for c in notebook.cells if "def count_origins" in c.source]
    agent.source = COUNT_ORIGINS_EDITED
    nbformat.write(notebook, notebook_path)
    after = export(notebook_path, module)

    assert decorators(after, "count_origins") == ["app.agent('flights-by-origin')"]
    assert body(after, "count_origins") == (
        "async for origin, flight in stream.items():\n"
        "    if flight.distance > 1000:\n"
        "        flights_per_origin[origin] += 1"
    )
    assert body(before, "count_origins") == (
        "async for origin, _flight in stream.items():\n"
        "    flights_per_origin[origin] += 1"
    )
    for unchanged in ("route", "carrier_delay", REPLAY_TASK):
        assert body(after, unchanged) == body(before, unchanged)
