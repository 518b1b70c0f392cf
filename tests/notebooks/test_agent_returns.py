"""An ``%%agent`` whose function returns: the warning lands under its cell, the
other agent's commits advance, and re-running the cell starts it again."""

from __future__ import annotations

import re

from notebook_kernel import NotebookKernel

SETUP = """
app = streamkit.App(
    app.id, broker=app.conf.broker, stream_buffer_maxsize=10,
    broker_commit_interval=0.2, web_enabled=False,
)
t = app.topic("t")
go = asyncio.Event()
"""

STEADY = """%%agent t
async def steady(stream):
    async for value in stream:
        pass
"""

QUITTER = """%%agent t
async def quitter(stream):
    await go.wait()
    return 42
"""

LOOPING_QUITTER = """%%agent t
async def quitter(stream):
    async for value in stream:
        pass
"""

SEND = """
for i in range({start}, {stop}):
    await t.send(key=i, value=i)
"""

# Committed offsets read back from the broker against its end offsets.
COMMITTED = """
from streamkit.transport import TP
tps = [TP(t.name, p) for p in range(t.partition_count)]
ends = await app.transport.end_offsets(tps)

async def on_broker():
    return {tp: (await app.conductor.consumer.committed(tp)) or 0 for tp in tps}

loop = asyncio.get_running_loop()
deadline = loop.time() + 15
while (committed := await on_broker()) != ends and loop.time() < deadline:
    await asyncio.sleep(0.05)
"""


def committed_matches_end(kernel: NotebookKernel) -> tuple[int, int]:
    """(sum of committed offsets, sum of end offsets) for topic ``t``."""
    kernel.run(COMMITTED)
    return tuple(kernel.eval("sum(committed.values()), sum(ends.values())"))


def test_returned_agent_warns_under_its_cell_and_commits_advance(
    kernel: NotebookKernel,
) -> None:
    kernel.run(SETUP)
    kernel.run(STEADY)
    quitter_cell = kernel.run(QUITTER)
    kernel.run("%streamkit start")
    kernel.run("await until(lambda: app.is_running)")

    kernel.run(SEND.format(start=0, stop=6))
    kernel.run(
        "await until(lambda: len(quitter.buffer) == 6 and steady.processed == 6)"
    )
    kernel.run("go.set()\nawait until(lambda: not quitter.running)")
    kernel.run(SEND.format(start=6, stop=100))
    kernel.run("await until(lambda: steady.processed == 100)")
    assert committed_matches_end(kernel) == (100, 100)

    # The 6 it had buffered are skipped; later records never reached it.
    figures = kernel.eval("quitter.skipped, quitter.processed, len(quitter.buffer)")
    assert figures == [6, 0, 0]
    kernel.settle()
    shown = kernel.output(quitter_cell.msg_id)
    assert shown.count("no longer reads topic") == 1
    assert (
        "[streamkit WARNING] agent quitter: its function returned after 0 events, "
        "so it no longer reads topic 't'; the 6 events left in its buffer are "
        "committed without it"
    ) in shown
    assert "`async for value in stream:`" in shown
    assert "re-run its cell" in shown
    status = kernel.output(kernel.run("%streamkit status").msg_id)
    assert re.search(r"quitter\s+t\s+1\s+0\s+0\s+0\s+ended", status)
    assert re.search(r"steady\s+t\s+1\s+100\s+0\s+0\s+running", status)

    # Re-running the cell starts it again, on the records sent from now on.
    kernel.run(LOOPING_QUITTER)
    kernel.run("await until(lambda: quitter.running)")
    kernel.run(SEND.format(start=100, stop=120))
    kernel.run("await until(lambda: quitter.processed == 20)")
    assert committed_matches_end(kernel) == (120, 120)
    figures = kernel.eval("quitter.returned, quitter.skipped, steady.processed")
    assert figures == [False, 6, 120]
