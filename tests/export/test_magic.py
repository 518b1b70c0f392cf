"""``%streamkit export MODULE.py`` in a real kernel.

The kernel started here is not told a notebook path (as under nbclient), so
without ``--notebook`` the magic exports the cells the kernel ran; with
``__session__`` set, as JupyterLab sets it, it exports that file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from notebooks.notebook_kernel import NotebookKernel

from .builders import body, decorators, notebook

AGENT = """%%agent orders
async def count(stream):
    async for value in stream:
        counts[value] += {increment}
"""


@pytest.fixture
def kernel(tmp_path: Path, unique: str) -> Iterator[NotebookKernel]:
    nb = NotebookKernel(tmp_path)
    try:
        nb.run("%load_ext streamkit")
        nb.run(
            "import streamkit\n"
            f'app = streamkit.App("exp-{unique}", broker="memory://exp-{unique}")\n'
            'orders = app.topic("orders", value_type=int)\n'
            'counts = app.Table("counts", default=int)'
        )
        yield nb
    finally:
        nb.shutdown()


def test_export_without_a_notebook_path_compiles_the_cells_the_kernel_ran(
    kernel, tmp_path
):
    kernel.run(AGENT.format(increment=1))
    kernel.run("1 / 0", ok=False)  # a failed display cell: left out
    kernel.run("def broken(:", ok=False)  # does not compile: left out, reported
    kernel.run(AGENT.format(increment=2))  # re-run with a new body
    target = tmp_path / "from_history.py"

    cell = kernel.run(f"%streamkit export {target}")

    output = kernel.output(cell.msg_id)
    assert f"exported the 6 cells this kernel ran to {target}" in output
    assert "left out: cell 5: line 1" in output
    code = target.read_text()
    assert decorators(code, "count") == ["app.agent(orders)"]
    assert body(code, "count") == ("async for value in stream:\n    counts[value] += 2")
    assert code.count("async def count") == 1
    assert "%streamkit export" not in "".join(
        line for line in code.splitlines() if not line.startswith("#")
    )
    compile(code, str(target), "exec")


def test_export_uses_the_notebook_file_the_front_end_names(kernel, tmp_path):
    path = tmp_path / "saved.ipynb"
    nbformat.write(
        notebook(
            "import streamkit\napp = streamkit.App('saved')",
            "%%timer 3\nasync def tick():\n    print('tick')\n",
        ),
        path,
    )
    kernel.run(f"__session__ = {str(path)!r}")
    target = tmp_path / "from_file.py"

    cell = kernel.run(f"%streamkit export {target}")

    assert "exported saved.ipynb (as last saved)" in kernel.output(cell.msg_id)
    code = target.read_text()
    assert decorators(code, "tick") == ["app.timer(3)"]
    assert "count" not in {
        n.name for n in ast.parse(code).body if isinstance(n, ast.AsyncFunctionDef)
    }


def test_export_of_an_unexportable_notebook_fails_the_cell(kernel, tmp_path):
    path = tmp_path / "no_app.ipynb"
    nbformat.write(notebook("x = 1"), path)

    cell = kernel.run(
        f"%streamkit export {tmp_path / 'out.py'} --notebook {path}", ok=False
    )

    assert cell.status == "error"
    assert "no cell creates a streamkit.App" in kernel.output(cell.msg_id)
    assert not (tmp_path / "out.py").exists()


def test_export_to_a_path_it_cannot_write_is_a_usage_error(kernel, tmp_path):
    target = tmp_path / "no-such-folder" / "x.py"

    cell = kernel.run(f"%streamkit export {target} --history", ok=False)

    output = kernel.output(cell.msg_id)
    assert cell.reply["ename"] == "UsageError"
    assert (
        f"%streamkit export: cannot write {target}: No such file or directory; "
        "choose a path in an existing folder you can write to"
    ) in output
    assert "Traceback" not in output
    assert "FileNotFoundError" not in output


def test_export_report_says_the_user_info_was_left_out_without_showing_it(
    kernel, tmp_path
):
    path = tmp_path / "sec2.ipynb"
    nbformat.write(
        notebook(
            "import streamkit\n"
            'app = streamkit.App("sec2", broker="kafka://alice:s3cr3tPW@127.0.0.1:1")'
        ),
        path,
    )
    target = tmp_path / "sec2_worker.py"

    cell = kernel.run(f"%streamkit export {target} --notebook {path}")

    output = kernel.output(cell.msg_id)
    assert (
        "  cell 1: the user-info of kafka://127.0.0.1:1 was left out of the "
        "module; give it to the worker in the environment: "
        "STREAMKIT_BROKER=kafka://USER:PASSWORD@127.0.0.1:1 "
        "streamkit -A sec2_worker worker\n"
    ) in output
    assert "s3cr3tPW" not in output
    assert "alice" not in output
    assert "s3cr3tPW" not in target.read_text()
