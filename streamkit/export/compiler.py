"""Deciding what each cell of a notebook becomes in the exported module.

The steps, in order (each needs the one before):

1. read each cell: its magic, its Python, its statements (:mod:`.cells`,
   :mod:`.source`); gather every top-level import (:mod:`.imports`);
2. find the App variable(s) and the Topic variables an ``%%agent`` names;
3. sort each plain cell's statements: notebook-only ones dropped, the value
   the cell displays dropped, settings made to yield to the environment;
   a call into an imported module (``logging.basicConfig(...)``) is kept
   for its effect, not taken for a display;
4. keep the last definition of each handler;
5. keep a display cell only when kept code needs a name it defines, then
   the last definition of each plain function or class;
6. keep secrets out of what is kept: refuse a literal password
   (:mod:`.secret_literals`), leave URL user-info out (:mod:`.redaction`);
7. write the module (:mod:`.writer`): decorators, tasks for top-level
   ``await``, the imports in use, ``app.main()``.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from ..exceptions import ExportError
from .cells import EXPORT_TAG, SKIP_TAG, Handler, NotebookCell, parse_cell
from .imports import ImportPool
from .plan import CellOutcome, CellPlan, ExportedModule, reads
from .redaction import leave_out_user_info
from .secret_literals import refuse_literal_secrets
from .source import Unit, awaits, bound_names, import_time_names, split_units
from .writer import ModuleWriter


def compile_cells(
    cells: Sequence[NotebookCell],
    *,
    source_name: str,
    module_name: str | None = None,
    strict: bool = True,
) -> ExportedModule:
    """Compile notebook cells into the source of a worker module.

    Args:
        cells: the code cells, in notebook order.
        source_name: where they come from, for the module's docstring.
        module_name: the module's import name, for its docstring.
        strict: a cell that does not compile is an error; when False it is
            left out and reported (for a kernel's history, where a cell that
            failed also did nothing).

    Raises:
        ExportError: a cell that does not compile (``strict``), an
            ``%%agent``/``%%timer`` cell the magic would refuse, no App,
            kept code that needs IPython, a password written as a literal
            (:mod:`.secret_literals`), or a URL template with user-info
            (:mod:`.redaction`).  The message names the cell.
    """
    pool = ImportPool()
    parsed: list[CellPlan] = []
    outcomes: dict[int, CellOutcome] = {}
    for cell in cells:
        if SKIP_TAG in cell.tags:
            outcomes[cell.number] = CellOutcome(cell.number, False, f"tag {SKIP_TAG}")
            continue
        try:
            found = _read(cell, pool)
        except ExportError as exc:
            if strict:
                raise
            outcomes[cell.number] = CellOutcome(cell.number, False, str(exc))
            continue
        parsed.append(found)

    apps = _app_variables(parsed)
    app = _main_app(apps)
    _mark_topics(parsed)
    for found in parsed:
        _sort_statements(found, set(apps), pool)
    _keep_last_handlers(parsed, app)
    _keep_needed_display_cells(parsed, app)
    _keep_last_definitions(parsed)
    for found in parsed:
        refuse_literal_secrets(found)
    for found in parsed:
        leave_out_user_info(found, module_name)

    module = ModuleWriter(parsed, app, pool, source_name, module_name).write()
    for found in parsed:
        outcomes[found.number] = _outcome(found, module)
    module.cells = [outcomes[c.number] for c in cells if c.number in outcomes]
    return module


# -- step 1: reading -------------------------------------------------------------


def _read(cell: NotebookCell, pool: ImportPool) -> CellPlan:
    code = parse_cell(cell)
    if code.kind == "magic":
        if EXPORT_TAG in cell.tags:
            raise ExportError(
                f"cell {cell.number}: a %%{code.magic} cell is tagged {EXPORT_TAG}, "
                "but only Python and %%agent/%%timer cells can be exported"
            )
        found = CellPlan(code, [])
        found.dropped = f"%%{code.magic} cell (notebook only)"
        return found

    try:
        tree = ast.parse(code.code)
    except SyntaxError as exc:
        raise ExportError(
            f"cell {cell.number}: line {exc.lineno}: {exc.msg}; fix it or tag the "
            f"cell {SKIP_TAG}"
        ) from None
    found = CellPlan(code, split_units(code.code, tree))
    for unit in found.units:
        if all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in unit.stmts):
            for stmt in unit.stmts:
                pool.add(stmt, cell.number)  # type: ignore[arg-type] - checked above
        else:
            found.kept.append(unit)
    if code.handler is not None:
        _find_handler(found, code.handler)
    return found


def _find_handler(found: CellPlan, handler: Handler) -> None:
    # The same checks as the magic: a cell it refused registered nothing.
    where = f"cell {found.number}: %%{handler.magic}"
    defs = [
        (u, s)
        for u in found.kept
        for s in u.stmts
        if isinstance(s, ast.AsyncFunctionDef)
    ]
    if len(defs) != 1:
        raise ExportError(
            f"{where}: the cell must define exactly one top-level `async def`, "
            f"it defines {len(defs)}"
        )
    unit, fun = defs[0]
    if fun.decorator_list:
        raise ExportError(f"{where}: remove the decorator from `{fun.name}`")
    if any(awaits(s) for u in found.kept for s in u.stmts):
        raise ExportError(
            f"{where}: top-level `await` in a handler cell (the magic cannot run "
            "it); move it to a cell of its own"
        )
    positional = [*fun.args.posonlyargs, *fun.args.args]
    if handler.magic == "agent" and not (positional or fun.args.vararg):
        raise ExportError(f"{where}: `{fun.name}` must take the stream: f(stream)")
    found.handler_def, found.handler_fun = unit, fun


# -- step 2: the App and the topics ------------------------------------------------


def _app_variables(parsed: list[CellPlan]) -> list[str]:
    """Names assigned ``streamkit.App(...)`` (or ``App(...)``), in order."""
    names: list[str] = []
    for found in parsed:
        for unit in found.kept:
            for stmt in unit.stmts:
                if isinstance(stmt, ast.Assign) and _creates(stmt, ("App",)):
                    names += [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    return list(dict.fromkeys(names))


def _main_app(distinct: list[str]) -> str:
    """The App variable a magic without ``--app`` means (the magic's rule)."""
    if len(distinct) == 1:
        return distinct[0]
    if "app" in distinct:
        return "app"
    if not distinct:
        raise ExportError(
            "no cell creates a streamkit.App (`app = streamkit.App(...)`); a "
            "worker module needs one"
        )
    raise ExportError(
        f"several Apps are created ({', '.join(distinct)}) and none is called "
        "`app`; rename the one the worker runs to `app`"
    )


def _creates(stmt: ast.stmt, classes: tuple[str, ...], method: str = "") -> bool:
    """True for ``x = Class(...)``, ``x = module.Class(...)``, ``x = y.method(...)``."""
    if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
        return False
    func = stmt.value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in classes or (isinstance(func, ast.Attribute) and name == method)


def _mark_topics(parsed: list[CellPlan]) -> None:
    # The magic takes TOPIC for a variable when one holding a Topic exists
    # as the cell runs; here: a name last assigned from app.topic(...) or
    # Topic(...) in an earlier cell.
    topics: dict[str, bool] = {}
    for found in parsed:
        handler = found.code.handler
        if handler is not None and handler.topic is not None:
            found.topic_is_variable = topics.get(handler.topic, False)
        for unit in found.kept:
            for stmt in unit.stmts:
                is_topic = _creates(stmt, ("Topic",), method="topic")
                for name in bound_names(stmt):
                    topics[name] = is_topic


# -- step 3: each cell's statements ------------------------------------------------


def _sort_statements(found: CellPlan, apps: set[str], pool: ImportPool) -> None:
    if found.dropped or found.code.kind == "handler":
        return
    forced = EXPORT_TAG in found.tags

    kept: list[Unit] = []
    reasons: list[str] = []
    written: list[ast.stmt] = []  # as the user wrote them, for what shows
    for unit in found.kept:
        reasons += filter(None, (_notebook_only(s, apps) for s in unit.stmts))
        stmts = [s for s in unit.stmts if not _notebook_only(s, apps)]
        if not stmts:
            continue
        written += stmts
        if stmts != unit.stmts:
            unit.replace(stmts)
        rewritten = [_respect_environment(s, apps) for s in stmts]
        if rewritten != stmts:
            unit.replace(rewritten)
            pool.require("os")
        kept.append(unit)

    stmts = written
    last = stmts[-1] if stmts else None
    found.shows = (
        isinstance(last, ast.Expr) and not awaits(last) and not _acts(last, pool)
    )
    display_only = found.shows and len(stmts) == 1 and not forced
    if found.shows and not isinstance(last.value, ast.Call):  # type: ignore[union-attr]
        # The value the notebook displays; in a module it does nothing.
        if len(kept[-1].stmts) == 1:
            kept.pop()
        else:
            kept[-1].replace(kept[-1].stmts[:-1])
    found.kept = kept

    if not kept or display_only:
        found.kept = []
        found.dropped = _empty_reason(found, display_only, reasons)
    elif found.shows and not forced and not found.awaiting():
        found.optional = True


def _notebook_only(stmt: ast.stmt, apps: set[str]) -> str | None:
    """Why ``stmt`` has no place in a worker, or None.

    ``await app.start()`` and ``await app.stop()``: the worker starts and
    stops the App; ``display(...)``: nothing to show.
    """
    if not isinstance(stmt, ast.Expr):
        return None
    value = stmt.value
    if isinstance(value, ast.Await) and isinstance(value.value, ast.Call):
        func = value.value.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("start", "stop")
            and isinstance(func.value, ast.Name)
            and func.value.id in apps
        ):
            return f"the worker {func.attr}s the App"
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "display"
    ):
        return "display()"
    return None


