"""A cell's code as statements with their text, and what names they use.

The compiler moves code around at the level of top-level statements: it
drops some, decorates a function, wraps others into a task.  A
:class:`Unit` is one top-level statement (or several sharing a line, as in
``a = 1; b = 2``) with the comment lines above it, so moving a unit moves
its comments, and the user's text is kept as written wherever it is kept.

Name analysis is scope-aware only as far as a module needs: names bound at
module level, names loaded anywhere (function bodies included, since they
read module globals when they run), and names loaded while the module is
imported (function bodies excluded).
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(eq=False)  # units are compared by identity: two may read alike
class Unit:
    """Top-level statements sharing lines, and the text they came from.

    ``first`` and ``last`` are 1-based rows of the cell's code; ``lines``
    holds rows ``first..last``, comment lines above the statement included.
    """

    stmts: list[ast.stmt]
    first: int
    last: int
    lines: list[str]
    #: rows that start inside a multi-line string (never re-indented)
    in_string: frozenset[int] = field(default_factory=frozenset)

    @property
    def stmt(self) -> ast.stmt:
        """The unit's first statement (usually its only one)."""
        return self.stmts[0]

    def text(self, indent: str = "") -> list[str]:
        """The unit's lines, ``indent`` added except inside strings."""
        if not indent:
            return list(self.lines)
        shown = []
        for row, line in enumerate(self.lines, start=self.first):
            if row in self.in_string or not line.strip():
                shown.append(line)
            else:
                shown.append(indent + line)
        return shown

    def insert(self, row: int, line: str) -> None:
        """Put ``line`` before cell row ``row`` (a decorator before its def)."""
        self.lines.insert(row - self.first, line)
        self.in_string = frozenset(r + 1 if r >= row else r for r in self.in_string)
        self.last += 1

    def replace(self, stmts: list[ast.stmt]) -> None:
        """Keep only ``stmts``, written out again (their comments are lost)."""
        self.stmts = stmts
        self.lines = [line for s in stmts for line in ast.unparse(s).split("\n")]
        self.in_string = frozenset()

    def edit(self, lines: list[str]) -> None:
        """Write the same statements as ``lines`` (a literal changed in place).

        ``stmts`` keep the rows they were parsed at: rows after a literal
        that lost lines no longer match them.
        """
        self.lines = lines
        self.last = self.first + len(lines) - 1
        self.in_string = frozenset(
            row + self.first - 1 for row in _string_rows("\n".join(lines))
        )


def split_units(code: str, tree: ast.Module) -> list[Unit]:
    """The top-level statements of ``tree`` (parsed from ``code``) as units."""
    lines = code.split("\n")
    strings = _string_rows(code)
    units: list[Unit] = []
    for stmt in tree.body:
        start = min([stmt.lineno, *(d.lineno for d in _decorators(stmt))])
        end = stmt.end_lineno or stmt.lineno
        if units and start <= units[-1].last:
            units[-1].stmts.append(stmt)
            units[-1].last = max(units[-1].last, end)
            continue
        units.append(Unit([stmt], start, end, []))

    previous = 0
    for unit in units:
        unit.first = previous + 1
        unit.lines = lines[previous : unit.last]
        unit.in_string = frozenset(r for r in strings if unit.first <= r <= unit.last)
        previous = unit.last
    if units:  # comments after the last statement stay with it
        tail = lines[previous:]
        units[-1].lines.extend(tail)
        units[-1].last += len(tail)
    return units


def _decorators(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return stmt.decorator_list
    return []


def _string_rows(code: str) -> set[int]:
    """Rows that begin inside a string literal (a triple-quoted one's body)."""
    rows: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            (start, _), (end, _) = token.start, token.end
            if end > start and token.type in _STRING_TOKENS:
                rows.update(range(start + 1, end + 1))
    except (tokenize.TokenError, SyntaxError):  # parsed by ast already: rare
        pass
    return rows


_STRING_TOKENS = {
    tokenize.STRING,
    # Python 3.12 splits f-strings into parts; their middles span lines.
    getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING),
    getattr(tokenize, "FSTRING_END", tokenize.STRING),
}


# -- names -------------------------------------------------------------------


def bound_names(node: ast.AST) -> set[str]:
    """Names a top-level statement binds in the module's namespace."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, _COMPREHENSIONS):
            # Their targets are local; only a walrus inside binds outside.
            found.update(
                n.target.id
                for n in ast.walk(node)
                if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)
            )
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    found.add(alias.asname or alias.name.split(".")[0])
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            found.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            found.add(node.rest)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(node)
    return found


def loaded_names(node: ast.AST) -> set[str]:
    """Every name ``node`` reads, nested function bodies included."""
    return {
        n.id
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Load, ast.Del))
    }


def import_time_names(node: ast.AST) -> set[str]:
    """Names ``node`` reads while the module is imported.

    Function bodies run later; their decorators, defaults and annotations
    run now, and so does a class body.
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            now: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d)]
            if not isinstance(node, ast.Lambda):
                now += [*node.decorator_list, *_annotations(node)]
            for child in now:
                visit(child)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Load, ast.Del)):
            found.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(node)
    return found


def _annotations(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    found = [a.annotation for a in every if a.annotation is not None]
    return found + ([node.returns] if node.returns is not None else [])


def awaits(node: ast.AST) -> bool:
    """True when ``node`` awaits outside any function: top-level ``await``,
    ``async for``, ``async with`` or an async comprehension."""
    if isinstance(node, _SCOPES):
        return False
    if isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)):
        return True
    if isinstance(node, ast.comprehension) and node.is_async:
        return True
    return any(awaits(child) for child in ast.iter_child_nodes(node))
