"""Compiling an ``%%agent`` or ``%%timer`` cell and finding its one ``async def``.

Decisions:

- The body is plain Python (no IPython input transformations), as it would
  be in an exported module.  Top-level ``await`` is a syntax error there
  because the magic runs synchronously.
- The body is compiled through ``shell.compile.cache`` under the number of
  the cell that runs the magic, with the magic line in front as a comment,
  so tracebacks read "Cell In[N], line k" with ``k`` counted in the cell as
  the user sees it.  The number is looked up from the cell's own frame, not
  from ``shell.execution_count``, whose value while a cell runs differs
  between IPython releases (and between cells run concurrently).
- The cell must define exactly one top-level ``async def``; other top-level
  statements (imports, helpers, constants) are allowed and run in the user
  namespace, where the function's globals live.
- Nothing is left behind when a cell fails: a syntax error runs nothing, and
  if the cell's statements raise, the name of the function is bound again to
  what it was before (usually the running Agent or Timer).
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from .output import user_traceback

_MISSING = object()


@dataclass
class CellFunction:
    """The ``async def`` a cell defined, and what its name was bound to before."""

    fun: Callable[..., Any]
    name: str
    previous: Any = _MISSING

    def restore(self, user_ns: dict[str, Any]) -> None:
        """Bind the function's name again to what it was before the cell ran."""
        _rebind(user_ns, self.name, self.previous)


def define_function(
    shell: Any, line: str, cell: str, *, magic: str, signature: str
) -> CellFunction:
    """Compile and run ``cell``; return the one ``async def`` it defines.

    Args:
        shell: the IPython shell (``Any``: IPython has no public type for it).
        line: the magic's arguments (shown as the first line of the source).
        cell: the cell body, without the magic line.
        magic: ``"agent"`` or ``"timer"``, for messages.
        signature: how the function should look, for messages.

    Raises :class:`UsageError` (after showing the error under the cell) when
    the cell does not compile, defines zero or several ``async def``, has a
    function with the wrong parameters, or raises while it runs.
    """
    source = f"# %%{magic} {line}\n{cell}"
    filename = shell.compile.cache(source, cell_number(shell), raw_code=source)
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError:
        shell.showsyntaxerror()
        raise UsageError(
            f"%%{magic}: the cell has a syntax error (shown above); nothing "
            "was registered and the running handler is unchanged."
        ) from None

    node = _the_async_def(tree, magic=magic, signature=signature)
    _check_parameters(node, magic=magic, signature=signature)
    code = compile(tree, filename, "exec", shell.compile.flags, dont_inherit=True)

    previous = shell.user_ns.get(node.name, _MISSING)
    try:
        exec(code, shell.user_global_ns, shell.user_ns)
    except Exception as exc:
        _rebind(shell.user_ns, node.name, previous)
        shell.showtraceback((type(exc), exc, user_traceback(exc)))
        raise UsageError(
            f"%%{magic}: the cell raised {type(exc).__name__} (shown above); "
            "nothing was registered and the running handler is unchanged."
        ) from None

    fun = shell.user_ns.get(node.name)
    # An agent may ``yield`` (to its sinks); a timer's body is awaited.
    generator = magic == "agent" and inspect.isasyncgenfunction(fun)
    if not (inspect.iscoroutinefunction(fun) or generator):
        _rebind(shell.user_ns, node.name, previous)
        raise UsageError(
            f"%%{magic}: after the cell ran, {node.name!r} is no longer the "
            f"`async def` it defined (it is {fun!r}); do not rebind that name "
            "in the cell."
        )
    return CellFunction(fun=fun, name=node.name, previous=previous)


def _rebind(user_ns: dict[str, Any], name: str, previous: Any) -> None:
    if previous is _MISSING:
        user_ns.pop(name, None)
    else:
        user_ns[name] = previous


def cell_number(shell: Any) -> int:
    """The execution number of the cell whose code called this (the N of In[N]).

    IPython caches each cell under a file name it maps to the cell's number;
    the first caller frame from such a file is the running cell.
    """
    # ``_filename_map`` is IPython's own record (its tracebacks read it);
    # there is no public accessor.
    known: dict[str, int] = getattr(shell.compile, "_filename_map", {})
    frame = sys._getframe(1)
    while frame is not None:
        number = known.get(frame.f_code.co_filename)
        if number is not None:
            return number
        frame = frame.f_back
    return shell.execution_count


def _the_async_def(
    tree: ast.Module, *, magic: str, signature: str
) -> ast.AsyncFunctionDef:
    found = [n for n in tree.body if isinstance(n, ast.AsyncFunctionDef)]
    if len(found) == 1:
        node = found[0]
        if node.decorator_list:
            raise UsageError(
                f"%%{magic}: remove the decorator from `async def {node.name}`; "
                f"the %%{magic} magic registers the function itself."
            )
        return node

    if not found:
        plain = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        hint = f" ({', '.join(plain)} is a plain `def`: make it `async def`)"
        raise UsageError(
            f"%%{magic}: the cell must define one `{signature}` at top level; "
            f"it defines none{hint if plain else ''}."
        )
    names = ", ".join(n.name for n in found)
    raise UsageError(
        f"%%{magic}: the cell must define exactly one `async def` at top level; "
        f"it defines {len(found)} ({names}). Move the others to another cell."
    )


def _check_parameters(
    node: ast.AsyncFunctionDef, *, magic: str, signature: str
) -> None:
    # An agent is called with the stream; a timer with nothing, or with the
    # App when it takes a parameter (as in Faust).
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    required_kw = [
        a.arg
        for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
        if default is None
    ]
    fits = required <= 1 and not required_kw
    if magic == "agent":
        fits = fits and bool(positional or args.vararg)
    if not fits:
        raise UsageError(
            f"%%{magic}: `async def {node.name}` must look like `{signature}`; "
            f"its parameters are ({ast.unparse(args)})."
        )