def _acts(stmt: ast.Expr, pool: ImportPool) -> bool:
    """True when ``stmt`` calls into a module the notebook imports.

    ``logging.basicConfig(...)``, ``os.environ.setdefault(...)``, or ``f()``
    after ``from x import f``: run for its effect, which a worker needs as
    much as the notebook did.  A call on a notebook value (``df.head()``),
    ``print(...)`` and a call into IPython only show something.
    """
    if not isinstance(stmt.value, ast.Call):
        return False
    root: ast.expr = stmt.value.func
    while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):
        root = root.func if isinstance(root, ast.Call) else root.value
    imported = pool.get(root.id) if isinstance(root, ast.Name) else None
    return imported is not None and not imported.notebook_only()


def _respect_environment(stmt: ast.stmt, apps: set[str]) -> ast.stmt:
    """Rewrite a setting assigned in code so ``STREAMKIT_<SETTING>`` still wins.

    ``app.conf.broker = URL`` after the App exists would beat the
    environment, which ``streamkit.App(...)`` lets override its arguments;
    it becomes a default the environment can override.  Likewise
    ``os.environ["STREAMKIT_X"] = v`` becomes ``os.environ.setdefault(...)``.
    """
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
        return stmt
    target = stmt.targets[0]
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Attribute)
        and target.value.attr == "conf"
        and isinstance(target.value.value, ast.Name)
        and target.value.value.id in apps
    ):
        var = f"STREAMKIT_{target.attr.upper()}"
        test = ast.parse(f"{var!r} not in os.environ", mode="eval").body
        return ast.fix_missing_locations(ast.If(test=test, body=[stmt], orelse=[]))
    if (
        isinstance(target, ast.Subscript)
        and ast.unparse(target.value) == "os.environ"
        and isinstance(target.slice, ast.Constant)
        and str(target.slice.value).startswith("STREAMKIT_")
    ):
        call = (
            f"os.environ.setdefault({target.slice.value!r}, {ast.unparse(stmt.value)})"
        )
        return ast.parse(call).body[0]
    return stmt


