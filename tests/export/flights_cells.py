"""Facts about notebooks/flights.ipynb that the export tests expect, read
from the notebook itself so adding a cell does not break them."""

from __future__ import annotations

from pathlib import Path

import nbformat

FLIGHTS = Path(__file__).resolve().parents[2] / "notebooks" / "flights.ipynb"
CELLS = nbformat.read(FLIGHTS, as_version=4).cells

#: The replay cell becomes a task named after its place in the notebook.
REPLAY_TASK = next(
    f"cell_{number}"
    for number, cell in enumerate(CELLS, 1)
    if "flight_rows()" in cell.source
)

#: The App cell, the three agents and the replay: the cells that define.
DEFINING_CELLS = {
    number
    for number, cell in enumerate(CELLS, 1)
    if cell.cell_type == "code"
    and any(
        mark in cell.source
        for mark in ("app = streamkit.App", "%%agent", "flight_rows()")
    )
}
