"""What the notebook shows of background work: handler tracebacks and log lines.

Both write to ``sys.stderr`` at the moment they are called.  In ipykernel,
``sys.stderr`` sends text to the cell whose request is in the current
:mod:`contextvars` context, and an agent's actors and a timer's task run in
the context captured by their ``%%agent`` / ``%%timer`` cell, so a handler's
traceback and its log line land under the cell that defined it.

Decisions:

- The library logs a handler's failure with ``exc_info`` only when nobody
  else reports it (no error hook).  The notebook installs a hook that prints
  the traceback, so the log handler prints one line per record, and the full
  traceback only for records that carry one: no traceback is shown twice and
  none is lost.
- Hooks and the log handler are recognised by a marker attribute, not by
  class, so ``%reload_ext streamkit`` (which re-imports this package) finds
  and replaces the ones an earlier import installed instead of stacking them.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import Any

#: Attribute set on everything this module installs, so a later import finds it.
MARKER = "_streamkit_notebook"

LOGGER_NAME = "streamkit"


class CellLogHandler(logging.Handler):
    """One line per WARNING-or-worse ``streamkit`` record, to the current cell."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        setattr(self, MARKER, True)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"[streamkit {record.levelname}] {record.getMessage()}\n"
            if record.exc_info and record.exc_info[1] is not None:
                text += "".join(traceback.format_exception(*record.exc_info))
            # Looked up at each call: ipykernel routes the current sys.stderr
            # by context, and a test may swap it.
            sys.stderr.write(text)
        except Exception:
            self.handleError(record)


def install_log_handler() -> CellLogHandler:
    """Attach a :class:`CellLogHandler` to the ``streamkit`` logger, replacing
    any an earlier load installed."""
    remove_log_handlers()
    handler = CellLogHandler()
    logging.getLogger(LOGGER_NAME).addHandler(handler)
    return handler


def remove_log_handlers() -> None:
    """Detach every handler this module (in any import of it) installed."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if getattr(handler, MARKER, False):
            logger.removeHandler(handler)


def user_traceback(exc: BaseException) -> TracebackType | None:
    """``exc``'s traceback without the streamkit and IPython frames on top.

    The user's frames (the cell's) are what helps; when there are none (the
    error is in streamkit itself) the whole traceback is kept.
    """
    tb = exc.__traceback__
    while tb is not None and _is_machinery(tb.tb_frame.f_globals.get("__name__")):
        tb = tb.tb_next
    return tb if tb is not None else exc.__traceback__


def _is_machinery(module: object) -> bool:
    return isinstance(module, str) and module.split(".")[0] in ("streamkit", "IPython")


def format_traceback(shell: Any, exc: BaseException) -> str:
    """``exc`` formatted as IPython formats a cell's error ("Cell In[N], line k")."""
    tb = user_traceback(exc)
    try:
        formatter = shell.InteractiveTB
        return formatter.stb2text(formatter.structured_traceback(type(exc), exc, tb))
    except Exception:  # never let reporting an error raise another one
        return "".join(traceback.format_exception(type(exc), exc, tb))


def install_error_hook(shell: Any, owner: Any) -> None:
    """Make ``owner`` (an Agent, Timer or task) print its handler's tracebacks.

    ``shell`` is typed ``Any`` because IPython has no public shell type.  The
    hook replaces one a previous run of the cell installed.
    """

    def show_traceback(job: Any, exc: BaseException, *event: Any) -> None:
        sys.stderr.write(format_traceback(shell, exc) + "\n")

    setattr(show_traceback, MARKER, True)
    hooks = [hook for hook in owner.error_hooks if not getattr(hook, MARKER, False)]
    owner.error_hooks[:] = [*hooks, show_traceback]