def _empty_reason(found: CellPlan, display_only: bool, reasons: list[str]) -> str:
    if display_only:
        return "display only"
    shown = [*found.code.removed, *reasons]
    if shown:
        return f"notebook only ({', '.join(dict.fromkeys(shown))})"
    return "imports only (moved to the top)" if found.units else "empty"


# -- step 4: last definitions ------------------------------------------------------


def _handler_key(found: CellPlan, app: str) -> tuple[str, str, str]:
    handler = found.code.handler
    assert handler is not None and found.handler_fun is not None
    return (handler.app or app, handler.magic, handler.name or found.handler_fun.name)


def _keep_last_handlers(parsed: list[CellPlan], app: str) -> None:
    # Re-running a handler cell replaces the handler: only the last counts.
    last: dict[tuple[str, str, str], CellPlan] = {}
    for found in parsed:
        if found.handler_fun is not None and not found.dropped:
            last[_handler_key(found, app)] = found
    for found in parsed:
        if found.handler_fun is None or found.dropped:
            continue
        winner = last[_handler_key(found, app)]
        if winner is not found:
            found.kept.remove(found.handler_def)  # type: ignore[arg-type]
            found.notes.append(
                f"`{found.handler_fun.name}` is redefined in cell {winner.number}"
            )
            found.handler_def = found.handler_fun = None
            if not found.kept:
                found.dropped = f"redefined in cell {winner.number}"


