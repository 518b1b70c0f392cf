"""What an App, agent or table shows when it is displayed.

In a Jupyter kernel: its live widget, with a text version beside it for
front ends that cannot draw widgets (and for nbconvert).  Anywhere else:
only the text.  A widget that fails to build never hides the object: the
text is shown and the failure logged.
"""

from __future__ import annotations

import logging
from typing import Any

from ...agents import Agent
from ...app import App
from ...tables.table import Table
from ..session import in_kernel
from .text import text_of

logger = logging.getLogger(__name__)


def widget_for(obj: App | Agent | Table) -> Any:
    """The live widget of an App (its dashboard), an agent or a table; it
    replaces (closes) the one shown for ``obj`` before."""
    from .agent_view import AgentView
    from .dashboard import Dashboard
    from .refresh import refresher
    from .table_view import TableView

    if isinstance(obj, App):
        widget = Dashboard(obj)
    elif isinstance(obj, Agent):
        widget = AgentView(obj)
    elif isinstance(obj, Table):
        widget = TableView(obj)
    else:
        raise TypeError(
            f"no streamkit widget for {type(obj).__name__}: pass an App, an "
            "agent or a table"
        )
    refresher.displayed(obj, widget)
    return widget


def mimebundle(obj: App | Agent | Table) -> dict[str, Any]:
    """The display data of ``obj`` (see the module docstring)."""
    shell = _shell()
    if shell is None or not in_kernel(shell):
        return {"text/plain": text_of(obj)}
    try:
        return widget_for(obj)._repr_mimebundle_()
    except Exception:
        logger.exception("could not build the widget of %r; showing text", obj)
        return {"text/plain": text_of(obj)}


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
