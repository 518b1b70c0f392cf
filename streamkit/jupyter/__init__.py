"""The IPython extension: ``%load_ext streamkit``.

Loading registers the magics (:mod:`.magics`), attaches a log handler that
shows streamkit's warnings and errors under the cell they concern
(:mod:`.output`), shows Apps, agents and tables as live widgets
(:mod:`.widgets`), makes the Apps still running when the kernel shuts down or
restarts (or terminal IPython exits) stop cleanly (:mod:`.lifecycle`), and, in
terminal IPython, keeps IPython's asyncio loop running at the prompt so an
App keeps processing between cells.

Loading is idempotent and ``%reload_ext streamkit`` leaves exactly one log
handler, one set of magics and one exit hook.  Unloading removes the magics
and the handler; running Apps keep running (they belong to the notebook, not
to the extension) and are still stopped at exit.
"""

from __future__ import annotations

import logging
from typing import Any

from ..agents import Agent
from ..app import App
from ..tables.table import Table
from .lifecycle import (
    register_exit_hook,
    stop_apps_when_asked_to_exit,
    unwatch_replaced_apps,
    watch_for_replaced_apps,
)
from .magics import StreamkitMagics
from .output import install_log_handler, remove_log_handlers
from .session import in_kernel

__all__ = ["StreamkitMagics", "load_ipython_extension", "unload_ipython_extension"]

logger = logging.getLogger(__name__)

_MAGICS = {"line": ("streamkit",), "cell": ("agent", "timer", "send")}
_DISPLAYED = (App, Agent, Table)


def load_ipython_extension(shell: Any) -> None:
    """Register the magics and the notebook log handler on ``shell``, and the
    exit hook that stops the Apps still running when the process ends."""
    shell.register_magics(StreamkitMagics)
    install_log_handler()
    register_exit_hook()
    watch_for_replaced_apps(shell)
    _show_widgets(shell)

    if not in_kernel(shell):
        stop_apps_when_asked_to_exit(shell)

        # Terminal IPython runs no loop between cells; this runs IPython's
        # asyncio loop while the prompt waits, so agents keep working.
        if getattr(shell, "simple_prompt", False):
            logger.warning(
                "IPython runs with --simple-prompt, which reads input without "
                "an event loop: the App only processes while a cell awaits "
                "(e.g. `await asyncio.sleep(5)`). Start IPython without "
                "--simple-prompt to keep it running at the prompt."
            )
            return
        try:
            shell.enable_gui("asyncio")
        except Exception as exc:  # an exotic shell: say so, magics still work
            logger.warning(
                "could not keep the asyncio loop running at the prompt (%s); "
                "the App only runs while a cell awaits",
                exc,
            )


def unload_ipython_extension(shell: Any) -> None:
    """Remove the magics and the log handler; running Apps are left alone."""
    remove_log_handlers()
    unwatch_replaced_apps(shell)
    formatter = shell.display_formatter.mimebundle_formatter
    for cls in _DISPLAYED:
        formatter.pop(cls, None)
    registry = shell.magics_manager.magics
    for kind, names in _MAGICS.items():
        for name in names:
            registry[kind].pop(name, None)


def _show_widgets(shell: Any) -> None:
    """Display Apps, agents and tables as their live widgets (text in a
    terminal), through IPython's formatter registry: the runtime itself
    knows nothing of notebooks."""
    from .widgets.display import mimebundle

    formatter = shell.display_formatter.mimebundle_formatter
    for cls in _DISPLAYED:
        formatter.for_type(cls, mimebundle)
