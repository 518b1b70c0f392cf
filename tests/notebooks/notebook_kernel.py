"""A real IPython kernel driven through jupyter_client, as a notebook front end would.

Every iopub message is kept, so output produced in the background (an
agent's traceback while a later cell runs) can be attributed to the cell
that caused it through ``parent_header.msg_id`` — what nbclient cannot do,
since it records only the messages of the cell being executed.
"""

from __future__ import annotations

import ast
import json
import queue
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: What every test kernel runs first: the extension, and ``until(predicate)``
#: to await a condition from a cell.
KERNEL_HELPERS = """
import asyncio
import streamkit

%load_ext streamkit

async def until(predicate, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met within %ss" % timeout)
        await asyncio.sleep(0.02)
"""


@dataclass
class Cell:
    """An executed cell: its request id, reply status and reply content."""

    msg_id: str
    status: str
    reply: dict[str, Any]


class NotebookKernel:
    """Start a kernel on this interpreter, run cells, read what they output."""

    def __init__(self, workdir: Path) -> None:
        spec_dir = workdir / "kernels" / "streamkit-test"
        spec_dir.mkdir(parents=True)
        spec = {
            "argv": [
                sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
            ],
            "display_name": "streamkit test",
            "language": "python",
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec))

        specs = KernelSpecManager(kernel_dirs=[str(workdir / "kernels")])
        self.manager = KernelManager(
            kernel_name="streamkit-test", kernel_spec_manager=specs
        )
        self.manager.start_kernel(cwd=str(REPO))
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.messages: list[dict[str, Any]] = []

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)

    # -- running cells -------------------------------------------------------

    def run(self, code: str, *, timeout: float = 20, ok: bool = True) -> Cell:
        """Execute ``code`` and wait until the kernel is idle again.

        With ``ok`` (the default) a reply status other than ``ok`` fails the
        test and shows everything the cell printed.
        """
        msg_id = self.client.execute(code)
        reply = self._reply(msg_id, timeout)
        self._read_until_idle(msg_id, timeout)
        cell = Cell(msg_id, reply["content"]["status"], reply["content"])
        if ok and cell.status != "ok":
            raise AssertionError(
                f"cell failed ({cell.status}):\n{code}\n--- output ---\n"
                f"{self.output(msg_id)}"
            )
        return cell

    def eval(self, expression: str) -> Any:
        """The value of ``expression`` in the kernel, passed through JSON
        (tuples come back as lists); a repr would be truncated."""
        wrapped = f"__import__('json').dumps(({expression}))"
        msg_id = self.client.execute("", user_expressions={"x": wrapped})
        reply = self._reply(msg_id, 20)
        self._read_until_idle(msg_id, 20)
        result = reply["content"]["user_expressions"]["x"]
        if result["status"] != "ok":
            raise AssertionError(f"{expression}: {result['ename']}: {result['evalue']}")
        return json.loads(ast.literal_eval(result["data"]["text/plain"]))

    def _reply(self, msg_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.client.get_shell_msg(
                timeout=max(0.1, deadline - time.monotonic())
            )
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def _read_until_idle(self, msg_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                continue
            self.messages.append(msg)
            if (
                msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id
            ):
                return
        raise TimeoutError(f"kernel not idle after {timeout}s")

    def settle(self, seconds: float = 0.3) -> None:
        """Collect iopub messages that arrive within ``seconds`` (background output)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.messages.append(self.client.get_iopub_msg(timeout=left))
            except queue.Empty:
                return

    # -- reading outputs -----------------------------------------------------

    def output(self, msg_id: str) -> str:
        """Everything shown under the cell ``msg_id`` so far, ANSI colours removed."""
        parts = []
        for msg in self.messages:
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            content = msg["content"]
            kind = msg["msg_type"]
            if kind == "stream":
                parts.append(content["text"])
            elif kind == "error":
                parts.append("\n".join(content["traceback"]))
            elif kind in ("execute_result", "display_data"):
                parts.append(content["data"].get("text/plain", ""))
        return ANSI.sub("", "".join(parts))
