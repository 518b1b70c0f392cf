"""The samples of the Faust API summary run with only the import changed.

They run twice at once, so the 30-second timer is waited for only once: as a
worker process (``python seedapp.py worker`` through ``app.main()``, on the
real Kafka-protocol broker) and inside a real IPython kernel (memory broker).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from brokers import free_port

# The samples, verbatim but for `import faust` -> `import streamkit as faust`,
# gathered in one module as a user would write them.
SAMPLES = '''
import streamkit as faust
from mode import Service

app = faust.App('service-example')


@app.agent()
async def myagent(stream):
    """Example agent."""
    async for value in stream:
        print(f'MYAGENT RECEIVED -- {value!r}')
        yield value


@app.task()
async def mytask():
    print('APP STARTED AND OPERATIONAL')


@app.timer(30.0)
async def my_periodic_task():
    print('THIRTY SECONDS PASSED')


@app.page('/path/to/view/')
async def myview(web, request):
    print(f'FOO PARAM: {request.query["foo"]}')


@app.command()
async def example():
    """This docstring is used as the command help in --help."""
    print('RUNNING EXAMPLE COMMAND')


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
'''

MAIN = """
if __name__ == '__main__':
    app.main()
"""

TIMER_SECONDS = 30.0


def wait_for_text(read, text: str, timeout: float, count: int = 1) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = read()
        if output.count(text) >= count:
            return output
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} x{count} not seen in {timeout}s:\n{output}")
        time.sleep(0.2)


def http_get(port: int, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.status, r.read()


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_seed_samples_run_as_a_worker_and_in_a_kernel(tmp_path, kafka_bootstrap):
    from notebook_kernel import NotebookKernel

    (tmp_path / "seedapp.py").write_text(SAMPLES + MAIN)
    worker_port, kernel_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKIT_")}
    env.update(
        PYTHONUNBUFFERED="1",
        COLUMNS="400",
        STREAMKIT_BROKER=f"kafka://{kafka_bootstrap}",
        STREAMKIT_WEB_PORT=str(worker_port),
    )

    # The command: listed in --help with its docstring, and runnable.
    helped = run([sys.executable, "seedapp.py", "--help"], tmp_path, env)
    assert helped.returncode == 0, helped.stderr
    assert "example" in helped.stdout
    assert "This docstring is used as the command help" in helped.stdout
    ran = run([sys.executable, "seedapp.py", "example"], tmp_path, env)
    assert ran.returncode == 0, ran.stderr
    assert "RUNNING EXAMPLE COMMAND" in ran.stdout

    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "seedapp.py", "worker", "-l", "info"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    started = time.monotonic()
    kernel = NotebookKernel(tmp_path / "kernel")
    try:
        read_log = lambda: log_path.read_text(errors="replace")  # noqa: E731

        # Inside a kernel: the same samples as notebook cells.
        kernel.run(f"import os; os.environ['STREAMKIT_WEB_PORT'] = '{kernel_port}'")
        kernel.run(SAMPLES)
        start_cell = kernel.run("await app.start()", timeout=60)
        kernel_started = time.monotonic()
        kernel.run("received = []; myagent.sinks.append(received.append)")
        kernel.run("await myagent.send(value='hello')")

        # The worker: task, service, page, agent.
        wait_for_text(read_log, "APP STARTED AND OPERATIONAL", 60)
        wait_for_text(read_log, "MYSERVICE IS STARTING", 10)
        wait_for_text(read_log, "BACKGROUND TASK WAKE UP", 10, count=2)
        status, body = http_get(worker_port, "/path/to/view/?foo=bar")
        assert (status, body) == (200, b"")
        wait_for_text(read_log, "FOO PARAM: bar", 10)
        sent = run(
            [
                sys.executable,
                "-m",
                "streamkit",
                "-A",
                "seedapp",
                "send",
                "@myagent",
                json.dumps("hello"),
            ],
            tmp_path,
            env,
        )
        assert sent.returncode == 0, sent.stderr
        wait_for_text(read_log, "MYAGENT RECEIVED -- 'hello'", 30)

        # The kernel: same figures, read from the cells' outputs.
        status, body = http_get(kernel_port, "/path/to/view/?foo=baz")
        assert (status, body) == (200, b"")
        kernel.settle(1.0)
        assert kernel.eval("received") == ["hello"]
        shown = kernel.output(start_cell.msg_id)
        for text in (
            "APP STARTED AND OPERATIONAL",
            "MYSERVICE IS STARTING",
            "BACKGROUND TASK WAKE UP",
            "MYAGENT RECEIVED -- 'hello'",
            "FOO PARAM: baz",
        ):
            assert text in shown, f"{text!r} not shown under the start cell:\n{shown}"

        # The 30-second timer, in both.
        wait_for_text(read_log, "THIRTY SECONDS PASSED", TIMER_SECONDS + 15)
        assert time.monotonic() - started >= TIMER_SECONDS
        kernel.settle(max(0.0, kernel_started + TIMER_SECONDS + 5 - time.monotonic()))
        assert "THIRTY SECONDS PASSED" in kernel.output(start_cell.msg_id)

        stop_cell = kernel.run("await app.stop()", timeout=60)
        assert "MYSERVICE IS STOPPING" in kernel.output(stop_cell.msg_id)
    finally:
        kernel.shutdown()
        if worker.poll() is None:
            worker.terminate()
        code = worker.wait(60)

    log = read_log()
    assert code == 0, log
    assert "MYSERVICE IS STOPPING" in log
    assert "Traceback" not in log
