"""Fixtures of the services and scheduling tests: Apps stopped after each test,
and worker subprocesses killed after each test whatever happened."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streamkit import App

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def make_app(unique: str) -> AsyncIterator[Callable[..., App]]:
    """Build Apps (on a private embedded broker unless told otherwise), without
    their web server; each is stopped when the test ends."""
    apps: list[App] = []

    def make(app_id: str | None = None, **settings: Any) -> App:
        options = {
            "broker": f"memory://services-{unique}",
            "web_enabled": False,
            "broker_commit_interval": 0.2,
            **settings,
        }
        app = App(app_id or f"services-{unique}", **options)
        apps.append(app)
        return app

    yield make

    for app in reversed(apps):
        if app.is_running:
            await app.stop()


@dataclass
class Process:
    """A subprocess whose output lines are timestamped as they appear."""

    process: subprocess.Popen[bytes]
    log_path: Path
    lines: list[tuple[float, str]] = field(default_factory=list)
    _read: int = 0

    def poll_lines(self) -> list[tuple[float, str]]:
        """Read what the process wrote since the last call, stamped now."""
        data = self.log_path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        now = time.monotonic()
        for line in complete[self._read :].decode(errors="replace").splitlines():
            self.lines.append((now, line))
        self._read = len(complete)
        return self.lines

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_line(self, needle: str, timeout: float) -> float:
        """When the first line containing ``needle`` appeared (polling 20 ms)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for stamp, line in self.poll_lines():
                if needle in line:
                    return stamp
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(
            f"no line with {needle!r} within {timeout}s; output:\n{self.text()[-3000:]}"
        )


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    """``spawn(args)`` runs a command in ``tmp_path`` with unbuffered output."""
    started: list[Process] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> Process:
        log_path = tmp_path / f"process-{len(started)}.log"
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith("STREAMKIT_")
        }
        environment.update(
            PYTHONUNBUFFERED="1",
            COLUMNS="400",
            PYTHONPATH=os.pathsep.join([str(REPO), str(tmp_path)]),
            **(env or {}),
        )
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                args,
                cwd=tmp_path,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(Process(process, log_path))
        return started[-1]

    yield start

    for proc in started:
        if proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait(10)


PYTHON = sys.executable
