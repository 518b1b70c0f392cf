"""A fresh kernel per test, with the extension loaded and an App on a private broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from notebook_kernel import KERNEL_HELPERS, NotebookKernel

PRELUDE = (
    KERNEL_HELPERS
    + """
app = streamkit.App("nb-{unique}", broker="memory://nb-{unique}")
"""
)


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
