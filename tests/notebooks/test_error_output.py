"""A handler that fails on every event: the cell shows a digest, not a flood,
and every error is still counted."""

from __future__ import annotations

import re

FAILING_AGENT = """%%agent numbers
async def always_fails(stream):
    async for value in stream:
        raise ValueError(f"cannot take {value}")
"""


def test_every_error_is_counted_but_only_three_are_shown_in_full(kernel):
    kernel.run(
        """
import streamkit.jupyter.output
streamkit.jupyter.output.QUIET_SECONDS = 0.5
numbers = app.topic("numbers", value_type=int)
await app.start()
"""
    )
    agent_cell = kernel.run(FAILING_AGENT)
    count = 300
    kernel.run(
        f"""
for i in range({count}):
    await numbers.send(value=i)
await until(lambda: app.agents["always_fails"].processed == {count})
await asyncio.sleep(1.5)  # past the quiet period: the last digest is out
"""
    )
    output = kernel.output(agent_cell.msg_id)

    assert kernel.eval('app.agents["always_fails"].errors') == count
    assert len(re.findall(r"^ValueError: cannot take \d+$", output, re.M)) == 3
    held = re.findall(r"always_fails: ([\d,]+) more errors not shown in full", output)
    assert sum(int(n.replace(",", "")) for n in held) == count - 3

    # Each error shown in full says which record failed, once.
    header = r"\[streamkit ERROR\] agent always_fails raised ValueError on "
    headers = re.findall(header + r"numbers\[\d+\]@\d+", output)
    assert len(headers) == 3
    assert "more like this" not in output  # the log line is not a second digest
