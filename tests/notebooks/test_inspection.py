"""The inspection and input magics in a real kernel, on the embedded broker:
``%streamkit peek|send|agents|tables|topics`` and ``%%send``."""

from __future__ import annotations

from notebook_kernel import NotebookKernel

SETUP = """
collected = []
landed = []
counts = app.Table("counts", default=int)
one = app.topic("one", partitions=1)
many = app.topic("many", partitions=4)

%%agent one --name collector
async def collector(stream):
    async for value in stream:
        collected.append(value)
"""


def start(kernel: NotebookKernel) -> None:
    setup, agent = SETUP.split("\n%%agent")
    kernel.run(setup)
    kernel.run("%%agent" + agent)
    kernel.run("%streamkit start")
    kernel.run("await until(lambda: app.is_running)")


def frame(kernel: NotebookKernel, expr: str) -> list[dict]:
    kernel.run(f"_f = {expr}")
    return kernel.eval("_f.map(str).to_dict(orient='records')")


def test_peek_returns_the_last_n_records_with_offsets(kernel: NotebookKernel) -> None:
    start(kernel)
    kernel.run(
        "for i in range(25):\n"
        "    m = await many.send_and_wait(key=f'k{i % 3}', value={'i': i})\n"
        "    landed.append((m.partition, m.offset, i))\n"
        "await until(lambda: True)"
    )
    landed = kernel.eval("landed")

    rows = frame(kernel, "%streamkit peek many -n 7")
    assert [(int(r["partition"]), int(r["offset"])) for r in rows] == [
        (p, o) for p, o, _ in landed[-7:]
    ]
    assert [r["value"] for r in rows] == [str({"i": i}) for *_, i in landed[-7:]]
    assert kernel.eval("list(_f.columns)")[:5] == [
        "partition",
        "offset",
        "timestamp",
        "key",
        "value",
    ]

    partition = landed[0][0]
    mine = [(o, i) for p, o, i in landed if p == partition]
    rows = frame(kernel, f"%streamkit peek many --partition {partition} -n 100")
    assert [(int(r["offset"]), r["value"]) for r in rows] == [
        (o, str({"i": i})) for o, i in mine
    ]
    assert len(frame(kernel, "%streamkit peek many")) == 10


def test_peek_marks_undecodable_records(kernel: NotebookKernel) -> None:
    kernel.run('ints = app.topic("ints", value_type=int, value_serializer="str")')
    start(kernel)
    kernel.run("await ints.send_and_wait(value=b'oops')\nawait ints.send(value=3)")
    rows = frame(kernel, "%streamkit peek ints")
    assert kernel.eval("[repr(v) for v in _f['value']]") == ["b'oops'", "3"]
    assert "cannot decode value" in rows[0]["error"]
    assert rows[1]["error"] == "None"


def test_send_and_send_cell_reach_the_agent_exactly(kernel: NotebookKernel) -> None:
    start(kernel)
    cell = kernel.run("%streamkit send one '{\"a\": 1}' --key k1")
    assert "sent to topic 'one' partition 0 offset 0" in kernel.output(cell.msg_id)
    kernel.run("%streamkit send one plain-text")
    cell = kernel.run('%%send one --key 7\n42\n\n"quoted"\nhello world\n[1, 2]\n')
    assert "sent 4 records to topic 'one'" in kernel.output(cell.msg_id)

    kernel.run("import pandas as pd\ndf = pd.DataFrame({'x': [1, 2], 'y': ['a', 'b']})")
    cell = kernel.run("%%send one\ndf")
    assert "sent 2 records to topic 'one'" in kernel.output(cell.msg_id)

    kernel.run("await until(lambda: len(collected) >= 8)")
    assert kernel.eval("collected") == [
        {"a": 1},
        "plain-text",
        42,
        "quoted",
        "hello world",
        [1, 2],
        {"x": 1, "y": "a"},
        {"x": 2, "y": "b"},
    ]
    rows = frame(kernel, "%streamkit peek one -n 3")
    assert [r["key"] for r in rows] == ["7", "None", "None"]


def test_definition_frames_match_the_app(kernel: NotebookKernel) -> None:
    start(kernel)
    kernel.run("await one.send_and_wait(value=1)\nawait until(lambda: collected)")
    kernel.run("counts['x'] += 2")

    agents = frame(kernel, "%streamkit agents")
    assert agents == [
        {
            "name": "collector",
            "topic": "one",
            "concurrency": "1",
            "processed": "1",
            "errors": "0",
            "buffered": "0",
        }
    ]
    unique = kernel.eval("app.id")
    changelog = f"{unique}-counts-changelog"
    assert frame(kernel, "%streamkit tables") == [
        {"name": "counts", "keys": "1", "changelog": changelog}
    ]
    topics = {r["name"]: r for r in frame(kernel, "%streamkit topics")}
    assert topics["one"] == {
        "name": "one",
        "partitions": "1",
        "used by": "agent collector",
    }
    assert topics["many"]["partitions"] == "4"
    assert topics["many"]["used by"] == ""
    assert topics[changelog]["used by"] == "table counts"


def test_errors_for_a_stopped_app_and_an_unknown_topic(kernel: NotebookKernel) -> None:
    kernel.run('one = app.topic("one")')
    cell = kernel.run("%streamkit peek one", ok=False)
    assert cell.status == "error"
    assert "is not running: %streamkit start first" in kernel.output(cell.msg_id)
    cell = kernel.run("%streamkit send one 1", ok=False)
    assert "is not running" in kernel.output(cell.msg_id)

    kernel.run("%streamkit start")
    kernel.run("await until(lambda: app.is_running)")
    cell = kernel.run("%streamkit peek nosuch", ok=False)
    assert cell.status == "error"
    assert "topic 'nosuch' does not exist" in kernel.output(cell.msg_id)
    cell = kernel.run("%streamkit peek one --partition 99", ok=False)
    assert "not 99" in kernel.output(cell.msg_id)