def _keep_needed_display_cells(parsed: list[CellPlan], app: str) -> None:
    """Keep a display cell when other kept code reads a name it defines."""
    changed = True
    while changed:
        changed = False
        for found in parsed:
            if not found.optional:
                continue
            # The App is always needed: app.main() ends the module.
            used = {app}.union(*(reads(o, app) for o in parsed if o is not found))
            defined = set().union(
                *(bound_names(s) for u in found.kept for s in u.stmts)
            )
            if defined & used:
                found.optional = False
                changed = True
    for found in parsed:
        if found.optional:
            found.kept = []
            found.dropped = "display only (defines nothing exported code uses)"


def _keep_last_definitions(parsed: list[CellPlan]) -> None:
    """Drop a plain ``def``/``class`` that a later cell defines again.

    Unless import-time code between the two reads it; a handler's function
    name counts as a definition too, and two handlers may share a function
    name (with different ``--name``), as two agents.
    """
    defs: list[tuple[CellPlan, Unit, str]] = []
    for found in parsed:
        for unit in found.kept:
            stmt = unit.stmts[-1]
            if len(unit.stmts) == 1 and isinstance(
                stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                defs.append((found, unit, stmt.name))

    for index, (found, unit, name) in enumerate(defs):
        if unit is found.handler_def:
            continue
        later = [d for d in defs[index + 1 :] if d[2] == name]
        if not later or _read_between(parsed, unit, later[0][1], name):
            continue
        found.kept.remove(unit)
        found.notes.append(f"`{name}` is redefined in cell {later[0][0].number}")
        if not found.kept:
            found.dropped = f"redefined in cell {later[0][0].number}"


def _read_between(parsed: list[CellPlan], first: Unit, second: Unit, name: str) -> bool:
    inside = False
    for found in parsed:
        for unit in found.kept:
            if unit is second:
                return False
            if inside and any(name in import_time_names(s) for s in unit.stmts):
                return True
            inside = inside or unit is first
    return False


def _outcome(found: CellPlan, module: ExportedModule) -> CellOutcome:
    if found.dropped:
        return CellOutcome(found.number, False, found.dropped, found.warnings)
    handler, fun = found.code.handler, found.handler_fun
    if handler is not None and fun is not None:
        what = f"{handler.magic} {handler.name or fun.name}"
    elif f"cell_{found.number}" in module.tasks:
        what = f"task cell_{found.number}"
    else:
        what = "code"
    what = "; ".join([what, *found.notes])
    return CellOutcome(found.number, True, what, found.warnings)
