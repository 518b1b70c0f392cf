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
- Output is throttled: a handler that fails on every event would otherwise
  send thousands of tracebacks a second to the browser (each costs ~10 ms of
  the kernel's loop to format).  Per handler, the first
  ``FULL_TRACEBACKS`` errors are shown in full; after that one line at most
  every ``QUIET_SECONDS`` says how many were not shown and what the latest
  was.  The log handler does the same per message template.  Nothing is
  lost: the counters (``agent.errors``, the Monitor, the dashboard's error
  badge) count every one.
- Hooks and the log handler are recognised by a marker attribute, not by
  class, so ``%reload_ext streamkit`` (which re-imports this package) finds
  and replaces the ones an earlier import installed instead of stacking them.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

#: Attribute set on everything this module installs, so a later import finds it.
MARKER = "_streamkit_notebook"

LOGGER_NAME = "streamkit"

FULL_TRACEBACKS = 3
QUIET_SECONDS = 5.0


class Digest:
    """Shows the first ``shown_in_full`` of a stream of similar reports, then
    one summary line per ``quiet`` seconds with the count held back and the
    latest one (see the module docstring).

    The summary is written by a timer on the running loop, which runs in the
    context of the report that started it: it lands under the same cell.
    """

    def __init__(
        self,
        write_summary: Callable[[int, str], None],
        *,
        shown_in_full: int = FULL_TRACEBACKS,
        quiet: float | None = None,
    ) -> None:
        self.write_summary = write_summary
        self.shown_in_full = shown_in_full
        self.quiet = QUIET_SECONDS if quiet is None else quiet
        self.seen = 0
        self.held_back = 0
        self.latest = ""
        self._timer: asyncio.TimerHandle | None = None

    def report(self, latest: str) -> bool:
        """Count one report; True when the caller should show it in full."""
        self.seen += 1
        if self.seen <= self.shown_in_full:
            return True
        self.held_back += 1
        self.latest = latest
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop to wait on: summarise right away
                self.flush()
            else:
                self._timer = loop.call_later(self.quiet, self.flush)
        return False

    def flush(self) -> None:
        """Write the summary of what was held back, if anything was."""
        self._timer = None
        held, self.held_back = self.held_back, 0
        if held:
            self.write_summary(held, self.latest)


class CellLogHandler(logging.Handler):
    """One line per WARNING-or-worse ``streamkit`` record, to the current cell."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        setattr(self, MARKER, True)
        self._digests: dict[tuple[str, object], Digest] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "reported_by_hook", False):
            return  # the handler's error hook shows it, once
        try:
            key = (record.name, record.msg)
            digest = self._digests.get(key)
            if digest is None:
                level = record.levelname
                digest = self._digests[key] = Digest(
                    lambda held, latest: sys.stderr.write(
                        f"[streamkit {level}] {held:,} more like this not "
                        f"shown; the latest: {latest}\n"
                    )
                )
            if not digest.report(record.getMessage()):
                return
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

    name = getattr(owner, "name", owner)
    digest = Digest(
        lambda held, latest: sys.stderr.write(
            f"{name}: {held:,} more errors not shown in full (the latest: "
            f"{latest}); every one is counted in its errors figure and on the "
            "dashboard\n"
        )
    )

    def show_traceback(job: Any, exc: BaseException, *event: Any) -> None:
        if digest.report(f"{type(exc).__name__}: {exc}"):
            header = _error_header(job, exc, event[0] if event else None)
            sys.stderr.write(header + format_traceback(shell, exc) + "\n")

    setattr(show_traceback, MARKER, True)
    hooks = [hook for hook in owner.error_hooks if not getattr(hook, MARKER, False)]
    owner.error_hooks[:] = [*hooks, show_traceback]


def _error_header(job: Any, exc: BaseException, event: Any) -> str:
    """``[streamkit ERROR] agent NAME raised ValueError on topic[p]@offset...``"""
    name = getattr(job, "name", job)
    if hasattr(job, "topic"):  # an agent: say which record, and what follows
        if event is None:
            return (
                f"[streamkit ERROR] agent {name} raised {type(exc).__name__} "
                "before reading an event, so it stops\n"
            )
        m = event.message
        return (
            f"[streamkit ERROR] agent {name} raised {type(exc).__name__} on "
            f"{m.topic}[{m.partition}]@{m.offset}; the event counts as an error "
            "and the agent goes on with the next one\n"
        )
    kind = getattr(job, "kind", "task")
    return f"[streamkit ERROR] {kind} {name} raised {type(exc).__name__}\n"
