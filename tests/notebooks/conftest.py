"""A fresh kernel per test, with the extension loaded and an App on a private broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from notebook_kernel import NotebookKernel

PRELUDE = """
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

app = streamkit.App("nb-{unique}", broker="memory://nb-{unique}")
"""


@pytest.fixture
def kernel(tmp_path: Path, unique: str) -> Iterator[NotebookKernel]:
    """A running kernel where ``app`` is an App on ``memory://nb-<unique>``,
    ``until(predicate)`` awaits a condition, and ``%load_ext streamkit`` ran."""
    nb = NotebookKernel(tmp_path)
    try:
        nb.run(PRELUDE.replace("{unique}", unique))
        yield nb
    finally:
        nb.shutdown()
