"""``%streamkit export MODULE.py``: the current notebook as a worker module.

Which cells are "the current notebook" (decided here):

1. ``--notebook PATH``: that file.
2. Else the notebook file the kernel was started for, when the front end
   tells the kernel its path (JupyterLab/Notebook 7 set ``__session__``,
   VS Code ``__vsc_ipynb_file__``): the file as last saved, with its cell
   tags, in notebook order.  Save the notebook first.
3. Else, or with ``--history``: the cells this kernel ran, in the order it
   ran them (IPython's input history, re-runs included, so a redefined
   handler keeps its last definition).  The history has no tags, and holds
   cells that failed: a cell that does not compile is left out and named
   in the report instead of stopping the export.

The compiler itself (:mod:`streamkit.export`) is the same as the
``streamkit export`` command's.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from ..exceptions import ExportError
from ..export import ExportedModule, cells_from_sources, compile_cells, read_notebook
from .cells import cell_number

#: Where front ends leave the notebook's path in the kernel, best first.
_PATH_VARIABLES = ("__vsc_ipynb_file__", "__session__")


def export_current_notebook(shell: Any, args: argparse.Namespace) -> None:
    """Write ``args.module`` from the notebook (see the module docstring).

    Raises :class:`UsageError` for a target that is not a ``.py`` file, a
    notebook that cannot be read, cells that cannot be exported, or a
    target that cannot be written.
    """
    target = Path(args.module)
    if target.suffix != ".py":
        raise UsageError(f"%streamkit export {args.module}: the module must end in .py")

    path = Path(args.notebook) if args.notebook else None
    if path is None and not args.history:
        path = notebook_path(shell)
    try:
        if path is not None:
            cells = read_notebook(path)
            source = f"{path.name} (as last saved)"
            module = compile_cells(
                cells, source_name=path.name, module_name=target.stem
            )
        else:
            cells = cells_from_sources(history(shell))
            source = f"the {len(cells)} cells this kernel ran"
            module = compile_cells(
                cells,
                source_name="a notebook's input history",
                module_name=target.stem,
                strict=False,
            )
        module.write(target)
    except ExportError as exc:
        raise UsageError(f"%streamkit export: {exc}") from None

    sys.stdout.write(_report(module, source, target))


def notebook_path(shell: Any) -> Path | None:
    """The path of the notebook the kernel runs, when the front end told it."""
    candidates = [shell.user_ns.get(var) for var in _PATH_VARIABLES]
    candidates.append(os.environ.get("JPY_SESSION_NAME"))
    for candidate in candidates:
        if not (isinstance(candidate, str) and candidate.endswith(".ipynb")):
            continue
        # Absolute from JupyterLab; a path relative to the server's root
        # elsewhere, while the kernel runs in the notebook's directory.
        for path in (Path(candidate), Path(Path(candidate).name)):
            if path.is_file():
                return path
    return None


def history(shell: Any) -> list[tuple[int, str]]:
    """``(number, source)`` of each cell the kernel ran, but the running one."""
    current = cell_number(shell)
    raw = shell.history_manager.input_hist_raw
    return [(n, source) for n, source in enumerate(raw) if n and n != current]


def _report(module: ExportedModule, source: str, target: Path) -> str:
    left_out = [c for c in module.cells if not c.kept]
    lines = [
        f"exported {source} to {target}: {module.contents()}",
        *(f"  cell {c.number} left out: {c.what}" for c in left_out),
        *(f"  cell {c.number}: {w}" for c in module.cells for w in c.warnings),
        f"run it with: streamkit -A {target.stem} worker",
    ]
    return "\n".join(lines) + "\n"
