"""Export a notebook to a worker module: ``streamkit export NB.ipynb -o MOD.py``.

The compiler reads the notebook with nbformat and the code with :mod:`ast`;
it imports neither IPython nor the notebook's code, and the module it writes
imports no IPython either, so it runs where IPython is not installed.

The rules, cell by cell, in notebook order (markdown cells are ignored):

- ``%%agent [TOPIC] [--name N] [--concurrency C] [--app A]`` becomes
  ``@app.agent(...)`` on the cell's one ``async def``: ``@app.agent(var)``
  when TOPIC is a variable an earlier cell assigned from ``app.topic(...)``
  (or ``Topic(...)``), else ``@app.agent("TOPIC")``, which uses the topic
  the App declared under that name, with its types, as the magic does;
  ``name="N"`` and ``concurrency=C`` (when not 1) follow; ``--app A``
  decorates with ``A.`` instead of ``app.``.  The cell's other statements
  are kept.  ``%%timer SECONDS [--name N]`` becomes ``@app.timer(SECONDS)``.
- A handler defined in several cells (the same App, magic and name) keeps
  its last definition; so does a plain ``def`` or ``class`` defined again,
  unless code that runs at import reads it in between.
- ``%magic`` lines (``%load_ext``, ``%streamkit ...``), ``!shell`` lines and
  ``obj?`` are dropped, and so are cells of other cell magics (``%%bash``).
- ``await app.start()`` and ``await app.stop()`` are dropped (the worker
  starts and stops the App), and so are top-level ``display(...)`` calls.
- The value a cell displays (its last statement, when an expression) is
  dropped; a cell that is only that expression is dropped whole (a
  DataFrame, ``app``, ``table.as_dataframe()``), and a cell that ends with
  one is kept only if kept code reads a name it defines.  A trailing
  *call* in a kept cell stays (it may act).  A call into a module the
  notebook imports (``logging.basicConfig(...)``,
  ``os.environ.setdefault(...)``, ``f(...)`` after ``from x import f``)
  is no display: its cell is kept for the call's effect.
- A cell with top-level ``await`` (e.g. a replay loop) becomes
  ``@app.task async def cell_N()``, run once the App has started; its
  definitions, and the statements before its first ``await`` that
  import-time code needs (a topic an agent is declared on), stay at module
  level; the names it assigns that other code uses are declared ``global``.
  Like any task it runs each time a worker starts the App.
- The broker stays configurable: ``streamkit.App(...)`` is left as written
  (``STREAMKIT_BROKER`` overrides its ``broker=`` and ``worker --broker``
  overrides both); ``app.conf.<setting> = v`` becomes a default the
  ``STREAMKIT_<SETTING>`` variable overrides, and ``os.environ["STREAMKIT_X"]
  = v`` becomes ``os.environ.setdefault(...)``.
- Secrets stay in the notebook (:mod:`.redaction`): a URL with user-info in
  a string literal (``"kafka://user:pw@host:9092"``) is written without it,
  and the cell's outcome says to give it to the worker as
  ``STREAMKIT_BROKER=kafka://USER:PASSWORD@host:9092``, while a URL
  template whose user-info is filled in by formatting is an error; a
  literal (or a value built from one) given to a secret-named keyword,
  dict key, variable or parameter default (``sasl_plain_password="..."``,
  ``{"Authorization": "..."}``), or as the password argument of
  ``SASLCredentials``/``load_cert_chain``, is an error: read it from
  ``os.environ`` (:mod:`.secret_literals`).
- Top-level imports of every cell, kept ones or not, are gathered; the ones
  the exported code reads are written once at the top, sorted as ruff's
  isort rules expect.  Code that needs IPython (``display``,
  ``get_ipython``, an import from IPython or ipywidgets) is an error.
- Tags: ``streamkit:skip`` leaves a cell out; ``streamkit:export`` keeps a
  cell the rules above would drop as display-only.
- The module ends with ``if __name__ == "__main__": app.main()``.

Cell N is the N-th cell of the notebook, markdown cells counted.  Every
dropped cell leaves a ``# cell N not exported: why`` line, and each kept one
starts with ``# %% cell N`` (editors run such sections as cells).
"""

from __future__ import annotations

from pathlib import Path

from ..exceptions import ExportError
from .cells import EXPORT_TAG, SKIP_TAG, NotebookCell, cells_from_sources, read_notebook
from .compiler import CellOutcome, ExportedModule, compile_cells

__all__ = [
    "EXPORT_TAG",
    "SKIP_TAG",
    "CellOutcome",
    "ExportError",
    "ExportedModule",
    "NotebookCell",
    "cells_from_sources",
    "compile_cells",
    "export_notebook",
    "read_notebook",
]


def export_notebook(
    path: str | Path, *, module_name: str | None = None
) -> ExportedModule:
    """Compile the notebook at ``path``; see the module docstring for the rules.

    Args:
        path: an ``.ipynb`` file.
        module_name: the import name of the module being written, shown in
            its docstring's run commands.

    Raises:
        ExportError: the notebook cannot be read or compiled (the message
            names the cell and what to change).
    """
    cells = read_notebook(path)
    return compile_cells(cells, source_name=Path(path).name, module_name=module_name)
