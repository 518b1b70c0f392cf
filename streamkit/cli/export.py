"""``streamkit export NOTEBOOK [-o MODULE.py]``: a notebook as a worker module.

The compiler and its rules live in :mod:`streamkit.export`.  Without ``-o``
(or with ``-o -``) the module is written to stdout and the summary to
stderr; with ``-o`` the summary is what the command reports (``--json``
for machines).  No App is needed, so no ``-A``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..exceptions import ExportError
from ..export import ExportedModule, export_notebook
from .output import emit, json_option, note, rich_table, wants_json


def summary(module: ExportedModule, output: str) -> dict[str, Any]:
    """What went into the module, cell by cell, as plain data."""
    return {
        "module": output,
        "agents": module.agents,
        "timers": module.timers,
        "tasks": module.tasks,
        "cells": [
            {
                "cell": c.number,
                "exported": c.kept,
                "what": c.what,
                "warnings": c.warnings,
            }
            for c in module.cells
        ],
    }


@click.command()
@click.argument(
    "notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    default="-",
    metavar="MODULE.py",
    help="Where to write the module (default: stdout).",
)
@json_option
@click.pass_context
def export(ctx: click.Context, notebook: Path, output: str, as_json: bool) -> None:
    """Compile NOTEBOOK's cells into a worker module.

    %%agent and %%timer cells become @app.agent and @app.timer functions,
    cells with top-level await become @app.task functions, notebook-only
    and display-only cells are left out; tag a cell streamkit:skip or
    streamkit:export to decide yourself.  Run the result with
    `streamkit -A MODULE worker`.
    """
    to_stdout = output == "-"
    if to_stdout and wants_json(ctx, as_json):
        raise click.UsageError("--json reports on a written module: add -o MODULE.py")
    target = Path(output)
    if not to_stdout and target.suffix == ".ipynb":
        raise click.BadParameter(
            f"{output} is a notebook; the module should end in .py",
            param_hint="-o",
        )
    module_name = None if to_stdout else target.stem
    if module_name is not None and not module_name.isidentifier():
        note(
            f"{target.name}: {module_name!r} is not an importable module name; "
            "`streamkit -A` needs letters, digits and underscores"
        )

    try:
        module = export_notebook(notebook, module_name=module_name)
    except ExportError as exc:
        raise click.ClickException(f"{notebook}: {exc}") from None

    if to_stdout:
        click.echo(module.code, nl=False)
        note(_one_line(module, notebook))
        for cell in module.cells:
            for warning in cell.warnings:
                note(f"cell {cell.number}: {warning}")
        return
    try:
        module.write(target)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    data = summary(module, str(target))
    emit(data, lambda: _table(data), as_json=wants_json(ctx, as_json))


def _one_line(module: ExportedModule, notebook: Path) -> str:
    kept = sum(c.kept for c in module.cells)
    return (
        f"exported {kept} of {len(module.cells)} code cells of {notebook}: "
        f"{module.contents()}"
    )


def _table(data: dict[str, Any]) -> Any:
    shown = rich_table(f"{data['module']}, cell by cell", "cell", "exported", "as")
    for cell in data["cells"]:
        what = "; ".join([cell["what"], *cell["warnings"]])
        shown.add_row(str(cell["cell"]), "yes" if cell["exported"] else "no", what)
    return shown
