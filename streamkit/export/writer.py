"""Writing the exported module from the compiler's decisions.

The user's lines are kept as written; what the writer adds (the docstring,
decorators, ``@app.task`` functions, ``global`` lines, section comments)
stays within 88 columns.  A cell with top-level ``await`` is split here:
its definitions, and the statements before its first ``await`` that code
run at import needs, stay at module level; the rest becomes the task.
"""

from __future__ import annotations

import ast

from ..exceptions import ExportError
from .imports import ImportPool, render
from .plan import CellPlan, ExportedModule, generated_reads, reads
from .source import Unit, awaits, bound_names, import_time_names, loaded_names

#: Names IPython provides in a notebook that a module does not have.
IPYTHON_BUILTINS = frozenset({"display", "get_ipython"})

_LIMIT = 88


def module_docstring(source: str, module: str | None) -> list[str]:
    """The exported module's docstring: where it came from, how to run it,
    and where its broker comes from."""
    name = module or "MODULE"
    return [
        f'"""A streamkit worker exported from {source} by `streamkit export`.',
        "",
        "Run it with either of:",
        "",
        f"    streamkit -A {name} worker",
        f"    python {name}.py worker",
        "",
        "The broker: the App keeps the one it was given in the notebook",
        "(memory:// by default), the STREAMKIT_BROKER environment variable",
        "overrides it, and `streamkit worker --broker URL` overrides both, so the",
        "same module runs on Kafka unchanged.  No setting is assigned after the",
        "App is created unless the environment leaves it unset.",
        "",
        "The worker starts and stops the App: the notebook's `await app.start()`",
        "and `await app.stop()` are left out, and each cell that awaited at top",
        "level runs as an @app.task once the App has started.  Edit the notebook",
        "and export again rather than editing this file.",
        '"""',
    ]


def call_lines(callee: str, args: list[str], indent: str = "") -> list[str]:
    """``callee(arg, ...)`` on one line, or one argument a line if too long."""
    line = f"{indent}{callee}({', '.join(args)})"
    if len(line) <= _LIMIT or not args:
        return [line]
    return [f"{indent}{callee}(", *(f"{indent}    {a}," for a in args), f"{indent})"]


def task_lines(app: str, name: str, shared: list[str], body: list[str]) -> list[str]:
    """``@app.task async def name():`` with ``global`` lines and ``body``.

    ``body`` is already indented; ``shared`` are the names it assigns that
    the rest of the module uses, which must stay module globals.
    """
    lines = [f"@{app}.task", f"async def {name}():"]
    declared: list[str] = []
    for var in shared:
        if declared and len("    global " + ", ".join([*declared, var])) > _LIMIT:
            lines.append("    global " + ", ".join(declared))
            declared = []
        declared.append(var)
    if declared:
        lines.append("    global " + ", ".join(declared))
    return lines + (body or ["    pass"])


# -- the module ------------------------------------------------------------------


