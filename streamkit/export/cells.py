"""Notebook cells as the compiler reads them: source, tags and magics.

A code cell is either a handler cell (``%%agent`` or ``%%timer`` on its
first line, with the magic's options parsed here exactly as the magic
parses them), a plain Python cell whose notebook-only lines (``%magic``,
``!shell``, ``obj?``) are removed, or a cell of another cell magic
(``%%bash``, ``%%html``...), which has no meaning in a module.  No IPython
import: the rules are re-stated here, and a test keeps the option grammar
equal to the magics'.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import ExportError
from ..magic_grammar import handler_parsers

#: Cell tags the compiler obeys.
EXPORT_TAG = "streamkit:export"
SKIP_TAG = "streamkit:skip"

#: Cell magics whose body is plain Python, exported as a plain cell.
TRANSPARENT_CELL_MAGICS = frozenset({"time", "capture"})

_NOTEBOOK_ONLY_LINE = re.compile(
    r"""^\s*(
        [%!]                                # %magic, %%magic, !shell
        | [\w.\[\]]+\s*\?{1,2}\s*$          # obj? and obj??
        | \?{1,2}                           # ?obj
        | [\w.,\s\[\]()]+=\s*[%!]           # x = %sx ..., x = !ls
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class NotebookCell:
    """One code cell: its position (``number``), source and tags."""

    number: int
    source: str
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Handler:
    """What an ``%%agent`` or ``%%timer`` line asks for."""

    magic: str  # "agent" or "timer"
    line: str
    app: str | None = None
    name: str | None = None
    topic: str | None = None
    concurrency: int = 1
    seconds: str | None = None


@dataclass
class CellCode:
    """A cell as Python: its kind, code, and the lines taken out of it."""

    cell: NotebookCell
    kind: str  # "plain", "handler" or "magic" (another cell magic)
    code: str
    handler: Handler | None = None
    magic: str | None = None
    removed: list[str] = field(default_factory=list)
    #: rows of the cell above the code's first row (the ``%%`` line)
    offset: int = 0


def read_notebook(path: str | Path) -> list[NotebookCell]:
    """The code cells of the notebook at ``path``, numbered among all cells.

    Raises:
        ImportError: nbformat is not installed.
        ExportError: the file is not a notebook nbformat can read.
    """
    try:
        import nbformat
    except ImportError as exc:  # pragma: no cover - a dependency of streamkit
        raise ImportError(
            "streamkit export reads notebooks with nbformat: pip install nbformat"
        ) from exc

    try:
        notebook = nbformat.read(str(path), as_version=4)
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read notebook {str(path)!r}: {exc}") from None
    return [
        NotebookCell(number, cell.source, frozenset(cell.metadata.get("tags", ())))
        for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code"
    ]


def cells_from_sources(sources: Iterable[tuple[int, str]]) -> list[NotebookCell]:
    """Cells from ``(number, source)`` pairs, e.g. a kernel's input history."""
    return [NotebookCell(number, source) for number, source in sources]


def parse_cell(cell: NotebookCell) -> CellCode:
    """Split ``cell`` into its magic (if any) and its Python code.

    Raises:
        ExportError: the options of an ``%%agent`` or ``%%timer`` line are
            ones the magic would refuse.
    """
    source = cell.source.lstrip("\n")
    lines = source.split("\n")
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        magic, _, line = first[2:].partition(" ")
        body = "\n".join(lines[1:])
        offset = len(cell.source) - len(source) + 1
        if magic in ("agent", "timer"):
            handler = parse_handler(magic, line.strip(), cell.number)
            return CellCode(cell, "handler", body, handler=handler, offset=offset)
        if magic not in TRANSPARENT_CELL_MAGICS:
            return CellCode(cell, "magic", body, magic=magic, offset=offset)
        code, removed = strip_notebook_lines(body)
        return CellCode(cell, "plain", code, removed=[first, *removed], offset=offset)

    code, removed = strip_notebook_lines(cell.source)
    return CellCode(cell, "plain", code, removed=removed)


def strip_notebook_lines(source: str) -> tuple[str, list[str]]:
    """``source`` without its IPython-only lines, and those lines.

    Each removed line becomes an empty line (or ``pass`` inside a block),
    so rows keep their numbers and blocks stay valid.  As in IPython, only
    a line that begins a statement can be IPython syntax: one that goes on
    from the line above (inside brackets, a string or after ``\\``) is
    Python, e.g. ``    % (a, b))`` in a ``%``-formatting expression.
    """
    kept: list[str] = []
    removed: list[str] = []
    for line in source.split("\n"):
        if not _NOTEBOOK_ONLY_LINE.match(line) or _continues(kept):
            kept.append(line)
            continue
        removed.append(line.strip())
        indent = line[: len(line) - len(line.lstrip())]
        kept.append(f"{indent}pass" if indent else "")
    return "\n".join(kept), removed


def _continues(lines: list[str]) -> bool:
    """True when the next line continues the statement ``lines`` end with."""
    if not lines:
        return False
    if lines[-1].endswith("\\"):
        return True
    text = "\n".join(lines) + "\n"
    try:
        for _ in tokenize.generate_tokens(io.StringIO(text).readline):
            pass
    except tokenize.TokenError:  # EOF inside brackets or a string
        return True
    except SyntaxError:  # e.g. an indentation error: not ours to judge
        return False
    return False


# -- the magics' options -------------------------------------------------------


_PARSERS = handler_parsers()


def parse_handler(magic: str, line: str, number: int) -> Handler:
    """The options of ``%%{magic} {line}`` in cell ``number``.

    Raises:
        ExportError: options the magic would refuse; the cell never
            registered anything in the notebook either.
    """
    try:
        args = _PARSERS[magic].parse_line(line)
    except ValueError as exc:
        raise ExportError(
            f"cell {number}: %%{magic} {line}: {exc}; fix the options or tag "
            f"the cell {SKIP_TAG}"
        ) from None
    if args.app is not None and not args.app.isidentifier():
        raise ExportError(
            f"cell {number}: %%{magic} --app {args.app}: not a variable name; "
            "pass the name of the variable that holds the App"
        )
    if magic == "agent":
        return Handler(
            magic,
            line,
            app=args.app,
            name=args.name,
            topic=args.topic,
            concurrency=args.concurrency,
        )
    return Handler(magic, line, app=args.app, name=args.name, seconds=args.seconds)
