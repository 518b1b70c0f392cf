"""The seed's ``@app.service`` sample, unchanged but for ``import streamkit as
faust``: as a worker process (both ways of starting one) and in a kernel."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from .conftest import PYTHON

SEED_SERVICE = """\
import streamkit as faust
from mode import Service

app = faust.App('service-example')

@app.service
class MyService(Service):

    async def on_start(self):
        print('MYSERVICE IS STARTING')

    async def on_stop(self):
        print('MYSERVICE IS STOPPING')

    @Service.task
    async def _background_task(self):
        while not self.should_stop:
            print('BACKGROUND TASK WAKE UP')
            await self.sleep(1.0)

if __name__ == '__main__':
    app.main()
"""

STARTING, WAKE_UP, STOPPING = (
    "MYSERVICE IS STARTING",
    "BACKGROUND TASK WAKE UP",
    "MYSERVICE IS STOPPING",
)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([PYTHON, "service_example.py", "worker"], id="app.main"),
        pytest.param(
            [PYTHON, "-m", "streamkit", "-A", "service_example", "worker"],
            id="streamkit-A",
        ),
    ],
)
def test_seed_service_runs_in_a_worker(spawn, tmp_path: Path, command) -> None:
    (tmp_path / "service_example.py").write_text(SEED_SERVICE)
    worker = spawn([*command, "--web-port", "0"])

    worker.wait_for_line(STARTING, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        wakes = [t for t, line in worker.poll_lines() if line == WAKE_UP]
        if len(wakes) >= 3:
            break
        time.sleep(0.05)
    worker.process.send_signal(signal.SIGTERM)
    code = worker.process.wait(30)

    output = worker.text()
    assert code == 0, output
    assert len(wakes) >= 3, output
    gaps = [b - a for a, b in zip(wakes, wakes[1:], strict=False)]
    assert all(0.8 < gap < 1.5 for gap in gaps), f"wake-ups 1s apart: {gaps}"
    lines = output.splitlines()
    first_wake = lines.index(WAKE_UP)
    assert lines.index(STARTING) < first_wake < lines.index(STOPPING), output


def test_seed_service_runs_in_a_kernel_and_restarts(tmp_path: Path) -> None:
    from notebooks.notebook_kernel import NotebookKernel

    kernel = NotebookKernel(tmp_path)
    try:
        kernel.run(
            SEED_SERVICE.replace("if __name__ == '__main__':\n    app.main()\n", "")
            + "app.conf.web_enabled = False\n"
        )
        runs = []
        for _ in range(2):  # a second start after a stop must work too
            started = kernel.run("await app.start()")
            kernel.run("import asyncio; await asyncio.sleep(2.5)")
            stopped = kernel.run("await app.stop()")
            runs.append((started.msg_id, stopped.msg_id))
        kernel.settle()
        shown = [(kernel.output(a), kernel.output(b)) for a, b in runs]
    finally:
        kernel.shutdown()

    # The service and its task run in the context of the cell that started
    # the App, so their prints show under that cell, as Jupyter users expect.
    for on_start, on_stop in shown:
        assert STARTING in on_start, shown
        assert on_start.count(WAKE_UP) >= 2, shown
        assert STOPPING in on_stop, shown
