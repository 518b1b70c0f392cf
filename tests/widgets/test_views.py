"""The widget views on their own (no kernel): what they draw for a table,
an agent and the sensors, checked against pandas and plain counts."""

from __future__ import annotations

import asyncio
import re

import pandas
import pytest

import streamkit
from streamkit.demo.flights import DelayStats
from streamkit.jupyter.widgets import AgentView, SensorPanel, TableView
from streamkit.jupyter.widgets.figures import sparkline

ROW = re.compile(r"<tr><th>([^<]*)</th>((?:<td>[^<]*</td>)*)</tr>")


def shown_rows(view: TableView) -> list[tuple[str, list[str]]]:
    body = view.body.value.split("<tbody>", 1)[1]
    return [
        (key, re.findall(r"<td>([^<]*)</td>", cells))
        for key, cells in ROW.findall(body)
    ]


@pytest.fixture
async def app(unique):
    app = streamkit.App(f"views-{unique}", broker=f"memory://views-{unique}")
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def delays(app):
    table = app.Table("delays", default=DelayStats, value_type=DelayStats)
    frame = pandas.DataFrame(
        {
            "carrier": [f"C{i:02d}" for i in range(40)],
            "departed": [(i * 37) % 23 for i in range(40)],
            "total_delay": [float((i * 53) % 101) for i in range(40)],
        }
    ).set_index("carrier")
    for carrier, row in frame.iterrows():
        table[carrier] = DelayStats(departed=row.departed, total_delay=row.total_delay)
    return table, frame


async def test_largest_first_by_a_chosen_column(delays):
    table, frame = delays
    view = TableView(table, rows=5, order="largest")
    view.sort_by.value = "total_delay"

    expected = frame.sort_values("total_delay", ascending=False).head(5)
    shown = shown_rows(view)
    assert [float(cells[1].replace(",", "")) for _, cells in shown] == list(
        expected.total_delay
    )
    assert len(shown) == 5


async def test_by_key_with_a_filter(delays):
    table, frame = delays
    view = TableView(table, rows=50, order="key", key_filter="c1")

    expected = sorted(k for k in frame.index if "c1" in k.lower())
    assert [key for key, _ in shown_rows(view)] == expected
    assert {key: int(cells[0].replace(",", "")) for key, cells in shown_rows(view)} == {
        key: frame.loc[key, "departed"] for key in expected
    }


async def test_newest_first_follows_writes(delays):
    table, frame = delays
    view = TableView(table, rows=3)
    for carrier in ("C07", "C30", "C07", "C12"):
        table[carrier] = DelayStats(departed=1, total_delay=1.0)
    view.refresh()

    assert [key for key, _ in shown_rows(view)] == ["C12", "C07", "C30"]


async def test_rows_control_and_keys_figure(delays):
    table, frame = delays
    view = TableView(table, order="key")
    view.rows.value = 7

    assert len(shown_rows(view)) == 7
    assert f'data-figure="keys" data-value="{len(frame)}"' in view.title.value


async def test_a_bad_order_says_which_are_allowed(app):
    table = app.Table("t", default=int)
    with pytest.raises(ValueError, match="'newest', 'largest', 'key'"):
        TableView(table, order="biggest")


async def test_agent_view_counts_events_errors_and_buffer(app):
    topic = app.topic("numbers", value_type=int)
    release = asyncio.Event()

    @app.agent(topic)
    async def picky(stream):
        async for value in stream:
            await release.wait()
            if value % 10 == 0:
                raise ValueError(f"{value} ends in zero")

    view = AgentView(picky)
    for value in range(95):
        await topic.send(value=value)
    # Held by the first event: the rest waits in the buffer.
    for _ in range(200):
        if len(picky.buffer) == 94:
            break
        await asyncio.sleep(0.01)
    view.refresh()
    assert view.buffer_bar.value == 94
    assert view.buffer_bar.max == app.conf.stream_buffer_maxsize

    release.set()
    for _ in range(500):
        if picky.processed == 95:
            break
        await asyncio.sleep(0.01)
    view.refresh()
    assert view.buffer_bar.value == 0
    assert 'data-figure="processed" data-value="95"' in view.figures.value
    assert 'data-figure="errors" data-value="10"' in view.error_badge.value
    assert re.search(
        r"ValueError: \d+0 ends in zero at numbers\[\d\]@", view.error_badge.value
    )


async def test_sensor_panel_counts_messages(app):
    topic = app.topic("events")
    panel = SensorPanel(app)
    for i in range(30):
        await topic.send(value=i)
    panel.refresh()
    assert 'data-figure="messages_sent" data-value="30"' in panel.figures.value
    assert 'class="streamkit-throughput-chart"' in panel.chart.value


def test_sparkline_scales_to_its_maximum():
    svg = sparkline([0.0, 50.0, 100.0], title="t")
    points = re.search(r'points="([^"]*)"', svg)[1].split()
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] > ys[1] > ys[2]  # higher values are drawn higher (smaller y)
    assert ys[2] == 2.0
