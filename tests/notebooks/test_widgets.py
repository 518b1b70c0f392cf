"""The live widgets in a real kernel: what the front end is sent.

The figures are read back from the comm messages the kernel sent (as a front
end rebuilds its widget models) and compared with counts computed here.
"""

from __future__ import annotations

from collections import Counter

from widget_models import WidgetModels

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

COUNTING_AGENT = """
%%agent readings
async def count_sensors(stream):
    async for sensor, value in stream.items():
        if value % 50 == 49:
            raise ValueError(f"reading {value} is out of range")
        per_sensor[sensor] += 1
"""

SETUP = """
readings = app.topic("readings", key_type=str, value_type=int)
per_sensor = app.Table("per-sensor", default=int)
await app.start()
"""


def _send(kernel, count: int) -> None:
    kernel.run(
        f"""
for i in range({count}):
    await readings.send(key=f"s{{i % 7}}", value=i)
await until(lambda: app.agents["count_sensors"].processed == {count})
"""
    )


def _display_data(kernel, msg_id: str) -> list[dict]:
    return [
        m["content"]["data"]
        for m in kernel.messages
        if m["parent_header"].get("msg_id") == msg_id
        and m["msg_type"] in ("display_data", "execute_result")
    ]


def test_dashboard_shows_the_figures_of_the_running_app(kernel):
    kernel.run(SETUP)
    agent_cell = kernel.run(COUNTING_AGENT)
    shown = kernel.run("%streamkit dashboard")
    (data,) = _display_data(kernel, shown.msg_id)
    assert WIDGET_MIME in data
    # Front ends without widgets (nbconvert) get the status text instead.
    assert "count_sensors" in data["text/plain"]
    assert "Dashboard(" not in data["text/plain"]

    count = 700
    _send(kernel, count)
    kernel.settle(1.5)  # two refreshes of every view at the least

    failing = sum(1 for i in range(count) if i % 50 == 49)
    expected_rows = Counter(f"s{i % 7}" for i in range(count) if i % 50 != 49)
    models = WidgetModels(kernel.messages)
    figures = models.figures()

    # Processed counts every event the agent finished, failed ones included.
    assert figures[("count_sensors", "processed")] == count
    assert figures[("count_sensors", "errors")] == failing
    assert figures[("count_sensors", "buffer_max")] == kernel.eval(
        "app.conf.stream_buffer_maxsize"
    )
    assert figures[("per-sensor", "keys")] == len(expected_rows)
    assert figures[("sensors", "messages_received")] == count
    rows = models.table_rows("per-sensor")
    assert {
        key: int(cells[0].replace(",", "")) for key, cells in rows.items()
    } == expected_rows

    # The badge counts what the defining cell reports: the first tracebacks
    # in full, the rest in a digest line (tests/notebooks/test_error_output.py).
    assert kernel.eval('app.agents["count_sensors"].errors') == failing
    shown = kernel.output(agent_cell.msg_id).count("ValueError: reading")
    assert shown == min(failing, 3)

    bars = models.with_class("streamkit-buffer")
    assert len(bars) == 1 and bars[0]["max"] == figures[("count_sensors", "buffer_max")]


def test_an_agent_defined_later_joins_the_dashboard(kernel):
    kernel.run(SETUP)
    kernel.run(COUNTING_AGENT)
    kernel.run("%streamkit dashboard")
    kernel.run(
        """
%%agent readings
async def echo(stream):
    async for value in stream:
        pass
"""
    )
    _send(kernel, 100)
    kernel.run('await until(lambda: app.agents["echo"].processed == 100)')
    kernel.settle(1.5)

    figures = WidgetModels(kernel.messages).figures()
    assert figures[("echo", "processed")] == 100
    assert figures[("count_sensors", "processed")] == 100


def test_displaying_app_agent_and_table_shows_widget_and_text(kernel):
    kernel.run(SETUP)
    kernel.run(COUNTING_AGENT)
    _send(kernel, 100)

    for expression, text in [
        ("app", "count_sensors"),
        ('app.agents["count_sensors"]', "100 processed, 2 errors"),
        ("per_sensor", "7 keys"),
    ]:
        cell = kernel.run(expression)
        (data,) = _display_data(kernel, cell.msg_id)
        assert WIDGET_MIME in data, expression
        assert text in data["text/plain"], (expression, data["text/plain"])


def test_updates_are_coalesced_under_load(kernel):
    kernel.run(SETUP)
    kernel.run(
        """
%%agent readings
async def count_sensors(stream):
    async for sensor, value in stream.items():
        per_sensor[sensor] += 1
"""
    )
    kernel.run("%streamkit dashboard")
    before = WidgetModels(kernel.messages).updates

    kernel.run(
        """
import time
started = time.monotonic()
sent = 0
while time.monotonic() - started < 3:
    for _ in range(200):
        await readings.send(key=f"s{sent % 7}", value=sent)
        sent += 1
await until(lambda: app.agents["count_sensors"].processed == sent, timeout=60)
elapsed = time.monotonic() - started
""",
        timeout=90,
    )
    sent, elapsed = kernel.eval("[sent, elapsed]")
    models = WidgetModels(kernel.messages)
    updates = {
        comm: count - before.get(comm, 0) for comm, count in models.updates.items()
    }

    # Agent views refresh at 5 Hz, tables and sensors at 2 Hz: no model may
    # get more than one update per 0.2 s however many events flowed, and the
    # last one shows them all.
    assert sent > 1000
    assert max(updates.values()) <= elapsed / 0.2 + 3, (updates, elapsed, sent)
    kernel.settle(1)
    final = WidgetModels(kernel.messages).figures()
    assert final[("count_sensors", "processed")] == sent


def test_showing_again_retires_the_previous_view(kernel):
    kernel.run(SETUP)
    kernel.run(COUNTING_AGENT)
    kernel.run("%streamkit dashboard")
    from_widgets = "from streamkit.jupyter.widgets import refresher"
    kernel.run(from_widgets)
    live_with_one = kernel.eval("len(refresher)")

    for _ in range(3):  # the cell re-run, as while developing
        kernel.run("%streamkit dashboard")
    kernel.run("per_sensor")
    kernel.run("per_sensor")

    # One dashboard (its agent, table and sensor views) and one table view.
    assert kernel.eval("len(refresher)") == live_with_one + 1
    closed = sum(1 for m in kernel.messages if m["msg_type"] == "comm_close")
    assert closed > 0


def test_a_dashboard_keeps_refreshing_across_reload_ext(kernel):
    kernel.run(SETUP)
    kernel.run(COUNTING_AGENT)
    kernel.run("%streamkit dashboard")
    refreshing = (
        "sorted(t.get_name() for t in asyncio.all_tasks() "
        "if t.get_name() == 'streamkit-widgets')"
    )
    kernel.run("import asyncio")
    assert kernel.eval(refreshing) == ["streamkit-widgets"]

    for _ in range(2):
        kernel.run("%reload_ext streamkit")
    _send(kernel, 300)
    kernel.settle(1.5)

    # The views shown before the reload are the ones still updated, by the
    # one refresh task there was before.
    figures = WidgetModels(kernel.messages).figures()
    assert figures[("count_sensors", "processed")] == 300
    assert figures[("sensors", "messages_received")] == 300
    assert kernel.eval(refreshing) == ["streamkit-widgets"]
