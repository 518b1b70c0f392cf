"""Small notebooks for the compiler tests, and ways to look at its output."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nbformat

from streamkit.export import ExportedModule, export_notebook

#: The project's own lint selection (pyproject.toml), as the module's user
#: would run it.
RUFF_SELECT = "E,F,I,B,UP,ASYNC,G"

SETUP = """\
import streamkit

app = streamkit.App("exported")
"""


def cell(source: str, *tags: str) -> nbformat.NotebookNode:
    """A code cell; ``tags`` go into its metadata."""
    made = nbformat.v4.new_code_cell(source)
    if tags:
        made.metadata["tags"] = list(tags)
    return made


def notebook(*cells: nbformat.NotebookNode | str) -> nbformat.NotebookNode:
    """A notebook of ``cells``; a str is a code cell."""
    made = nbformat.v4.new_notebook()
    made.cells = [cell(c) if isinstance(c, str) else c for c in cells]
    return made


def export(
    tmp_path: Path, *cells: nbformat.NotebookNode | str, name: str = "exported_mod"
) -> ExportedModule:
    """Write a notebook of ``cells`` to ``tmp_path`` and export it."""
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(notebook(*cells), path)
    return export_notebook(path, module_name=name)


def functions(code: str) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """The module's top-level functions by name (the last one of a name)."""
    tree = ast.parse(code)
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def decorators(code: str, name: str) -> list[str]:
    """The decorators of top-level function ``name``, as source."""
    return [ast.unparse(d) for d in functions(code)[name].decorator_list]


def body(code: str, name: str) -> str:
    """The statements of top-level function ``name``, as normalised source."""
    return "\n".join(ast.unparse(s) for s in functions(code)[name].body)


def top_level(code: str) -> list[str]:
    """Each top-level statement but the imports and docstring, as source."""
    tree = ast.parse(code)
    return [
        ast.unparse(node)
        for node in tree.body[1:]
        if not isinstance(node, (ast.Import, ast.ImportFrom))
    ]


def imports(code: str) -> list[str]:
    tree = ast.parse(code)
    return [
        ast.unparse(node)
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]


def ruff(path: Path) -> list[str]:
    """ruff's findings on ``path`` with the project's rule selection."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select",
            RUFF_SELECT,
            "--output-format",
            "concise",
            "--no-cache",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=path.parent,
    )
    return [line for line in result.stdout.splitlines() if ": " in line]
