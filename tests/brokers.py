"""Start and stop the Kafka-protocol broker the integration tests run against.

The broker is the ``noida-db`` binary shipped inside the ``noida_db`` package.
It is started directly, not through the package's console script, so the PID
this module stops is the broker's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def noida_binary() -> Path:
    """The broker binary inside the installed ``noida_db`` package."""
    binary = Path(str(importlib.resources.files("noida_db") / "noida-db"))
    if not binary.is_file():
        raise RuntimeError(
            f"noida-db binary not found at {binary}; install the test extra: "
            "pip install -e '.[test]'"
        )
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


@dataclass
class BrokerProcess:
    """A running broker: where it listens and how to stop it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if the broker has not exited after ``grace``."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            # A broker holding a million records takes the kernel seconds to
            # tear down even after SIGKILL; that is not a hang.
            self.process.wait(max(grace, 60.0))


def _accepts_connections(port: int) -> bool:
    with (
        contextlib.suppress(OSError),
        socket.create_connection(("127.0.0.1", port), timeout=0.5),
    ):
        return True
    return False


async def _answers_metadata(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


def start_noida(data_dir: Path, port: int | None = None) -> BrokerProcess:
    """Start a Kafka-only noida broker on ``port`` (a free one by default).

    Returns once the port accepts connections and a metadata request works.

    Raises:
        RuntimeError: with the broker's output when it exits or does not
            answer within ``STARTUP_TIMEOUT`` seconds.
    """
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "broker.log"
    command = [
        str(noida_binary()),
        "start",
        "--only",
        "kafka",
        "--kafka-port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    broker = BrokerProcess(process, port, log_path)

    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"noida-db exited with {process.returncode}:\n{broker.log()}"
            )
        if _accepts_connections(port) and asyncio.run(
            _answers_metadata(broker.bootstrap)
        ):
            return broker
        time.sleep(0.2)

    broker.stop()
    raise RuntimeError(
        f"noida-db did not answer on port {port} within {STARTUP_TIMEOUT}s:\n"
        f"{broker.log()}"
    )
