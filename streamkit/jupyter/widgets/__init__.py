"""Live ipywidgets of a running App: agents, tables, sensors, the dashboard.

Displaying an App, an agent or a table in a notebook shows its widget
(:func:`mimebundle`); everywhere else (terminal IPython, a plain script) the
same objects print as text.  :mod:`.refresh` keeps the widgets current at
a bounded rate; :mod:`.figures` is the HTML every figure is written in.
"""

from __future__ import annotations

from .agent_view import AgentView
from .dashboard import Dashboard
from .display import mimebundle, widget_for
from .refresh import refresher
from .sensor_panel import SensorPanel
from .table_view import TableView
from .text import text_of

__all__ = [
    "AgentView",
    "Dashboard",
    "SensorPanel",
    "TableView",
    "mimebundle",
    "refresher",
    "text_of",
    "widget_for",
]
