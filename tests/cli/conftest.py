"""Fixtures of the command-line tests: worker subprocesses and their broker.

Each test gets a noida broker of its own (see ``tests/integration/conftest.py``
for why the flights topics need one), and every worker it spawns is killed
when it ends, whatever happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

STREAMKIT = [sys.executable, "-m", "streamkit"]


@pytest.fixture
def kafka_bootstrap(private_kafka_bootstrap: str) -> str:
    """A broker of this test's own (see tests/conftest.py)."""
    return private_kafka_bootstrap


@dataclass
class Worker:
    """A ``streamkit ... worker`` subprocess, its stderr kept in a file."""

    process: subprocess.Popen[bytes]
    log_path: Path
    #: How long the last stop() took, from the signal to the exit.
    stop_seconds: float | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def exited(self) -> bool:
        return self.process.poll() is not None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send ``signum``; the exit code, or AssertionError if it hangs."""
        started = time.monotonic()
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"worker did not exit within {timeout:.0f}s of signal {signum}:\n"
                f"{self.log()[-3000:]}"
            ) from None
        self.stop_seconds = time.monotonic() - started
        return code


def worker_env() -> dict[str, str]:
    """The test's environment without STREAMKIT_* settings, and wide logs.

    Rich wraps log lines at 80 columns when it writes to a file; a wide
    console keeps each record on one line, so the tests can grep them.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKIT_")}
    env["COLUMNS"] = "400"
    return env


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator:
    """``spawn(args, name)`` starts a process in ``tmp_path``; all are killed after."""
    workers: list[Worker] = []

    def start(args: list[str], name: str = "worker") -> Worker:
        log_path = tmp_path / f"{name}-{len(workers)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                args,
                cwd=tmp_path,
                env=worker_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, log_path)
        workers.append(worker)
        return worker

    yield start

    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(10)