class ModuleWriter:
    """Write the module from the cells as :mod:`.compiler` left them."""

    def __init__(
        self,
        parsed: list[CellPlan],
        app: str,
        pool: ImportPool,
        source_name: str,
        module_name: str | None,
    ) -> None:
        self.parsed = parsed
        self.app = app
        self.pool = pool
        self.source_name = source_name
        self.module_name = module_name
        self.module = ExportedModule(code="")

    def write(self) -> ExportedModule:
        sections: list[list[str]] = []
        for found in self.parsed:
            if found.dropped:
                sections.append(
                    [f"# cell {found.number} not exported: {found.dropped}"]
                )
            elif found.awaiting():
                sections.append(self._task_cell(found))
            else:
                sections.append(self._plain_cell(found))
        sections.append(['if __name__ == "__main__":', f"    {self.app}.main()"])

        body = _join(sections)
        self._check_ipython_names()
        imports = render(self.pool.select(self._used()))
        head = [*module_docstring(self.source_name, self.module_name), ""]
        if imports:
            gap = 2 if _starts_with_definition(body) else 1
            head += [*imports, *[""] * gap]
        self.module.code = "\n".join(head + body).rstrip("\n") + "\n"
        return self.module

    def _header(self, found: CellPlan, what: str = "") -> str:
        handler = found.code.handler
        if handler is not None and found.handler_fun is not None:
            what = f"%%{handler.magic} {handler.line}".rstrip()
        what = "; ".join(filter(None, [what, *found.notes]))
        return f"# %% cell {found.number}" + (f": {what}" if what else "")

    def _plain_cell(self, found: CellPlan) -> list[str]:
        if found.handler_def is not None:
            self._decorate(found)
        lines = [line for unit in found.kept for line in unit.text()]
        return [self._header(found), *_trim(lines)]

    def _decorate(self, found: CellPlan) -> None:
        handler, fun, unit = found.code.handler, found.handler_fun, found.handler_def
        assert handler is not None and fun is not None and unit is not None
        app = handler.app or self.app
        args: list[str] = []
        if handler.magic == "agent":
            if handler.topic is not None:
                args.append(
                    handler.topic if found.topic_is_variable else _quote(handler.topic)
                )
            if handler.name:
                args.append(f"name={_quote(handler.name)}")
            if handler.concurrency != 1:
                args.append(f"concurrency={handler.concurrency}")
            self.module.agents.append(handler.name or fun.name)
        else:
            args.append(_number(handler.seconds or "1"))
            if handler.name:
                args.append(f"name={_quote(handler.name)}")
            self.module.timers.append(handler.name or fun.name)
        for line in reversed(call_lines(f"@{app}.{handler.magic}", args)):
            unit.insert(fun.lineno, line)
        if self._defined_before(found, fun.name):
            row = fun.lineno + len(call_lines(f"@{app}.{handler.magic}", args))
            index = row - unit.first
            unit.lines[index] += "  # noqa: F811 - another handler, same function name"

    def _defined_before(self, found: CellPlan, name: str) -> bool:
        for other in self.parsed:
            if other is found:
                return False
            if other.handler_fun is not None and other.handler_fun.name == name:
                return not other.dropped
        return False

    def _task_cell(self, found: CellPlan) -> list[str]:
        module_level, task = self._split(found)
        name = f"cell_{found.number}"
        while any(
            name in bound_names(s) for o in self.parsed for u in o.kept for s in u.stmts
        ):
            name += "_task"
        self.module.tasks.append(name)

        bound = set().union(*(bound_names(s) for u in task for s in u.stmts))
        elsewhere = self._names_outside(task)
        lines = [line for unit in module_level for line in unit.text()]
        lines = _trim(lines) + ([""] * 2 if lines else [])
        body = _trim([line for unit in task for line in unit.text("    ")])
        lines += task_lines(self.app, name, sorted(bound & elsewhere), body)
        what = "top-level await, run as a task when the App starts"
        return [self._header(found, what), *lines]

    def _split(self, found: CellPlan) -> tuple[list[Unit], list[Unit]]:
        """Definitions, and what import-time code needs, stay at module level."""
        needs = self._import_time_needs(found)
        first_await = next(
            i for i, u in enumerate(found.kept) if any(awaits(s) for s in u.stmts)
        )
        module_level: list[Unit] = []
        task: list[Unit] = []
        for index in range(len(found.kept) - 1, -1, -1):
            unit = found.kept[index]
            defines = isinstance(
                unit.stmts[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            )
            binds = set().union(*(bound_names(s) for s in unit.stmts))
            if defines or (index < first_await and binds & needs):
                module_level.insert(0, unit)
                needs |= set().union(*(import_time_names(s) for s in unit.stmts))
            else:
                task.insert(0, unit)
                late = binds & needs
                if late and not self._bound_at_module_level(late, found):
                    raise ExportError(
                        f"cell {found.number} assigns {', '.join(sorted(late))} "
                        "after a top-level await, but code that runs at import "
                        "needs it; assign it in a cell before the await"
                    )
        return module_level, task

    def _import_time_needs(self, cell: CellPlan) -> set[str]:
        # The App itself is always needed: decorators and app.main() use it.
        needs = {self.app}
        for found in self.parsed:
            if found is cell or found.dropped:
                continue
            if not found.awaiting():
                needs |= set().union(
                    *(import_time_names(s) for u in found.kept for s in u.stmts)
                )
            needs |= generated_reads(found, self.app)
        return needs

    def _bound_at_module_level(self, names: set[str], cell: CellPlan) -> bool:
        for found in self.parsed:
            if found is cell or found.dropped or found.awaiting():
                continue
            for unit in found.kept:
                if names & set().union(*(bound_names(s) for s in unit.stmts)):
                    return True
        return False

    def _names_outside(self, task: list[Unit]) -> set[str]:
        names: set[str] = set()
        for found in self.parsed:
            for unit in found.kept:
                if any(unit is t for t in task):
                    continue
                for stmt in unit.stmts:
                    names |= loaded_names(stmt) | bound_names(stmt)
        return names | self.pool.bound()

    def _used(self) -> set[str]:
        used = {self.app}
        for found in self.parsed:
            used |= reads(found, self.app)
        return used

    def _check_ipython_names(self) -> None:
        defined = self.pool.bound()
        for found in self.parsed:
            for unit in found.kept:
                for stmt in unit.stmts:
                    defined |= bound_names(stmt)
        for found in self.parsed:
            missing = (reads(found, self.app) & IPYTHON_BUILTINS) - defined
            if missing:
                raise ExportError(
                    f"cell {found.number} uses {', '.join(sorted(missing))}, which "
                    "only exists in IPython; tag the cell streamkit:skip or remove it"
                )


def _starts_with_definition(lines: list[str]) -> bool:
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            return line.startswith(("def ", "async def ", "class ", "@"))
    return False


def _trim(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _join(sections: list[list[str]]) -> list[str]:
    lines: list[str] = []
    previous_dropped = False
    for section in sections:
        dropped = len(section) == 1 and section[0].startswith("# cell ")
        if lines and not (dropped and previous_dropped):
            lines += ["", ""]
        lines += section
        previous_dropped = dropped
    return lines


def _quote(text: str) -> str:
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def _number(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return text
    return repr(float(text))
