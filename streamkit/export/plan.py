"""What the compiler knows about each cell, and what it produced.

:class:`CellPlan` is the working state of one cell while the compiler
decides (:mod:`.compiler`) and then writes (:mod:`.writer`) the module.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import ExportError
from ..wording import counted
from .cells import CellCode
from .source import Unit, awaits, loaded_names


@dataclass
class CellOutcome:
    """What one cell became: ``kept`` True with a summary, or the reason.

    ``warnings`` say what the module lacks that the notebook had, and what
    to do about it (user-info left out of a URL).
    """

    number: int
    kept: bool
    what: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class ExportedModule:
    """The module's code and what went into it."""

    code: str
    agents: list[str] = field(default_factory=list)
    timers: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    cells: list[CellOutcome] = field(default_factory=list)

    def contents(self) -> str:
        """What the module defines, counted: ``"3 agents, 1 timer, 0 tasks"``."""
        counts = [
            (len(self.agents), "agent"),
            (len(self.timers), "timer"),
            (len(self.tasks), "task"),
        ]
        return ", ".join(counted(n, what) for n, what in counts)

    def write(self, path: str | Path) -> None:
        """Write the module's code to ``path``.

        Raises:
            ExportError: the file cannot be written (a missing folder, no
                permission); the message names the path.
        """
        try:
            Path(path).write_text(self.code)
        except OSError as exc:
            raise ExportError(
                f"cannot write {path}: {exc.strerror or exc}; choose a path in "
                "an existing folder you can write to"
            ) from None


@dataclass
class CellPlan:
    """One cell: its statements, and what the compiler decided about them."""

    code: CellCode
    units: list[Unit]
    #: units kept (in order); imports and dropped statements are not here
    kept: list[Unit] = field(default_factory=list)
    handler_def: Unit | None = None
    handler_fun: ast.AsyncFunctionDef | None = None
    #: the cell ends with a value the notebook displays (and not with a call
    #: into an imported module, kept for its effect)
    shows: bool = False
    #: a display cell: kept only when kept code needs what it defines
    optional: bool = False
    dropped: str | None = None
    topic_is_variable: bool = False
    notes: list[str] = field(default_factory=list)
    #: for the report only, unlike notes (also in the module's comments)
    warnings: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.code.cell.number

    @property
    def tags(self) -> frozenset[str]:
        return self.code.cell.tags

    def awaiting(self) -> list[Unit]:
        return [u for u in self.kept if any(awaits(s) for s in u.stmts)]


def reads(found: CellPlan, app: str) -> set[str]:
    """The names ``found``'s kept code (and what is written for it) reads."""
    if found.dropped or found.optional:
        return set()
    names = set().union(*(loaded_names(s) for u in found.kept for s in u.stmts))
    return names | generated_reads(found, app)


def generated_reads(found: CellPlan, app: str) -> set[str]:
    """Names the decorators and tasks the compiler writes for ``found`` read."""
    names: set[str] = set()
    handler = found.code.handler
    if found.handler_fun is not None and handler is not None:
        names.add(handler.app or app)
        if found.topic_is_variable and handler.topic:
            names.add(handler.topic)
    if found.awaiting():
        names.add(app)
    return names
