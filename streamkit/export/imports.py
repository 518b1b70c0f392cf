"""The exported module's imports: gathered from every cell, kept when used.

A notebook imports wherever it likes, often in a cell the export drops (a
display cell that imported pandas for a chart).  The compiler takes every
top-level import of every cell, keeps the ones whose names the exported
code reads, and writes them once at the top, grouped and sorted the way
isort and ruff's ``I`` rules do (standard library, then the rest, then
relative imports; ``import x`` before ``from x import y``).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass

from ..exceptions import ExportError

#: Modules that only exist for, or only work in, a notebook kernel.
NOTEBOOK_ONLY = ("IPython", "ipykernel", "ipywidgets", "streamkit.jupyter")

_LINE_LIMIT = 88


@dataclass(frozen=True)
class Imported:
    """One imported name: ``import name as asname`` or, with ``module``,
    ``from module import name as asname``."""

    name: str
    asname: str | None = None
    module: str | None = None
    level: int = 0
    cell: int = 0

    @property
    def bound(self) -> str:
        """The name the import binds."""
        if self.asname:
            return self.asname
        return self.name if self.module is not None or self.level else self.top

    @property
    def top(self) -> str:
        return self.name.split(".")[0]

    @property
    def source(self) -> str:
        """The module the name comes from, as written (``.x`` when relative)."""
        if self.module is None and not self.level:
            return self.name
        return "." * self.level + (self.module or "")

    def notebook_only(self) -> bool:
        return any(
            self.source == m or self.source.startswith(m + ".") for m in NOTEBOOK_ONLY
        )

    def alias(self) -> str:
        return f"{self.name} as {self.asname}" if self.asname else self.name


class ImportPool:
    """The imports of all cells, in the order they appear."""

    def __init__(self) -> None:
        self._by_name: dict[str, Imported] = {}
        self._stars: list[Imported] = []
        self._future: list[Imported] = []
        self._required: set[str] = set()

    def add(self, stmt: ast.Import | ast.ImportFrom, cell: int) -> None:
        """Record ``stmt``; a later import of the same name wins, as it would."""
        for alias in stmt.names:
            if isinstance(stmt, ast.Import):
                found = Imported(alias.name, alias.asname, cell=cell)
            else:
                found = Imported(
                    alias.name, alias.asname, stmt.module, stmt.level, cell=cell
                )
            if found.module == "__future__":
                self._future.append(found)
            elif found.name == "*":
                if all(s.source != found.source for s in self._stars):
                    self._stars.append(found)
            else:
                self._by_name.pop(found.bound, None)  # keep the insertion order fresh
                self._by_name[found.bound] = found

    def require(self, module: str) -> None:
        """Make sure ``import module`` is there (code the compiler wrote uses it)."""
        self._required.add(module)
        current = self._by_name.get(module)
        if current is None or current.source != module or current.module is not None:
            self._by_name[module] = Imported(module)

    def get(self, bound: str) -> Imported | None:
        """The import that binds the name ``bound``, or None."""
        return self._by_name.get(bound)

    def bound(self) -> set[str]:
        """Every name some import binds."""
        return set(self._by_name)

    def select(self, used: set[str]) -> list[Imported]:
        """The imports the exported code needs, given the names it reads.

        Raises:
            ExportError: the code needs a name imported from IPython,
                ipywidgets or ``streamkit.jupyter``, which a worker lacks.
        """
        chosen = [*self._future, *self._stars]
        for bound, found in self._by_name.items():
            if bound not in used and bound not in self._required:
                continue
            if found.notebook_only():
                raise ExportError(
                    f"the exported code uses {bound!r}, imported from "
                    f"{found.source} in cell {found.cell}, which only works in "
                    "a notebook; move that code to a cell tagged streamkit:skip"
                )
            chosen.append(found)
        return [c for c in chosen if not c.notebook_only()]


def render(imports: list[Imported]) -> list[str]:
    """Import lines, in sections separated by a blank line."""
    sections: dict[int, list[Imported]] = {}
    for found in imports:
        sections.setdefault(_section(found), []).append(found)

    lines: list[str] = []
    for key in sorted(sections):
        if lines:
            lines.append("")
        lines.extend(_render_section(sections[key]))
    return lines


def _section(found: Imported) -> int:
    if found.module == "__future__":
        return 0
    if found.level:
        return 3
    package = (found.module or found.name).split(".")[0]
    return 1 if package in sys.stdlib_module_names else 2


def _render_section(imports: list[Imported]) -> list[str]:
    plain = sorted(
        {f for f in imports if f.module is None and not f.level},
        key=lambda f: (_module_key(f.name), f.asname or ""),
    )
    lines = [f"import {f.alias()}" for f in plain]

    by_module: dict[str, list[Imported]] = {}
    for found in imports:
        if found.module is not None or found.level:
            by_module.setdefault(found.source, []).append(found)
    for source in sorted(by_module, key=_from_key):
        members = sorted(set(by_module[source]), key=lambda f: _member_key(f.name))
        statements = [[m for m in members if not m.asname]]
        statements += [[m] for m in members if m.asname]
        statements = [s for s in statements if s]
        statements.sort(key=lambda s: _member_key(s[0].name))
        for statement in statements:
            lines.extend(_from_line(source, [m.alias() for m in statement]))
    return lines


def _from_line(source: str, names: list[str]) -> list[str]:
    line = f"from {source} import {', '.join(names)}"
    if len(line) <= _LINE_LIMIT:
        return [line]
    return [f"from {source} import (", *(f"    {n}," for n in names), ")"]


def _module_key(name: str) -> tuple[str, str]:
    return (name.lower(), name)


def _from_key(source: str) -> tuple[int, str, str]:
    # Relative imports: the furthest first (``..`` before ``.``), as isort.
    level = len(source) - len(source.lstrip("."))
    return (-level, source.lower(), source)


def _member_key(name: str) -> tuple[int, str, str]:
    # isort's order by type: CONSTANTS, then Classes, then everything else.
    if name.isupper() and len(name) > 1:
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return (kind, name.lower(), name)
