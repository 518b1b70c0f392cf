"""``%streamkit peek`` against a real Kafka-protocol broker: the read runs in
the background and its DataFrame is shown under the cell that asked."""

from __future__ import annotations

import re

import pytest
from notebook_kernel import NotebookKernel

pytestmark = pytest.mark.kafka

ROW = re.compile(r"<tr>\s*<th>\d+</th>\s*<td>(\d+)</td>\s*<td>(\d+)</td>")


def test_peek_on_kafka_shows_the_last_records_under_the_cell(
    kernel: NotebookKernel, kafka_bootstrap: str, unique: str
) -> None:
    kernel.run(
        f"""
app = streamkit.App(
    "peek-{unique}", broker="kafka://{kafka_bootstrap}", web_enabled=False
)
numbers = app.topic("numbers-{unique}", partitions=1)
await app.start()
landed = [await numbers.send_and_wait(value={{"i": i}}) for i in range(12)]
"""
    )
    offsets = kernel.eval("[m.offset for m in landed]")

    cell = kernel.run(f"%streamkit peek numbers-{unique} -n 5")
    shown = ""
    for _ in range(100):  # the frame arrives when the background read ends
        kernel.settle(0.1)
        shown = "".join(
            m["content"]["data"].get("text/html", "")
            for m in kernel.messages
            if m["parent_header"].get("msg_id") == cell.msg_id
            and m["msg_type"] == "display_data"
        )
        if shown:
            break

    rows = [(int(p), int(o)) for p, o in ROW.findall(shown)]
    assert rows == [(0, offset) for offset in offsets[-5:]]
    assert "{&#x27;i&#x27;: 11}" in shown or "{'i': 11}" in shown


def test_send_cell_sends_a_frame_to_kafka_and_says_so_when_stored(
    kernel: NotebookKernel, kafka_bootstrap: str, unique: str
) -> None:
    kernel.run(
        f"""
import pandas as pd
app = streamkit.App(
    "send-{unique}", broker="kafka://{kafka_bootstrap}", web_enabled=False
)
flights = app.topic("flights-{unique}", key_type=str, partitions=3)
counts = app.Table("per-origin", default=int)
await app.start()
frame = pd.DataFrame({{"origin": ["JFK", "EWR", "LGA", "JFK"] * 500, "n": range(2000)}})
"""
    )
    kernel.run(
        f"%%agent flights-{unique}\n"
        "async def count_origins(stream):\n"
        "    async for origin, flight in stream.items():\n"
        "        counts[origin] += 1\n"
    )
    expected = kernel.eval("frame['origin'].value_counts().to_dict()")

    cell = kernel.run(f"%%send flights-{unique} --key-field origin\nframe")
    said = ""
    for _ in range(300):  # reported when the broker has every record
        kernel.settle(0.1)
        said = kernel.output(cell.msg_id)
        if "sent" in said:
            break
    assert f"sent 2,000 records to topic 'flights-{unique}'" in said
    kernel.run(
        "from streamkit.transport import TP\n"
        "ends = await app.transport.end_offsets("
        f"[TP('flights-{unique}', p) for p in range(3)])"
    )
    assert kernel.eval("sum(ends.values())") == 2000

    kernel.run("await until(lambda: count_origins.processed == 2000, timeout=30)")
    assert kernel.eval("counts.as_dict()") == expected
