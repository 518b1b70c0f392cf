"""The notebook's live state: which App a magic means, and the loop it runs on.

Decisions:

- The App a magic acts on is ``--app NAME`` (a variable of the user
  namespace), else the namespace's only :class:`~streamkit.App`, else the one
  bound to ``app`` when there are several.  Anything else is a
  :class:`UsageError` that says what to write.
- In a kernel the App's loop is the kernel's, which is running while a magic
  runs: registration happens right there, and ``%streamkit start|stop``
  schedule the coroutine and report under their cell when it is done (a
  magic cannot await).  Terminal IPython runs no loop while a cell runs; there
  the same work runs to completion on IPython's own asyncio loop, which
  ``enable_gui("asyncio")`` keeps running at the prompt.
- What must survive ``%reload_ext streamkit`` (pending start/stop tasks) lives
  on the shell object, which a reload does not replace.

When Apps are stopped for the user (a replaced App, the end of the process)
is :mod:`.lifecycle`'s concern.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from IPython.core.error import UsageError

from ..app import App
from ..exceptions import StreamkitError
from ..transport import redact_url
from .output import format_traceback

T = TypeVar("T")

logger = logging.getLogger(__name__)

_TASKS_ATTR = "_streamkit_tasks"


def find_app(shell: Any, name: str | None = None) -> App:
    """The App a magic acts on (see the module docstring).

    Raises :class:`UsageError` when ``name`` is not an App variable, or when
    no App, or several without one called ``app``, are defined.
    """
    user_ns = shell.user_ns
    if name is not None:
        obj = user_ns.get(name)
        if isinstance(obj, App):
            return obj
        what = "is not defined" if name not in user_ns else f"is {type(obj).__name__}"
        raise UsageError(
            f"--app {name}: {name!r} {what}, not a streamkit.App; pass the name "
            "of the variable that holds your App."
        )

    found: dict[int, tuple[App, list[str]]] = {}
    for var, obj in list(user_ns.items()):
        # Skip IPython's output history (_, _3...), which aliases variables.
        if isinstance(obj, App) and not var.startswith("_"):
            found.setdefault(id(obj), (obj, []))[1].append(var)

    if len(found) == 1:
        return next(iter(found.values()))[0]
    if not found:
        raise UsageError(
            "no streamkit.App is defined in this notebook: create one first, "
            "e.g. `app = streamkit.App('myapp', broker='memory://')`."
        )
    if isinstance(user_ns.get("app"), App):
        return user_ns["app"]
    names = ", ".join(sorted(var for _, names in found.values() for var in names))
    raise UsageError(
        f"several streamkit Apps are defined ({names}); say which one with --app NAME."
    )


def in_kernel(shell: Any) -> bool:
    """True in a Jupyter kernel, False in terminal IPython."""
    return getattr(shell, "kernel", None) is not None


def call_on_loop(fun: Callable[[], T]) -> T:
    """Call ``fun`` where the App's loop is running, and return its result.

    In a kernel the loop already runs; in terminal IPython ``fun`` runs
    inside IPython's asyncio loop, which is run until ``fun`` returns.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _ipython_loop().run_until_complete(_call(fun))
    return fun()


async def _call(fun: Callable[[], T]) -> T:
    return fun()


def _ipython_loop() -> asyncio.AbstractEventLoop:
    from IPython.core.async_helpers import get_asyncio_loop

    return get_asyncio_loop()


def run_and_report(
    shell: Any, coro: Coroutine[Any, Any, Any], *, done: str, failed: str
) -> None:
    """Run ``coro`` and print ``done`` (unless empty), or ``failed`` and the
    error, when it ends.

    In a kernel the coroutine becomes a task and this returns at once; the
    task runs in the current cell's context, so the report lands under the
    cell that asked.  In terminal IPython it runs to completion here.
    """
    report = _report(shell, coro, done=done, failed=failed)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _ipython_loop().run_until_complete(report)
        return

    # The loop only holds weak references to tasks: keep one until it ends,
    # on the shell so that a %reload_ext does not drop it.
    tasks: set[asyncio.Task[None]] = shell.__dict__.setdefault(_TASKS_ATTR, set())
    task = loop.create_task(report)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _report(
    shell: Any, coro: Coroutine[Any, Any, Any], *, done: str, failed: str
) -> None:
    try:
        await coro
    except Exception as exc:
        if isinstance(exc, StreamkitError):
            detail = f"{type(exc).__name__}: {exc}\n"
        else:  # not one of ours: the traceback is what helps
            detail = format_traceback(shell, exc) + "\n"
        sys.stderr.write(f"{failed}\n{detail}")
    else:
        if done:
            sys.stdout.write(done + "\n")


def describe(app: App) -> str:
    """``app 'id' (broker)`` for messages, with the broker's secrets redacted."""
    return f"app {app.id!r} ({redact_url(app.conf.broker)})"
