"""The inspection and input magics in a real kernel, on the embedded broker:
``%streamkit peek|send|agents|tables|topics`` and ``%%send``."""

from __future__ import annotations

from collections import Counter

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
            "state": "running",
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


TYPED = """
nums = app.topic("nums", key_type=str, value_type=int, partitions=1)
typed = []

%%agent nums
async def add_up(stream):
    async for key, value in stream.items():
        typed.append([key, value])
"""


def test_sends_take_the_topics_declared_types_or_are_refused_whole(
    kernel: NotebookKernel,
) -> None:
    setup, agent = TYPED.split("\n%%agent")
    kernel.run(setup)
    kernel.run("%%agent" + agent)
    kernel.run("await app.start()")

    # A number-like key for a topic of str keys is the text itself.
    kernel.run("%streamkit send nums 5 --key 7")
    refused = {
        "%streamkit send nums hello": "the record is not what the topic declares",
        "%%send nums\n1\n2\nthree\n": "record 3 of 3 is not what the topic declares",
        "%%send nums\n{bad json\n": "the record is not what the topic declares",
    }
    for code, said in refused.items():
        cell = kernel.run(code, ok=False)
        output = kernel.output(cell.msg_id)
        assert cell.status == "error", code
        assert f"sending to topic 'nums': {said}" in output, output
        assert "cannot decode value as int" in output and "Nothing was sent" in output
    kernel.run("%%send nums --key 8\n1\n2\n")

    kernel.run("await until(lambda: len(typed) == 3)\nawait asyncio.sleep(0.2)")
    assert kernel.eval("typed") == [["7", 5], ["8", 1], ["8", 2]]
    rows = frame(kernel, "%streamkit peek nums")
    assert [r["error"] for r in rows] == ["None"] * 3
    assert kernel.eval("add_up.errors, app.monitor.decode_errors") == [0, {}]


def test_send_cell_keys_each_row_from_a_field_or_the_index(
    kernel: NotebookKernel,
) -> None:
    # The README's per-origin counter keyed by a DataFrame column, and a
    # frame indexed by origin: the index is a field too.
    kernel.run(
        'counts = app.Table("per-origin", default=int)\n'
        'flights = app.topic("flights", key_type=str)\n'
        "await app.start()"
    )
    kernel.run(
        "%%agent flights\n"
        "async def count_origins(stream):\n"
        "    async for origin, flight in stream.items():\n"
        "        counts[origin] += 1\n"
    )
    origins = ["JFK", "EWR", "JFK"]
    kernel.run(
        "import pandas as pd\n"
        f"df = pd.DataFrame({{'origin': {origins!r}, 'dep_delay': [4, -2, 7]}})"
    )
    kernel.run("%%send flights --key-field origin\ndf")
    kernel.run("%%send flights --key-field origin\ndf.set_index('origin').head(2)")
    kernel.run('%%send flights --key-field gate\n{"gate": 12, "origin": "LGA"}\n')
    cell = kernel.run("%%send flights --key-field gate\ndf", ok=False)
    assert "--key-field gate: record 1 has no field 'gate'" in kernel.output(
        cell.msg_id
    )

    expected = Counter(origins) + Counter(origins[:2]) + Counter(["12"])
    kernel.run(f"await until(lambda: sum(counts.values()) == {sum(expected.values())})")
    kernel.run("await asyncio.sleep(0.2)")
    assert kernel.eval("counts.as_dict()") == dict(expected)
    assert kernel.eval("count_origins.errors") == 0
    last = frame(kernel, "%streamkit peek flights -n 1")[0]
    assert (last["key"], last["value"]) == ("12", "{'gate': 12, 'origin': 'LGA'}")


def test_start_and_stop_say_when_there_is_nothing_to_do(kernel: NotebookKernel) -> None:
    cell = kernel.run("%streamkit stop")
    assert kernel.output(cell.msg_id).strip().endswith("is not running")
    kernel.run("await app.start()")
    cell = kernel.run("%streamkit start")
    assert "is already running" in kernel.output(cell.msg_id)
    kernel.run("%streamkit stop")
    kernel.run("await until(lambda: not app.is_running)")
    cell = kernel.run("%streamkit stop")
    assert kernel.output(cell.msg_id).strip().endswith("is not running")


def test_send_reads_text_for_raw_topics_and_refuses_rows_without_a_key(
    kernel: NotebookKernel,
) -> None:
    kernel.run(
        'raw = app.topic("raw", key_type=bytes, value_type=bytes,'
        ' key_serializer="raw", value_serializer="raw", partitions=1)\n'
        'gates = app.topic("gates", key_type=str, partitions=1)\n'
        "await app.start()"
    )
    kernel.run("%streamkit send raw 5 --key 7")
    rows = frame(kernel, "%streamkit peek raw -n 1")
    assert (rows[0]["key"], rows[0]["value"]) == ("b'7'", "b'5'")

    kernel.run(
        "import numpy as np, pandas as pd\n"
        "gated = pd.DataFrame({'gate': [12.0, np.nan, 14.0], 'n': [1, 2, 3]})"
    )
    cell = kernel.run("%%send gates --key-field gate\ngated", ok=False)
    output = kernel.output(cell.msg_id)
    assert "--key-field gate: record 2 has no value in 'gate' (nan)" in output
    assert "nothing was sent" in output

    kernel.run("%%send gates --key-field gate\ngated.dropna()")
    rows = frame(kernel, "%streamkit peek gates")
    assert [r["key"] for r in rows] == ["12", "14"]

    cell = kernel.run("%%send gates\ngated.set_index(gated['n'].rename('n'))", ok=False)
    assert "the frame's index ('n') is also one of its columns" in kernel.output(
        cell.msg_id
    )
